import { describe, expect, it } from 'vitest';
import { dependencyCacheKey } from '../../../src/runner/cache-key.ts';
import { lockfileOf, ownDependencies, PackageJsonError, planDependencies, type SuiteFiles } from '../../../src/suite/dependencies.ts';
import { installFailureCause, lastLines } from '../../../src/runner/install-failure.ts';
import { credentialKeys, credentialValues, maskSecrets, registriesOf } from '../../../src/suite/npmrc.ts';

const manifest = (deps: Record<string, string>, dev: Record<string, string> = {}) =>
  JSON.stringify({ name: 'suite', dependencies: deps, devDependencies: dev });

const suite = (over: Partial<SuiteFiles>): SuiteFiles => ({
  packageJson: manifest({}, { '@playwright/test': '^1.65.0', 'http-server': '^14.1.1' }),
  names: new Set(['package.json', 'package-lock.json', 'a.spec.ts']),
  hasNodeModules: false,
  corepack: false,
  ...over,
});

describe('planDependencies', () => {
  it('installs with npm ci from package-lock.json, keeping lifecycle scripts', () => {
    expect(planDependencies(suite({}))).toEqual({
      kind: 'install',
      installer: 'npm',
      lockfile: 'package-lock.json',
      command: ['npm', 'ci', '--no-audit', '--no-fund'],
    });
  });

  it('takes npm-shrinkwrap.json like package-lock.json', () => {
    const plan = planDependencies(suite({ names: new Set(['package.json', 'npm-shrinkwrap.json']) }));
    expect(plan).toMatchObject({ kind: 'install', installer: 'npm', lockfile: 'npm-shrinkwrap.json' });
  });

  it('installs nothing without a package.json, or with the suite\'s own node_modules', () => {
    expect(planDependencies(suite({ packageJson: undefined }))).toMatchObject({ kind: 'none' });
    expect(planDependencies(suite({ hasNodeModules: true }))).toMatchObject({ kind: 'none' });
  });

  it('installs nothing, and needs no lockfile, when package.json asks only for what fleetwright provides', () => {
    const only = manifest({ playwright: '1.65.1' }, { '@playwright/test': '^1.65.0', '@types/node': '^24' });
    expect(planDependencies(suite({ packageJson: only, names: new Set(['package.json']) })))
      .toMatchObject({ kind: 'none', why: expect.stringContaining('fleetwright provides') });
  });

  it('refuses a suite with dependencies and no lockfile, saying to commit one', () => {
    const plan = planDependencies(suite({ names: new Set(['package.json']) }));
    expect(plan.kind).toBe('refused');
    expect(plan.kind === 'refused' && plan.message).toMatch(/asks for http-server but the suite has no lockfile: commit one \(`npm install` writes package-lock.json\)/);
  });

  it('uses pnpm and yarn through corepack when the image has it', () => {
    const pnpm = planDependencies(suite({ names: new Set(['package.json', 'pnpm-lock.yaml']), corepack: true }));
    expect(pnpm).toMatchObject({ installer: 'pnpm', command: ['corepack', 'pnpm', 'install', '--frozen-lockfile'] });
    const yarn1 = planDependencies(suite({ names: new Set(['package.json', 'yarn.lock']), corepack: true, yarnLock: '# yarn lockfile v1\n' }));
    expect(yarn1).toMatchObject({ installer: 'yarn', command: ['corepack', 'yarn', 'install', '--frozen-lockfile', '--non-interactive'] });
    const berry = planDependencies(suite({ names: new Set(['package.json', 'yarn.lock']), corepack: true, yarnLock: '__metadata:\n  version: 8\n' }));
    expect(berry).toMatchObject({ command: ['corepack', 'yarn', 'install', '--immutable'] });
  });

  it('refuses pnpm and yarn lockfiles without corepack, naming the lockfile it does support', () => {
    const plan = planDependencies(suite({ names: new Set(['package.json', 'pnpm-lock.yaml']) }));
    expect(plan.kind === 'refused' && plan.message).toMatch(/pnpm-lock.yaml needs pnpm through corepack, which the runner image lacks: commit a package-lock.json/);
  });

  it('prefers package-lock.json when a suite holds several lockfiles', () => {
    expect(lockfileOf(new Set(['yarn.lock', 'package-lock.json']))?.name).toBe('package-lock.json');
  });

  it('says which package.json is broken', () => {
    expect(() => ownDependencies('{')).toThrow(PackageJsonError);
    expect(() => ownDependencies('{')).toThrow(/the suite's package.json is not JSON/);
  });
});

describe('dependencyCacheKey', () => {
  const base = {
    installer: 'npm' as const,
    lockfile: Buffer.from('{"lockfileVersion":3}'),
    npmrcs: ['registry=https://registry.example/\n//registry.example/:_authToken=abc123\n'],
    nodeVersion: 'v24.21.0',
    platform: 'linux',
    arch: 'x64',
  };

  it('names installer, Node major, platform and arch, then a sha256', () => {
    expect(dependencyCacheKey(base)).toMatch(/^npm-node24-linux-x64-[0-9a-f]{64}$/);
  });

  it('is the same for another token or Node minor, and differs for another lockfile, registry, major or arch', () => {
    const key = dependencyCacheKey(base);
    expect(dependencyCacheKey({ ...base, npmrcs: ['registry=https://registry.example/\n//registry.example/:_authToken=other\n'] })).toBe(key);
    expect(dependencyCacheKey({ ...base, nodeVersion: 'v24.1.0' })).toBe(key);
    expect(dependencyCacheKey({ ...base, lockfile: Buffer.from('{"lockfileVersion":2}') })).not.toBe(key);
    expect(dependencyCacheKey({ ...base, npmrcs: ['registry=https://mirror.example/'] })).not.toBe(key);
    expect(dependencyCacheKey({ ...base, envRegistry: 'https://mirror.example/' })).not.toBe(key);
    expect(dependencyCacheKey({ ...base, nodeVersion: 'v25.0.0' })).not.toBe(key);
    expect(dependencyCacheKey({ ...base, arch: 'arm64' })).not.toBe(key);
  });
});

describe('.npmrc', () => {
  const npmrc = [
    '# team registry',
    'registry=https://npm.example/',
    '@acme:registry = "https://npm.acme.example/"',
    '//npm.example/:_authToken=npm_SECRETSECRET',
    '//npm.acme.example/:_password=cGFzcw==',
    'fund=false',
  ].join('\n');

  it('yields registries only', () => {
    expect(registriesOf(npmrc)).toEqual(['@acme:registry=https://npm.acme.example/', 'registry=https://npm.example/']);
  });

  it('finds credential keys', () => {
    expect(credentialKeys(npmrc)).toEqual(['//npm.example/:_authToken', '//npm.acme.example/:_password']);
    expect(credentialKeys('registry=https://npm.example/\n')).toEqual([]);
  });

  it('knows the credential values to mask, a ${VAR} one from the environment', () => {
    expect(credentialValues(npmrc)).toEqual(['npm_SECRETSECRET', 'cGFzcw==']);
    expect(credentialValues('//npm.example/:_authToken=${NPM_TOKEN}\n', { NPM_TOKEN: 'npm_FROMENV' })).toEqual(['npm_FROMENV']);
    expect(credentialValues('//npm.example/:_authToken=${NPM_TOKEN}\n', {})).toEqual([]);
  });

  it('masks tokens, URL passwords and bearer tokens', () => {
    const text = 'GET https://u:hunter2@npm.example/x npm_SECRETSECRET Authorization: Bearer abc.def _authToken=zzz';
    expect(maskSecrets(text, ['npm_SECRETSECRET'])).toBe('GET https://***@npm.example/x *** Authorization: Bearer *** _authToken=***');
  });
});

describe('installFailureCause', () => {
  const npm = ['npm', 'ci', '--no-audit', '--no-fund'];

  it('leads with what the suite\'s author can fix', () => {
    expect(installFailureCause('npm error `npm ci` can only install packages when your package.json and package-lock.json or ' +
      'npm-shrinkwrap.json are in sync.', npm, 1)).toMatch(/^lockfile out of date with package.json/);
    expect(installFailureCause('npm error code E404\nnpm error 404 Not Found - GET https://r/nope', npm, 1))
      .toMatch(/^a package of the lockfile is not in the registry/);
    expect(installFailureCause('npm error code E401', npm, 1)).toMatch(/^the registry refused the credentials/);
    expect(installFailureCause('npm error code ETIMEDOUT', npm, 1)).toMatch(/^the registry is unreachable/);
    expect(installFailureCause('npm error code ENOTFOUND', npm, 1)).toMatch(/^the registry is unreachable/);
    expect(installFailureCause(' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install', ['corepack', 'pnpm'], 1)).toMatch(/^lockfile out of date/);
    expect(installFailureCause('something else', npm, 2)).toBe('`npm ci --no-audit --no-fund` exited with code 2');
  });

  it('quotes the last lines without stack frames', () => {
    expect(lastLines('a\n\nnpm error     at x (y.js:1:1)\nb\nc\n', 2)).toBe('b\nc');
  });
});
