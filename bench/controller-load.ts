// The controller under load: BrowserPools whose browser pods it creates, and TestRuns queued on them.
//
//   npm run bench:load [-- --testruns=5000 --pools=10 --replicas=100 --namespaces=5 --idle=30]
//
// Against the API server of hack/ (started when not running; with --api-only there is no node, so the
// browser pods stay Pending and the TestRuns stay queued waiting for browsers: nothing fakes a kubelet).
// The real `fleetwright controller` runs as its own process; measured:
//   converge: from the first create until every pool reports its replicas and every TestRun has a status
//             for its generation, then until its queues are empty (settled); the controller's peak RSS (VmHWM);
//   restart:  a fresh controller process on the same objects: time until its queues are empty with every
//             object reconciled, and its API requests (its own rest_client_requests_total) per reconcile;
//   idle:     the controller's requests and the API server's writes over --idle seconds after that (a hot
//             loop shows here: an idle system makes no writes).
// Prints one JSON object. A benchmark, not a test: nothing here asserts a time.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { up } from '../hack/controlplane.ts';
import { installCrds } from '../hack/lib/crds.ts';
import { kubeconfigPath, repoRoot } from '../hack/lib/paths.ts';
import { ensureTool } from '../hack/lib/tools.ts';
import type { KubeObject } from '../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN } from '../src/api/resources.ts';
import { collectionPath } from '../src/runtime/resource.ts';
import { rest } from './cluster.ts';

const { values: flags } = parseArgs({
  options: {
    'testruns': { type: 'string', default: '5000' },
    'pools': { type: 'string', default: '10' },
    'replicas': { type: 'string', default: '100' },
    'namespaces': { type: 'string', default: '5' },
    'idle': { type: 'string', default: '30' },
    // A folder: the controller writes a V8 heap snapshot there once converged and once restarted and settled.
    'heap-snapshot': { type: 'string' },
  },
});
const sizes = {
  testRuns: Number(flags.testruns), pools: Number(flags.pools), replicas: Number(flags.replicas),
  namespaces: Number(flags.namespaces),
};
const idleSeconds = Number(flags.idle);
const snapshotDir = flags['heap-snapshot'] === undefined ? undefined : resolve(flags['heap-snapshot']);
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'CREATE', 'UPDATE', 'APPLY', 'DELETECOLLECTION']);

type Obj = KubeObject & { spec?: { replicas?: number }; status?: { observedGeneration?: number; replicas?: number } };
type Samples = { name: string; labels: Record<string, string>; value: number }[];

/** Prometheus text format: one sample a line. */
export function parseMetrics(text: string): Samples {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((line) => {
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)/.exec(line);
    const labels = Object.fromEntries([...(m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    return { name: m?.[1] ?? '', labels, value: Number(m?.[3]) };
  });
}

const sum = (s: Samples, name: string, where: (l: Record<string, string>) => boolean = () => true) =>
  s.filter((x) => x.name === name && where(x.labels)).reduce((a, x) => a + x.value, 0);

/** The API server's own counts, with leases left out: the API server renews its identity leases itself. */
function apiServerRequests() {
  // Several MiB: more than spawnSync's default buffer.
  const { stdout } = spawnSync(ensureTool('kubectl'), ['--kubeconfig', kubeconfigPath, 'get', '--raw', '/metrics'], {
    encoding: 'utf8', maxBuffer: 2 ** 28,
  });
  const s = parseMetrics(stdout);
  const counted = (l: Record<string, string>) => l.resource !== 'leases' && l.resource !== '' && l.resource !== undefined;
  const byResource: Record<string, number> = {};
  for (const x of s) {
    if (x.name !== 'apiserver_request_total' || !counted(x.labels) || !WRITE_VERBS.has(x.labels.verb ?? '')) continue;
    byResource[x.labels.resource ?? ''] = (byResource[x.labels.resource ?? ''] ?? 0) + x.value;
  }
  return {
    total: sum(s, 'apiserver_request_total', counted),
    writes: sum(s, 'apiserver_request_total', (l) => counted(l) && WRITE_VERBS.has(l.verb ?? '')),
    byResource,
  };
}

/** Write counts that grew from `before` to `after`, by resource. */
const grown = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, d]) => d !== 0));

/**
 * The Node flags the shipped manifests run the controller with (its container's NODE_OPTIONS): the bench
 * measures the process as a cluster runs it.
 */
function shippedNodeOptions(): string[] {
  type Container = { name: string; env?: { name: string; value?: string }[] };
  type Doc = { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } };
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'config', 'manager', 'controller.yaml'), 'utf8'));
  const deployment = docs.map((d) => d.toJS() as Doc).find((d) => d.kind === 'Deployment');
  const container = deployment?.spec?.template?.spec?.containers?.find((c) => c.name === 'controller');
  return (container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(' ').filter(Boolean);
}

