// Packing a local Playwright project into ConfigMap data, and the runner
// reading it back: the round trip a `fleetwright run` makes through the API.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIGMAP_MAX_BYTES, keyFor, packFolder, PackError } from '../../../src/cli/pack.ts';
import { LAYOUT_KEY } from '../../../src/contracts/suite-layout.ts';
import { prepareSuite } from '../../../src/runner/workdir.ts';

const root = resolve(import.meta.dirname, '../../..');
let tmp: string;

function project(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(tmp, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** What the kubelet makes of the ConfigMap: one file per key. */
function volumeOf(packed: ReturnType<typeof packFolder>, name: string): string {
  const dir = join(tmp, `${name}-volume`);
  mkdirSync(dir);
  for (const [key, text] of Object.entries(packed.data)) writeFileSync(join(dir, key), text);
  for (const [key, base64] of Object.entries(packed.binaryData)) writeFileSync(join(dir, key), Buffer.from(base64, 'base64'));
  return dir;
}

function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory()
    ? tree(join(dir, e.name), `${prefix}${e.name}/`)
    : [`${prefix}${e.name}`]).sort();
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-pack-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('packing a Playwright project', () => {
  it('keeps a flat project\'s file names as keys, as kubectl create configmap --from-file does', () => {
    const packed = packFolder(join(root, 'test/fixtures/suite'));
    expect(Object.keys(packed.data).sort()).toEqual(['a.spec.ts', 'b.spec.ts', 'c.spec.ts', 'playwright.config.ts', 'server.mjs']);
    expect(packed.data['a.spec.ts']).toBe(readFileSync(join(root, 'test/fixtures/suite/a.spec.ts'), 'utf8'));
    expect(packed.binaryData).toEqual({});
  });

  it('packs folders under flat keys with a layout, and the runner puts every file back in place', () => {
    const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0xfe]);
    const dir = project('nested', {
      'playwright.config.ts': 'export default {};\n',
      'tests/login.spec.ts': '// login\n',
      'tests/cart/add item.spec.ts': '// spaces in a name\n',
      'tests/login.spec.ts-snapshots/page.png': image,
      'fleetwright-layout.json': '{"mine": true}\n',
      'node_modules/left-pad/index.js': '',
      '.env': 'SECRET=1\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'test-results/old.txt': '',
      'playwright-report/index.html': '',
    });

    const packed = packFolder(dir);

    expect(packed.files.map((f) => f.path).sort()).toEqual([
      'fleetwright-layout.json', 'playwright.config.ts', 'tests/cart/add item.spec.ts', 'tests/login.spec.ts',
      'tests/login.spec.ts-snapshots/page.png',
    ]);
    expect(Object.keys(packed.binaryData)).toHaveLength(1);
    const suite = prepareSuite(volumeOf(packed, 'nested'), join(tmp, 'work'), { root, nodeModules: join(root, 'node_modules') });
    expect(tree(suite).filter((p) => !p.startsWith('node_modules/'))).toEqual([
      'fleetwright-layout.json', 'playwright.config.ts', 'tests/cart/add item.spec.ts', 'tests/login.spec.ts',
      'tests/login.spec.ts-snapshots/page.png',
    ]);
    expect(readFileSync(join(suite, 'tests/login.spec.ts-snapshots/page.png'))).toEqual(image);
    // The project's own file of that name survives the layout's.
    expect(readFileSync(join(suite, LAYOUT_KEY), 'utf8')).toBe('{"mine": true}\n');
  });

  it('makes every path a valid, unique ConfigMap key', () => {
    const taken = new Set<string>();
    expect(keyFor('a/b.spec.ts', taken)).toBe('a__b.spec.ts');
    expect(keyFor('a/b.spec.ts', taken)).toBe('a__b.spec.ts-2');
    expect(keyFor('é/ü ß.ts', taken)).toBe('______.ts');
    expect(keyFor('.hidden/x', taken)).toMatch(/^[-._a-zA-Z0-9]+$/);
    expect(keyFor('.hidden/x', taken).startsWith('.')).toBe(false);
  });

  it('refuses a folder without tests, and says which folder to pass', () => {
    const dir = project('empty', { 'README.md': '# notes\n', 'node_modules/x/a.spec.ts': '' });
    expect(() => packFolder(dir)).toThrow(PackError);
    expect(() => packFolder(dir)).toThrow(/holds no Playwright tests: no \*\.spec\.ts or \*\.test\.ts file .*and no playwright\.config; pass the folder of your Playwright project/);
    expect(() => packFolder(join(tmp, 'nowhere'))).toThrow(/no such folder/);
    expect(() => packFolder(join(dir, 'README.md'))).toThrow(/is a file/);
  });

  it('trusts a config that names its own testMatch', () => {
    const dir = project('own-match', {
      'playwright.config.ts': 'export default { testMatch: \'**/*.e2e.ts\' };\n',
      'login.e2e.ts': '',
    });
    expect(packFolder(dir).files).toHaveLength(2);
  });

  it('refuses a folder over 1 MiB before sending anything, naming the largest files and what to do instead', () => {
    const dir = project('large', {
      'a.spec.ts': '',
      'fixtures/video.bin': Buffer.alloc(700 * 1024, 1),
      'fixtures/data.json': 'x'.repeat(400 * 1024),
    });
    let error: Error | undefined;
    try {
      packFolder(dir);
    } catch (err) {
      error = err as Error;
    }
    expect(error).toBeInstanceOf(PackError);
    expect(error?.message).toMatch(/is 1\.07 MiB in 3 files, more than the 1\.00 MiB a ConfigMap holds/);
    expect(error?.message).toContain('largest: fixtures/video.bin (700.0 KiB), fixtures/data.json (400.0 KiB)');
    expect(error?.message).toContain('spec.source.image and spec.runner.image');
  });

  it('accepts a folder just under the limit', () => {
    const dir = project('just-under', { 'a.spec.ts': 'x'.repeat(CONFIGMAP_MAX_BYTES - 10) });
    expect(packFolder(dir).bytes).toBe(CONFIGMAP_MAX_BYTES - 10);
  });
});

