// The gateway under many concurrent sessions on loopback, and its memory.
//
//   npm run bench:sessions [-- --sessions=500 --browsers=8 --round-trips=20 --rounds=2]
//
// `sessions` Playwright clients connect through one `fleetwright gateway`
// process at once, over a Tunnel to a pool of `browsers` real browser pods on
// the local node (a Tunnel connection holds a browser of its own, and 2 cores
// run only a few): every client waits in the gateway's queue, is handed a
// browser in turn, opens a page, makes `round-trips` page.evaluate calls, and
// leaves. The gateway's RSS and heap (its own /metrics) are sampled every
// 250 ms. `rounds` rounds in a row show whether memory comes back between
// them. Prints one JSON object. A benchmark, not a test: nothing here asserts.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { POD } from '../src/api/builtin.ts';
import type { KubeObject } from '../src/api/meta.ts';
import { BROWSER_POOL, TUNNEL } from '../src/api/resources.ts';
import { POOL_LABEL } from '../src/contracts/browser-lease.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { kubectl } from '../hack/lib/crds.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import { benchCluster, removeNamespace, rest, startController } from './cluster.ts';
import { GatewayProcess, until } from './gateway-proxies.ts';

const { values: flags } = parseArgs({
  options: {
    'sessions': { type: 'string', default: '500' },
    'browsers': { type: 'string', default: '8' },
    'round-trips': { type: 'string', default: '20' },
    'rounds': { type: 'string', default: '2' },
  },
});
const sessions = Number(flags.sessions);
const browsers = Number(flags.browsers);
const roundTrips = Number(flags['round-trips']);
const rounds = Number(flags.rounds);
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;
const POOL = 'sessions';

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  await rest().create(`/api/v1/namespaces/${namespace}/secrets`, { metadata: { name: 'bench' }, stringData: { token: TOKEN } });
  await rest().create(collectionPath(TUNNEL, namespace), {
    apiVersion: TUNNEL.apiVersion,
    kind: TUNNEL.kind,
    metadata: { name: 'bench' },
    spec: { poolRefs: [{ name: POOL }], auth: { secretRef: { name: 'bench' } }, maxConnections: sessions, queueTimeoutSeconds: 3600 },
  });
  await rest().create(collectionPath(BROWSER_POOL, namespace), {
    apiVersion: BROWSER_POOL.apiVersion,
    kind: BROWSER_POOL.kind,
    metadata: { name: POOL },
    spec: { replicas: browsers },
  });
  const controller = startController(namespace, image);
  const gateway = new GatewayProcess(namespace);
  try {
    type Pool = { status?: { idle?: number } };
    const poolPath = objectPath(BROWSER_POOL, { namespace, name: POOL });
    const poolIdle = () => until(`${browsers} idle browsers`, async () =>
      (await rest().get<Pool>(poolPath)).status?.idle === browsers || undefined);
    await poolIdle();
    const url = `${(await gateway.url('Tunnels')).replace('http', 'ws')}/tunnels/${namespace}/bench`;
    await until('the gateway to serve the Tunnel', async () =>
      (await fetch(`${url.replace('ws', 'http')}/json`)).ok || undefined, 60_000);

    const usage = async () => {
      const { rssBytes, heapUsedBytes } = await gateway.usage();
      return { rssMiB: mib(rssBytes), heapUsedMiB: mib(heapUsedBytes) };
    };
    type Terminated = { reason?: string; message?: string; exitCode?: number };
    type ContainerStatus = { state?: { terminated?: Terminated } };
    type Pod = KubeObject & { status?: { phase?: string; containerStatuses?: ContainerStatus[] } };
    const reported = new Set<string>();
    /** Browser pods that died since the last call, with the reason their agent left: a session on one is lost. */
    const newlyFailedBrowsers = async () => {
      const selector = { labelSelector: `${POOL_LABEL}=${POOL}` };
      const pods = await rest().get<{ items: Pod[] }>(collectionPath(POD, namespace), selector);
      return pods.items.filter((p) => p.status?.phase === 'Failed' && !reported.has(p.metadata.name ?? '')).map((p) => {
        reported.add(p.metadata.name ?? '');
        const terminated = p.status?.containerStatuses?.[0]?.state?.terminated;
        const message = terminated?.message ?? terminated?.reason;
        return { pod: p.metadata.name, exitCode: terminated?.exitCode, message };
      });
    };
    type PoolEvent = KubeObject & { reason?: string; note?: string; regarding?: { name?: string } };
    const eventsSeen = new Set<string>();
    /** The pool's Events since the last call, counted by reason: a deleted or reclaimed browser shows here. */
    const newPoolEvents = async () => {
      const events = await rest().get<{ items: PoolEvent[] }>(`/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
      const counts: Record<string, number> = {};
      for (const e of events.items.filter((x) => x.regarding?.name === POOL && !eventsSeen.has(x.metadata.uid ?? ''))) {
        eventsSeen.add(e.metadata.uid ?? '');
        counts[e.reason ?? ''] = (counts[e.reason ?? ''] ?? 0) + 1;
      }
      return counts;
    };
    await newPoolEvents();
    const idle = await usage();
    const results = [];
    for (let round = 0; round < rounds; round++) {
      let peakRss = 0;
      let peakHeap = 0;
      const sampler = setInterval(() => {
        void gateway.usage().then((u) => {
          peakRss = Math.max(peakRss, u.rssBytes);
          peakHeap = Math.max(peakHeap, u.heapUsedBytes);
        }, () => undefined);
      }, 250);
      const waits: number[] = [];
      const failures: string[] = [];
      const started = performance.now();
      await Promise.all(Array.from({ length: sessions }, async () => {
        const t = performance.now();
        try {
          const browser = await chromium.connect(url, { headers: { Authorization: `Bearer ${TOKEN}` }, timeout: 3_600_000 });
          waits.push(performance.now() - t);
          const page = await browser.newPage();
          for (let i = 0; i < roundTrips; i++) await page.evaluate(() => 1);
          await browser.close();
        } catch (err) {
          failures.push(String(err).split('\n')[0] ?? '');
        }
      }));
      const wallSeconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      await poolIdle();
      const sorted = waits.sort((a, b) => a - b);
      results.push({
        served: waits.length,
        failed: failures.length,
        firstFailures: [...new Set(failures)].slice(0, 3),
        wallSeconds: Math.round(wallSeconds * 10) / 10,
        sessionsPerSecond: Math.round((waits.length / wallSeconds) * 10) / 10,
        queueWaitP50Ms: Math.round(percentile(sorted, 50)),
        queueWaitP99Ms: Math.round(percentile(sorted, 99)),
        peakRssMiB: mib(peakRss),
        peakHeapUsedMiB: mib(peakHeap),
        after: await usage(),
        browserPodsFailed: await newlyFailedBrowsers(),
        sessionsNotEndedByClient: gateway.unaskedEnds(),
        poolEvents: await newPoolEvents(),
      });
    }
    // What the browser agents warned about (an upstream error ends a session), counted by message.
    const agentLogs = kubectl(kubeconfigPath, 'logs', '-n', namespace, '-l', `${POOL_LABEL}=${POOL}`, '--tail=-1',
      '--max-log-requests=20');
    const agentWarnings: Record<string, number> = {};
    for (const line of agentLogs.split('\n').filter((l) => l.startsWith('{'))) {
      const { level, msg, err } = JSON.parse(line) as { level?: number; msg?: string; err?: string };
      const key = `${msg}${err ? `: ${err}` : ''}`;
      if ((level ?? 0) >= 40) agentWarnings[key] = (agentWarnings[key] ?? 0) + 1;
    }
    console.log(JSON.stringify({
      benchmark: 'gateway-sessions',
      cpus: cpus().length,
      sessions,
      browsers,
      roundTripsPerSession: roundTrips,
      idle,
      rounds: results,
      agentWarnings,
    }, null, 2));
  } finally {
    await gateway.stop();
    await removeNamespace(namespace, controller);
  }
}

await main();