/**
 * `fleetwright controller` over every namespace, with its metrics URL and peak RSS. The compiled dist/ (built
 * by main), as the image runs it: from src/ Node's TypeScript stripper alone would add about 20 MiB.
 */
async function startController() {
  // Node writes a heap snapshot into --diagnostic-dir on the signal, then goes on.
  const snapshotFlags = snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [];
  const child = spawn(process.execPath, [
    ...shippedNodeOptions(),
    ...snapshotFlags,
    join(repoRoot, 'dist', 'main.js'), 'controller', `--kubeconfig=${kubeconfigPath}`,
    '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=0', '--log-level=info',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the controller exited (${code}) before serving metrics`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const log = JSON.parse(line) as { msg?: string; url?: string };
      if (log.msg === 'serving metrics' && log.url) resolve(log.url);
    });
  });
  const statusMiB = (field: 'VmHWM' | 'VmRSS') => Math.round(
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
  const metrics = async () => {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
    return parseMetrics(await res.text());
  };
  return {
    metrics,
    peakRssMiB: () => statusMiB('VmHWM'),
    /** The resident set now, and how much of it is V8's heap (committed) and memory outside it (buffers). */
    memory: async () => {
      const s = await metrics();
      const mib = (name: string) => Math.round(sum(s, name) / 2 ** 20);
      return { rssMiB: statusMiB('VmRSS'), heapMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
    },
    /** Requests and reconciles so far, and keys queued or being worked on. */
    progress: async () => {
      const s = await metrics();
      return {
        requests: sum(s, 'rest_client_requests_total'),
        writes: sum(s, 'rest_client_requests_total', (l) => WRITE_VERBS.has(l.method ?? '')),
        reconciles: sum(s, 'controller_runtime_reconcile_total'),
        reconciled: (controller: string) => sum(s, 'controller_runtime_reconcile_total', (l) => l.controller === controller),
        busy: sum(s, 'workqueue_depth') + sum(s, 'controller_runtime_active_workers'),
      };
    },
    /** Writes a heap snapshot into --heap-snapshot's folder; resolves with its file name once written. */
    heapSnapshot: async (): Promise<string | undefined> => {
      if (!snapshotDir) return undefined;
      const before = new Set(readdirSync(snapshotDir));
      child.kill('SIGUSR2');
      // The snapshot is written on the main thread: the controller answers again once it is complete.
      let file: string | undefined;
      while (!(file = readdirSync(snapshotDir).find((f) => !before.has(f)))) await sleep(100);
      await until('the heap snapshot', async () => (await fetch(`${url}/metrics`)).ok);
      return join(snapshotDir, file);
    },
    stopped: () => child.exitCode !== null || child.signalCode !== null,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 1_800_000): Promise<number> {
  console.error(`[bench] waiting for ${what}`);
  const deadline = Date.now() + timeoutMs;
  // A busy controller can drop a scrape (ECONNRESET): that is a "not yet", not a failure.
  while (!(await check().catch((err: unknown) => (console.error(`[bench] ${String(err)}; retrying`), false)))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
  return performance.now();
}

async function list(type: typeof BROWSER_POOL, namespace: string): Promise<Obj[]> {
  return (await rest().get<{ items: Obj[] }>(collectionPath(type, namespace))).items;
}

const namespaceOf = (i: number) => `load-${i % sizes.namespaces}`;
const poolOf = (i: number) => `pool-${i % sizes.pools}`;

async function createAll(): Promise<number> {
  const r = rest();
  for (let n = 0; n < sizes.namespaces; n++) {
    await r.create('/api/v1/namespaces', { metadata: { name: namespaceOf(n) } });
    await r.create(`/api/v1/namespaces/${namespaceOf(n)}/configmaps`, {
      metadata: { name: 'suite' },
      data: { 'a.spec.ts': 'import { test } from \'@playwright/test\';\ntest(\'ok\', () => {});\n' },
    });
  }
  for (let p = 0; p < sizes.pools; p++) {
    await r.create(collectionPath(BROWSER_POOL, namespaceOf(p)), {
      apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind,
      metadata: { name: poolOf(p) }, spec: { replicas: sizes.replicas },
    });
  }
  // A run in namespace n uses a pool of n: pool p lives in namespace p % namespaces, and so does run t.
  const runs = Array.from({ length: sizes.testRuns }, (_, t) => t);
  await Promise.all(Array.from({ length: 20 }, async () => {
    for (let t = runs.shift(); t !== undefined; t = runs.shift()) {
      const pool = poolOf(t % Math.min(sizes.pools, sizes.namespaces));
      await r.create(collectionPath(TEST_RUN, namespaceOf(t)), {
        apiVersion: TEST_RUN.apiVersion, kind: TEST_RUN.kind,
        metadata: { name: `run-${t}` }, spec: { poolRef: { name: pool }, source: { configMap: { name: 'suite' } } },
      });
    }
  }));
  return sizes.namespaces * 2 + sizes.pools + sizes.testRuns;
}

/** Every pool reports its replicas and every TestRun has a status for its generation. */
async function converged(): Promise<boolean> {
  let pools = 0;
  let runs = 0;
  for (let n = 0; n < sizes.namespaces; n++) {
    const current = (o: Obj) => o.status?.observedGeneration === o.metadata.generation;
    const ready = (p: Obj) => current(p) && p.status?.replicas === p.spec?.replicas;
    pools += (await list(BROWSER_POOL, namespaceOf(n))).filter(ready).length;
    runs += (await list(TEST_RUN, namespaceOf(n))).filter(current).length;
  }
  return pools === sizes.pools && runs === sizes.testRuns;
}

async function main(): Promise<void> {
  if (sizes.pools < sizes.namespaces) throw new Error('--pools must be at least --namespaces: each namespace needs a pool');
  if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
  await up(() => undefined);
  installCrds(kubeconfigPath);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  let controller = await startController();
  try {
    const t0 = performance.now();
    const objects = await createAll();
    const createdMs = performance.now() - t0;
    const convergedAt = await until('convergence', converged);
    // Every object has a status; the queue may still hold work (queue positions catching up): the restart
    // starts only once the first controller has nothing left to do, so that all it does is the restart's.
    const quietAt = await until('the first controller to settle', async () => (await controller.progress()).busy === 0);
    const first = {
      createMs: Math.round(createdMs), convergedMs: Math.round(convergedAt - t0), settledMs: Math.round(quietAt - t0),
      peakRssMiB: controller.peakRssMiB(),
      settled: await controller.memory(),
      heapSnapshot: await controller.heapSnapshot(),
    };
    await controller.stop();

    const apiBefore = apiServerRequests();
    const t1 = performance.now();
    controller = await startController();
    const restartedAt = await until('the restarted controller to settle', async () => {
      const p = await controller.progress();
      return p.busy === 0 && p.reconciled('browserpool') >= sizes.pools && p.reconciled('testrun') >= sizes.testRuns;
    });
    const settled = await controller.progress();
    const apiAfter = apiServerRequests();
    const restart = {
      settledMs: Math.round(restartedAt - t1),
      peakRssMiB: controller.peakRssMiB(),
      settled: await controller.memory(),
      reconciles: settled.reconciles,
      requests: settled.requests,
      writes: settled.writes,
      requestsPerReconcile: Math.round((settled.requests / settled.reconciles) * 100) / 100,
      apiServerRequests: apiAfter.total - apiBefore.total,
      heapSnapshot: await controller.heapSnapshot(),
    };

    await sleep(idleSeconds * 1000);
    const idleEnd = await controller.progress();
    const apiIdle = apiServerRequests();
    const idle = {
      seconds: idleSeconds,
      controllerRequests: idleEnd.requests - settled.requests,
      controllerWrites: idleEnd.writes - settled.writes,
      reconciles: idleEnd.reconciles - settled.reconciles,
      controller: await controller.memory(),
      apiServerWrites: apiIdle.writes - apiAfter.writes,
      // Not all the controller's: the scheduler and kube-controller-manager write too.
      apiServerWritesByResource: grown(apiAfter.byResource, apiIdle.byResource),
    };
    console.log(JSON.stringify({
      benchmark: 'controller-load',
      sizes: { ...sizes, browserPods: sizes.pools * sizes.replicas },
      objectsCreated: objects + sizes.pools * sizes.replicas,
      converge: first,
      restart,
      idle,
      machine: { cpus: cpus().length, node: process.version, controllerNodeOptions: shippedNodeOptions().join(' ') },
    }, null, 2));
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    // While the controller runs: the pools' and runs' finalizers need it.
    if (controller.stopped()) controller = await startController();
    const namespaces = Array.from({ length: sizes.namespaces }, (_, n) => namespaceOf(n));
    // Not kubectl's synchronous helper: this process must go on reading the controller's log meanwhile, or the
    // controller blocks on its full stdout pipe and the TestRuns' finalizers are never run.
    const kubectlAsync = (...args: string[]) =>
      promisify(execFile)(ensureTool('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { maxBuffer: 2 ** 24 });
    await kubectlAsync('delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=false');
    await kubectlAsync('wait', '--for=delete', ...namespaces.map((n) => `namespace/${n}`), '--timeout=900s');
    await controller.stop();
  }
}

await main();
