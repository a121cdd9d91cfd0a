// What a pre-warmed pool buys: lease + connect + first page from a warm pool,
// next to a browser launched for the client (fresh: what exposeNetwork costs)
// and next to the cold path (create a browser pod and wait for it), at 1 and
// 20 concurrent takers; and how long `kubectl apply` of a pool of 5 takes
// until all five are Ready.
//
//   npm run bench:pool [-- --rounds=5 --cold-rounds=3]
//
// Against the real API server, node and image of hack/ (started when not
// running), with `fleetwright controller` as its own process. Prints one JSON
// object. A benchmark, not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { kubectl, kubectlCacheDir } from '../hack/lib/crds.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import { ensureTool } from '../hack/lib/tools.ts';
import { POD } from '../src/api/builtin.ts';
import type { PodObject } from '../src/api/builtin.ts';
import { BROWSER_POOL, TUNNEL } from '../src/api/resources.ts';
import { BrowserPoolSpec } from '../src/api/v1alpha1/index.ts';
import { browserPod } from '../src/controllers/browserpool/pod.ts';
import { endpointOf } from '../src/leasing/lease.ts';
import { BrowserLeaser } from '../src/leasing/leaser.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, rest, startController } from './cluster.ts';

const { values: flags } = parseArgs({
  options: {
    'rounds': { type: 'string', default: '5' },
    'cold-rounds': { type: 'string', default: '3' },
    'pool-size': { type: 'string', default: '20' },
  },
});
const rounds = Number(flags.rounds);
const coldRounds = Number(flags['cold-rounds']);
const poolSize = Number(flags['pool-size']);

interface PoolStatus {
  status?: { readyReplicas?: number; idle?: number; replicas?: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)) };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function applyPool(namespace: string, name: string, replicas: number): void {
  const manifest = `{"apiVersion":"fleetwright.dev/v1alpha1","kind":"BrowserPool","metadata":{"name":"${name}"},` +
    `"spec":{"replicas":${replicas}}}`;
  const result = spawnSync(ensureTool('kubectl'), ['apply', '-n', namespace, '-f', '-'], {
    input: manifest,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: kubectlCacheDir },
  });
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

const poolIdle = async (namespace: string, name: string, count: number) => {
  const pool = await rest().get<PoolStatus>(objectPath(BROWSER_POOL, { namespace, name }));
  return pool.status?.readyReplicas === count && pool.status.idle === count;
};

/** A Playwright client's first page: connect, open a page, render. */
async function firstPage(endpoint: string, fresh: boolean): Promise<() => Promise<void>> {
  const browser = await chromium.connect(endpoint, fresh ? { exposeNetwork: '<loopback>' } : {});
  const page = await browser.newPage();
  await page.setContent('<h1>first page</h1>');
  await page.textContent('h1');
  return () => browser.close();
}

/** Lease + connect + first page, `concurrency` takers at once, `rounds` times. */
async function leased(leaser: BrowserLeaser, namespace: string, pool: string, concurrency: number, fresh: boolean) {
  const samples: number[] = [];
  const leaseSamples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: concurrency }, async (_, i) => {
      const started = performance.now();
      const b = await leaser.lease(
        { namespace, name: pool },
        { holder: `bench-${round}-${i}-${randomBytes(3).toString('hex')}`, kind: 'Tunnel', ref: `${namespace}/bench` },
        { timeoutMs: 120_000 },
      );
      leaseSamples.push(performance.now() - started);
      const close = await firstPage(b.endpoint, fresh);
      samples.push(performance.now() - started);
      await close();
      await b.release();
    }));
    await until('all browsers idle again', () => poolIdle(namespace, pool, poolSize));
  }
  return { ...summarize(samples), leaseOnly: summarize(leaseSamples) };
}

/** Create a browser pod, wait until Ready, connect, first page: what a client waits for without a pool. */
async function cold(namespace: string, image: string, concurrency: number) {
  const samples: number[] = [];
  const spec = BrowserPoolSpec.parse({});
  for (let round = 0; round < coldRounds; round++) {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      const started = performance.now();
      const body = browserPod({ namespace, name: 'cold', uid: '' }, spec, image, `/pw-${randomBytes(8).toString('hex')}`);
      delete body.metadata?.ownerReferences;
      const created = await rest().create<PodObject>(collectionPath(POD, namespace), body);
      const path = objectPath(POD, { namespace, name: created.metadata.name ?? '' });
      let pod = created;
      await until('a cold pod to be ready', async () => {
        pod = await rest().get<PodObject>(path);
        return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      });
      const close = await firstPage(endpointOf(pod) ?? '', false);
      samples.push(performance.now() - started);
      await close();
      await rest().delete(path);
    }));
  }
  return summarize(samples);
}

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  // Leases name a Tunnel as their holder; the pool reclaims leases whose holder does not exist.
  await rest().create(collectionPath(TUNNEL, namespace), {
    apiVersion: TUNNEL.apiVersion,
    kind: TUNNEL.kind,
    metadata: { name: 'bench' },
    spec: { poolRefs: [{ name: 'warm' }], auth: { secretRef: { name: 'bench', key: 'token' } } },
  });
  const controller = startController(namespace, image);
  const leaser = new BrowserLeaser(rest(), pino({ level: 'warn' }), { namespace });
  try {
    await leaser.start();
    const applyToReady: number[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `five-${i}`;
      const started = performance.now();
      applyPool(namespace, name, 5);
      await until('a pool of 5 to be ready', () => poolIdle(namespace, name, 5));
      applyToReady.push(Math.round(performance.now() - started));
      kubectl(kubeconfigPath, 'delete', '-n', namespace, `browserpool/${name}`);
    }

    applyPool(namespace, 'warm', poolSize);
    await until(`a pool of ${poolSize} to be ready`, () => poolIdle(namespace, 'warm', poolSize));
    const results = {
      warm: { 1: await leased(leaser, namespace, 'warm', 1, false), 20: await leased(leaser, namespace, 'warm', 20, false) },
      fresh: { 1: await leased(leaser, namespace, 'warm', 1, true), 20: await leased(leaser, namespace, 'warm', 20, true) },
    };
    kubectl(kubeconfigPath, 'delete', '-n', namespace, 'browserpool/warm');
    const coldResults = { 1: await cold(namespace, image, 1), 20: await cold(namespace, image, 20) };

    console.log(JSON.stringify({
      benchmark: 'browserpool',
      machine: { cpus: cpus().length, node: process.version },
      applyPoolOf5UntilAllReadyMs: { runs: applyToReady, median: [...applyToReady].sort((a, b) => a - b)[1] },
      leaseConnectFirstPageMs: { ...results, cold: coldResults },
      settings: { rounds, coldRounds, poolSize },
    }, null, 2));
  } finally {
    await leaser.stop();
    // While the controller runs: the pools' finalizers need it, or the namespace never goes.
    kubectl(kubeconfigPath, 'delete', 'browserpools', '--all', '-n', namespace, '--wait=true', '--timeout=120s');
    controller.kill('SIGTERM');
    await rest().delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
  }
}

await main();
