// The Playwright versions a browser pod serves are declared once
// (src/agent/versions.ts); package.json and its lockfile must carry exactly
// those, as the image installs them with `npm ci --omit=dev`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { installedPlaywrights, PLAYWRIGHT_PACKAGES, servedPlaywrights } from '../../../src/agent/versions.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { name?: string; version: string; dev?: boolean }>;
};

const ofPlaywrightCore = (deps: Record<string, string>) => Object.keys(deps).filter((n) => /^playwright-core(-|$)/.test(n));
/** The exact version a dependency pins: `1.65.1`, or `1.64.1` of `npm:playwright-core@1.64.1`. */
const pinnedVersion = (name: string) => {
  const spec = pkg.dependencies[name] ?? '';
  return name === 'playwright-core' ? spec : /^npm:playwright-core@(.+)$/.exec(spec)?.[1] ?? `not an alias: ${spec}`;
};
const minorOf = (version: string) => {
  const [major, minor] = version.split('.').map(Number);
  return { major: major ?? NaN, minor: minor ?? NaN };
};

describe('the Playwright versions the image carries', () => {
  it('are the packages src/agent/versions.ts declares, all dependencies, none a devDependency', () => {
    expect(ofPlaywrightCore(pkg.dependencies).sort()).toEqual([...PLAYWRIGHT_PACKAGES].sort());
    expect(ofPlaywrightCore(pkg.devDependencies ?? {})).toEqual([]);
    expect(PLAYWRIGHT_PACKAGES[0]).toBe('playwright-core');
  });

  it('are pinned exactly, each alias named by the major.minor of the playwright-core it pins', () => {
    for (const name of PLAYWRIGHT_PACKAGES) {
      const version = pinnedVersion(name);
      expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
      if (name !== 'playwright-core') expect(name).toBe(`playwright-core-${version.split('.').slice(0, 2).join('-')}`);
    }
  });

  it('are the pinned minor, a pre-release of the next one and releases of the two before it', () => {
    const [pinned, ...others] = PLAYWRIGHT_PACKAGES.map(pinnedVersion);
    const { major, minor } = minorOf(pinned ?? '');
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const next = others.find((v) => minorOf(v).minor === minor + 1);
    expect(next, `a pre-release of ${major}.${minor + 1}`).toMatch(new RegExp(`^${major}\\.${minor + 1}\\.0-`));
    for (const back of [1, 2]) {
      const older = others.find((v) => minorOf(v).minor === minor - back);
      expect(older, `a release of ${major}.${minor - back}`).toMatch(new RegExp(`^${major}\\.${minor - back}\\.\\d+$`));
    }
    expect(others.every((v) => minorOf(v).major === major)).toBe(true);
    expect(others).toHaveLength(3);
  });

  it('are locked and installed at the versions package.json pins, the default first', () => {
    for (const name of PLAYWRIGHT_PACKAGES) {
      const locked = lock.packages[`node_modules/${name}`];
      expect({ name, version: locked?.version, dev: locked?.dev })
        .toEqual({ name, version: pinnedVersion(name), dev: undefined });
    }
    expect(installedPlaywrights().map((p) => [p.name, p.version]))
      .toEqual(PLAYWRIGHT_PACKAGES.map((name) => [name, pinnedVersion(name)]));
  });
});

describe('the versions an agent serves', () => {
  it('are one per major.minor, the first package keeping its own (an image with another playwright-core in place)', () => {
    expect(installedPlaywrights(['playwright-core-1-64', 'playwright-core', 'playwright-core-1-64']).map((p) => p.version))
      .toEqual([pinnedVersion('playwright-core-1-64'), pinnedVersion('playwright-core')]);
  });

  it('name the package an image lacks', () => {
    expect(() => installedPlaywrights(['playwright-core', 'playwright-core-0-1']))
      .toThrow('playwright-core-0-1 is not installed: the image lacks a Playwright version this agent serves');
  });

  it('are all of them for Chromium, and only the default for Firefox and WebKit, whose builds are per version', () => {
    const installed = installedPlaywrights();
    expect(servedPlaywrights(installed, 'chromium')).toEqual(installed);
    expect(servedPlaywrights(installed, 'firefox')).toEqual(installed.slice(0, 1));
    expect(servedPlaywrights(installed, 'webkit')).toEqual(installed.slice(0, 1));
  });
});
