// What a suite's own dependencies cost a shard's start on the real node, for
// test/fixtures/webserver-bin (http-server and @playwright/test from its
// lockfile; its webServer runs `npm run start`):
//
//   npm run bench:suite-start [-- --repeats=3]
//
//   baked:  the suite and its node_modules in an image (spec.source.image);
//   cold:   a ConfigMap of the suite, installed by `npm ci` in the runner pod
//           through the npm mirror on the bridge address, the store's cache empty;
//   cached: the same, restored from the report store's dependency cache.
//
// A shard's start is the runner container's run time less the time Playwright
// reports for the tests: copying the suite, the install or restore, listing
// its projects, Playwright's own start and the report upload; the install or
// restore alone is what the runner logs of it. One browser, one shard at a
// time. Prints one JSON object; a benchmark, not a test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { kubectl } from '../hack/lib/crds.ts';
import { ensureSuiteImage } from '../hack/lib/images.ts';
import { NODE_IP } from '../hack/lib/node.ts';
import { startNpmMirror, stopNpmMirror } from '../hack/lib/npm-mirror.ts';
import { kubeconfigPath, repoRoot } from '../hack/lib/paths.ts';
import { POD } from '../src/api/builtin.ts';
import type { KubeObject } from '../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN } from '../src/api/resources.ts';
import { packFolder } from '../src/cli/pack.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, removeNamespace, rest, startController, startReportStore } from './cluster.ts';

const { values: flags } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
const repeats = Number(flags.repeats);
const suite = join(repoRoot, 'test', 'fixtures', 'webserver-bin');

type Run = KubeObject & { status?: { phase?: string; summary?: { durationSeconds?: number; passed?: number } } };
type Terminated = { startedAt: string; finishedAt: string };
type Pod = KubeObject & { status?: { containerStatuses?: { state?: { terminated?: Terminated } }[] } };

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** What the runner logged of its install or restore, in seconds; undefined when it did neither. */
function dependencySeconds(namespace: string, pod: string): number | undefined {
  const log = kubectl(kubeconfigPath, 'logs', '-n', namespace, pod, '-c', 'runner');
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; seconds?: number };
    if (entry.msg === 'dependencies restored from cache' || entry.msg === 'dependencies installed') return entry.seconds;
  }
  return undefined;
}

/** Runs one one-shard TestRun of `source`; returns its shard's start and its install or restore, in seconds. */
async function shardStart(namespace: string, name: string, spec: Record<string, unknown>) {
  await rest().create(collectionPath(TEST_RUN, namespace), {
    apiVersion: TEST_RUN.apiVersion, kind: TEST_RUN.kind, metadata: { name }, spec: { poolRef: { name: 'bench' }, ...spec },
  });
  const run = await until(`TestRun ${name}`, async () => {
    const r = await rest().get<Run>(objectPath(TEST_RUN, { namespace, name }));
    return ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '') && r;
  });
  if (run.status?.phase !== 'Succeeded') throw new Error(`TestRun ${name} ended ${run.status?.phase}: ${JSON.stringify(run.status)}`);
  const pod = await rest().get<Pod>(objectPath(POD, { namespace, name: `${name}-1-1` }));
  const ran = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (!ran) throw new Error(`runner pod ${name}-1-1 has not terminated`);
  const ranSeconds = (Date.parse(ran.finishedAt) - Date.parse(ran.startedAt)) / 1000;
  const seconds = ranSeconds - (run.status?.summary?.durationSeconds ?? 0);
  return { start: Math.round(seconds * 10) / 10, dependencies: dependencySeconds(namespace, `${name}-1-1`) };
}

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  const storeDir = mkdtempSync(join(tmpdir(), 'fleetwright-bench-store-'));
  const { store, storeUrl } = await startReportStore(namespace, storeDir);
  const controller = startController(namespace, image, [`--report-store-url=${storeUrl}`]);
  try {
    const mirror = await startNpmMirror({ host: NODE_IP });
    const baked = ensureSuiteImage('webserver-bin', suite, image, () => undefined);
    const { data, binaryData } = packFolder(suite);
    await rest().create(`/api/v1/namespaces/${namespace}/configmaps`, { metadata: { name: 'suite' }, data, binaryData });
    await rest().create(`/api/v1/namespaces/${namespace}/secrets`, {
      metadata: { name: 'mirror' }, stringData: { '.npmrc': `registry=${mirror}\n` },
    });
    await rest().create(collectionPath(BROWSER_POOL, namespace), {
      apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind, metadata: { name: 'bench' }, spec: { replicas: 1 },
    });
    const fromConfigMap = { source: { configMap: { name: 'suite' } }, dependencies: { npmrcSecretRef: { name: 'mirror' } } };
    type Start = Awaited<ReturnType<typeof shardStart>>;
    const runs: Record<'baked' | 'cold' | 'cached', Start[]> = { baked: [], cold: [], cached: [] };
    for (let i = 0; i < repeats; i++) {
      runs.baked.push(await shardStart(namespace, `baked-${i}`, { source: { image: {} }, runner: { image: baked } }));
      // An empty cache: the filesystem store keeps every namespace's entries under _dependencies/.
      rmSync(join(storeDir, '_dependencies'), { recursive: true, force: true });
      runs.cold.push(await shardStart(namespace, `cold-${i}`, fromConfigMap));
      runs.cached.push(await shardStart(namespace, `cached-${i}`, fromConfigMap));
    }
    const result = {
      bakedSeconds: runs.baked.map((r) => r.start),
      coldSeconds: runs.cold.map((r) => r.start),
      cachedSeconds: runs.cached.map((r) => r.start),
      installSeconds: runs.cold.map((r) => r.dependencies),
      restoreSeconds: runs.cached.map((r) => r.dependencies),
    };
    console.log(JSON.stringify({ suite: 'test/fixtures/webserver-bin', repeats, ...result }, null, 2));
  } finally {
    await removeNamespace(namespace, controller);
    store.kill('SIGTERM');
    await stopNpmMirror();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

await main();
