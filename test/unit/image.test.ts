// The Dockerfile and hack/kind.sh, checked without building: CI has no Docker.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};

describe('the Dockerfile', () => {
  it('builds by default on Playwright\'s published image of the Playwright that package.json pins', () => {
    // Playwright refuses a client of another major.minor, and its image's browsers are built for one version.
    const base = /^ARG BASE_IMAGE=mcr\.microsoft\.com\/playwright:v(\d+\.\d+\.\d+)-noble$/m.exec(dockerfile);
    expect(base, 'ARG BASE_IMAGE=mcr.microsoft.com/playwright:v<version>-noble').not.toBeNull();
    const version = base?.[1];
    expect({
      'playwright-core': pkg.dependencies['playwright-core'],
      '@playwright/test': pkg.dependencies['@playwright/test'],
      'playwright-core (locked)': lock.packages['node_modules/playwright-core']?.version,
      '@playwright/test (locked)': lock.packages['node_modules/@playwright/test']?.version,
    }).toEqual({
      'playwright-core': version,
      '@playwright/test': version,
      'playwright-core (locked)': version,
      '@playwright/test (locked)': version,
    });
  });

  it('runs its final stage as a non-root user, by number (runAsNonRoot can check only a number)', () => {
    const stages = dockerfile.split(/^FROM /m);
    const final = stages[stages.length - 1] ?? '';
    expect(final).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    expect(final).not.toMatch(/^USER (root|0)\b/m);
  });

  it('has npm refuse a base whose Node is not the one package.json asks for', () => {
    expect(dockerfile).toMatch(/npm ci [^\n]*--engine-strict/);
  });
});

describe('hack/kind.sh', () => {
  it('is valid bash with strict mode', () => {
    const script = join(repoRoot, 'hack', 'kind.sh');
    const result = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(script, 'utf8')).toContain('set -euo pipefail');
  });
});
