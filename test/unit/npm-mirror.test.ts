// The npm mirror of hack/ on loopback, with a real `npm ci` of
// test/fixtures/webserver-bin through it, by the runner's own install, and the
// report store's dependency cache (a real server on a temporary folder) taking
// the installed tree after the first install and giving it back to the next.
// Reaches the registry this machine's npm uses, through the mirror, once.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNpmMirror, stopNpmMirror } from '../../hack/lib/npm-mirror.ts';
import { DEPENDENCY_CACHE_URL_ENV } from '../../src/contracts/report-store.ts';
import { FilesystemStorage } from '../../src/reports/filesystem.ts';
import { ReportMetrics } from '../../src/reports/metrics.ts';
import { ReportServer } from '../../src/reports/server.ts';
import { UploadsInFlight } from '../../src/reports/uploads.ts';
import { installDependencies } from '../../src/runner/install.ts';

const root = resolve(import.meta.dirname, '../..');
const uid = '5d1e0c3a-7b2f-4e8d-9c6a-1f2e3d4c5b6a';
const log = pino({ level: 'silent' });

let scratch: string;
let mirrorDir: string;
let mirror: string;
let store: ReportServer;
let metrics: ReportMetrics;
let cacheUrl: string;
let source: string;
let tokenFile: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'fw-npm-mirror-'));
  mirrorDir = join(scratch, 'mirror');
  mirror = await startNpmMirror({ host: '127.0.0.1', dir: mirrorDir });

  const storage = new FilesystemStorage(join(scratch, 'store'));
  await storage.init();
  metrics = new ReportMetrics();
  store = new ReportServer({
    state: {
      ready: true,
      run: (namespace, name) => (namespace === 'ci' && name === 'checkout'
        ? { namespace, name, uid, shards: 2, phase: 'Running' }
        : undefined),
      tokenSecret: () => ({ namespace: 'ci', name: 'checkout-report', ownerLabel: 'checkout', ownerUids: [uid], token: 'upload' }),
      isTokenOfOtherRun: () => false,
      // No Tunnels: the session routes are not what this exercises.
      tunnel: () => undefined,
      sessionSecret: () => undefined,
      isTokenOfOtherTunnel: () => false,
      readerToken: () => undefined,
    },
    storage, metrics, uploads: new UploadsInFlight(), publicUrl: 'http://127.0.0.1', maxUploadBytes: 256 * 1024 * 1024, log,
  });
  await new Promise<void>((done) => store.server.listen(0, '127.0.0.1', done));
  cacheUrl = `http://127.0.0.1:${(store.server.address() as AddressInfo).port}/dependencies/ci/checkout/`;

  source = join(scratch, 'suite');
  cpSync(join(root, 'test/fixtures/webserver-bin'), source, { recursive: true });
  // The lockfile's resolved URLs name registry.npmjs.org; npm maps them onto the configured registry
  // (replace-registry-host's default, npmjs).
  writeFileSync(join(source, '.npmrc'), `registry=${mirror}\n`);
  tokenFile = join(scratch, 'token');
  writeFileSync(tokenFile, 'upload');
}, 180_000);

afterAll(async () => {
  store?.server.close();
  store?.server.closeAllConnections();
  await stopNpmMirror({ dir: mirrorDir });
  rmSync(scratch, { recursive: true, force: true });
});

const shard = (name: string) => {
  const workRoot = join(scratch, name);
  mkdirSync(workRoot);
  // npm's own cache empty, as in a fresh runner pod: every tarball comes through the mirror.
  const env = { ...process.env, npm_config_cache: join(workRoot, 'npm-cache'), [DEPENDENCY_CACHE_URL_ENV]: cacheUrl };
  return { workRoot, env, ctx: { source, workRoot, appNodeModules: join(root, 'node_modules'), env, tokenFile, log } };
};

const counted = async (result: string) =>
  (await metrics.dependencyCacheRequests.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

describe('a suite with its own dependencies, through the npm mirror', () => {
  it('installs from the lockfile through the mirror on a miss, and stores the tree in the cache', async () => {
    const { ctx } = shard('first');
    const nodeModules = await installDependencies(ctx);
    expect(nodeModules).toBeDefined();
    const bin = join(nodeModules ?? '', '.bin/http-server');
    expect(execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim()).toBe('v14.1.1');
    expect(readlinkSync(join(nodeModules ?? '', '@playwright/test'))).toBe(join(root, 'node_modules/@playwright/test'));
    // What npm fetched, the mirror fetched from upstream and kept.
    expect(readdirSync(join(mirrorDir, 'storage'))).toEqual(expect.arrayContaining(['http-server', 'http-proxy']));
    expect(existsSync(join(mirrorDir, 'storage/http-server/http-server-14.1.1.tgz'))).toBe(true);
    expect(await counted('miss')).toBe(1);
    expect(await counted('stored')).toBe(1);
  }, 180_000);

  it('restores the same tree from the cache in the next shard, with Playwright linked to fleetwright\'s', async () => {
    const { ctx } = shard('second');
    const nodeModules = await installDependencies({ ...ctx, env: { ...ctx.env, PATH: '' } });
    expect(await counted('hit')).toBe(1);
    // Modes and links come back as they were: the bin runs as the webServer's `npm run start` would run it.
    expect(lstatSync(join(nodeModules ?? '', '.bin/http-server')).isSymbolicLink()).toBe(true);
    expect(execFileSync(join(nodeModules ?? '', '.bin/http-server'), ['-v'], { encoding: 'utf8' }).trim()).toBe('v14.1.1');
    expect(readlinkSync(join(nodeModules ?? '', '@playwright/test'))).toBe(join(root, 'node_modules/@playwright/test'));
    // The suite's copy of Playwright never went into the cache.
    expect(existsSync(join(nodeModules ?? '', 'playwright-core/package.json'))).toBe(true);
    expect(lstatSync(join(nodeModules ?? '', 'playwright-core')).isSymbolicLink()).toBe(true);
  }, 60_000);
});
