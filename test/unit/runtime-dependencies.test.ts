// The image installs the product with `npm ci --omit=dev` (Dockerfile): a
// package that src/ loads must be a dependency, and one that only hack/ and
// test/ use (the generators' `yaml`) must not weigh on every install.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The packages a source file loads when it runs: `import type` is erased, `import { type X }` is not. */
function runtimeImports(source: string): string[] {
  const statements = [
    ...source.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;]*?\bfrom\s+'([^']+)'/gm),
    ...source.matchAll(/^\s*import\s+()'([^']+)'/gm),
    ...source.matchAll(/\bimport\(\s*()'([^']+)'\s*\)/g),
  ];
  return statements.filter(([, type]) => !type).map(([, , specifier]) => specifier as string);
}

const packageOf = (specifier: string) =>
  specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier);

function importsUnder(dir: string): { file: string; pkg: string }[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => runtimeImports(readFileSync(join(repoRoot, dir, f), 'utf8'))
      .filter((s) => !s.startsWith('.') && !isBuiltin(s))
      .map((s) => ({ file: join(dir, f), pkg: packageOf(s) })));
}

describe('the product\'s dependencies', () => {
  it('are what src/ loads at run time: every package it imports is a dependency', () => {
    const imports = importsUnder('src');
    expect(imports.length).toBeGreaterThan(20);
    expect(imports.filter((i) => !(i.pkg in pkg.dependencies))).toEqual([]);
  });

  it('leave the generators\' yaml to the devDependencies, at its exact version', () => {
    expect(pkg.dependencies).not.toHaveProperty('yaml');
    expect(pkg.devDependencies.yaml).toMatch(/^\d+\.\d+\.\d+$/);
    expect(importsUnder('hack').some((i) => i.pkg === 'yaml')).toBe(true);
  });
});