describe('a suite with its own dependencies', () => {
  const manifest = JSON.stringify({ devDependencies: { '@playwright/test': '1.65.1', 'http-server': '14.1.1' } });

  it('sends package.json, the lockfile and an .npmrc of registry settings, and no other hidden file', () => {
    const dir = project('with-deps', {
      'a.spec.ts': 'test',
      'package.json': manifest,
      'package-lock.json': '{"lockfileVersion":3}',
      '.npmrc': 'registry=https://npm.example/\n',
      '.env': 'SECRET=1',
      'sub/.npmrc': 'registry=https://other.example/\n',
    });
    expect(packFolder(dir).files.map((f) => f.path).sort()).toEqual(['.npmrc', 'a.spec.ts', 'package-lock.json', 'package.json']);
  });

  it('refuses an .npmrc with a token, saying to use a Secret instead', () => {
    const dir = project('npmrc-token', {
      'a.spec.ts': 'test',
      '.npmrc': 'registry=https://npm.example/\n//npm.example/:_authToken=npm_abc\n',
    });
    expect(() => packFolder(dir)).toThrow(PackError);
    expect(() => packFolder(dir)).toThrow(/holds a registry credential \(\/\/npm.example\/:_authToken\).*--npmrc-secret/);
    expect(() => packFolder(dir)).not.toThrow(/npm_abc/);
  });

  it('refuses dependencies without a lockfile, saying to commit one', () => {
    const dir = project('no-lockfile', { 'a.spec.ts': 'test', 'package.json': manifest });
    expect(() => packFolder(dir)).toThrow(/asks for http-server but the folder has no lockfile: commit one \(`npm install` writes package-lock.json\)/);
  });

  it('needs no lockfile when package.json asks only for what fleetwright provides', () => {
    const dir = project('provided-only', {
      'a.spec.ts': 'test',
      'package.json': JSON.stringify({ devDependencies: { '@playwright/test': '^1.65.0', '@types/node': '^24' } }),
    });
    expect(packFolder(dir).files.map((f) => f.path)).toContain('package.json');
  });
});
