// `node bench/dependencies.ts [--repeats=3]`: what a suite's own dependencies
// cost a runner on the host, with test/fixtures/webserver-bin (http-server and
// @playwright/test and what they need), the runner's own install code, the npm
// mirror of hack/ on loopback, and the report store's dependency cache on a
// temporary folder. Prints one JSON object:
//   coldInstallSeconds    npm ci through a mirror that has nothing yet (it fetches from upstream), cache miss + store
//   warmInstallSeconds    npm ci through a mirror that has it all, npm's own cache empty (a fresh pod), miss + store
//   restoreSeconds        the next shard: the tree from the cache, no npm
//   racingShardsSeconds   two shards missing the same key at once: both install and both store (the second put wins)
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startNpmMirror, stopNpmMirror } from '../hack/lib/npm-mirror.ts';
import { repoRoot } from '../hack/lib/paths.ts';
import { cachePrefix } from '../src/reports/cache-paths.ts';
import { DEPENDENCY_CACHE_URL_ENV } from '../src/contracts/report-store.ts';
import { FilesystemStorage } from '../src/reports/filesystem.ts';
import { ReportMetrics } from '../src/reports/metrics.ts';
import { ReportServer } from '../src/reports/server.ts';
import { UploadsInFlight } from '../src/reports/uploads.ts';
import { installDependencies } from '../src/runner/install.ts';

const { values: flags } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
const repeats = Number(flags.repeats);
const uid = '5d1e0c3a-7b2f-4e8d-9c6a-1f2e3d4c5b6a';
const log = pino({ level: 'silent' });
const scratch = mkdtempSync(join(tmpdir(), 'fw-bench-dependencies-'));

/** A report store on an empty folder that takes the token `upload` for TestRun ci/bench. */
async function emptyStore(name: string) {
  const storage = new FilesystemStorage(join(scratch, name));
  await storage.init();
  const server = new ReportServer({
    state: {
      ready: true,
      run: (namespace, run) => (namespace === 'ci' && run === 'bench' ? { namespace, name: run, uid, shards: 2, phase: 'Running' } : undefined),
      tokenSecret: () => ({ namespace: 'ci', name: 'bench-report', ownerLabel: 'bench', ownerUids: [uid], token: 'upload' }),
      isTokenOfOtherRun: () => false,
      // No Tunnels: the session routes are not what this exercises.
      tunnel: () => undefined,
      sessionSecret: () => undefined,
      isTokenOfOtherTunnel: () => false,
      readerToken: () => undefined,
    },
    storage, metrics: new ReportMetrics(), uploads: new UploadsInFlight(), publicUrl: 'http://127.0.0.1', maxUploadBytes: 1 << 30, log,
  });
  await new Promise<void>((done) => server.server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/dependencies/ci/bench/`;
  const close = () => {
    server.server.close();
    server.server.closeAllConnections();
  };
  return { url, storage, close };
}

const tokenFile = join(scratch, 'token');
writeFileSync(tokenFile, 'upload');
let shards = 0;

/** One shard's install in a fresh work folder with an empty npm cache; resolves with its seconds. */
async function shard(source: string, cacheUrl: string): Promise<number> {
  const workRoot = join(scratch, `shard-${++shards}`);
  mkdirSync(workRoot);
  const env = { ...process.env, npm_config_cache: join(workRoot, 'npm-cache'), [DEPENDENCY_CACHE_URL_ENV]: cacheUrl };
  const started = performance.now();
  await installDependencies({ source, workRoot, appNodeModules: join(repoRoot, 'node_modules'), env, tokenFile, log });
  const seconds = (performance.now() - started) / 1000;
  rmSync(workRoot, { recursive: true, force: true });
  return Math.round(seconds * 100) / 100;
}

const mirrorDir = join(scratch, 'mirror');
try {
  const mirror = await startNpmMirror({ host: '127.0.0.1', dir: mirrorDir });
  const source = join(scratch, 'suite');
  cpSync(join(repoRoot, 'test/fixtures/webserver-bin'), source, { recursive: true });
  writeFileSync(join(source, '.npmrc'), `registry=${mirror}\n`);

  const cold = await emptyStore('store-cold');
  const coldInstallSeconds = await shard(source, cold.url);
  const entryBytes = (await cold.storage.list(cachePrefix('ci'))).reduce((n, o) => n + o.size, 0);
  const restoreSeconds: number[] = [];
  for (let i = 0; i < repeats; i++) restoreSeconds.push(await shard(source, cold.url));
  cold.close();

  const warmInstallSeconds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const store = await emptyStore(`store-warm-${i}`);
    warmInstallSeconds.push(await shard(source, store.url));
    store.close();
  }

  const race = await emptyStore('store-race');
  const racingShardsSeconds = await Promise.all([shard(source, race.url), shard(source, race.url)]);
  race.close();

  const lockfile = JSON.parse(readFileSync(join(source, 'package-lock.json'), 'utf8')) as { packages: object };
  console.log(JSON.stringify({
    suite: 'test/fixtures/webserver-bin',
    packages: Object.keys(lockfile.packages).length - 1,
    node: process.version,
    entryBytes,
    coldInstallSeconds,
    warmInstallSeconds,
    restoreSeconds,
    racingShardsSeconds,
  }, null, 2));
} finally {
  await stopNpmMirror({ dir: mirrorDir });
  rmSync(scratch, { recursive: true, force: true });
}
