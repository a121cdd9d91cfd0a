// What `fleetwright gateway` adds to a Playwright session and to a Chrome
// DevTools Protocol session: the same workload on the same kind of pooled
// browser, reached three ways per protocol in one run:
//
//   direct:  lease the browser with BrowserLeaser, connect to its endpoint
//            (ws://<pod IP>:3000/<path>, already one hop through the pod's agent);
//   gateway: `fleetwright gateway` as its own process on 127.0.0.1, through a
//            Tunnel with a bearer token (the gateway leases the browser);
//   nginx:   a private nginx on 127.0.0.1 proxying the WebSocket upgrade to the
//            leased browser's endpoint, as a yardstick for a plain proxy.
//
// The cdp- paths do the same with chromium.connectOverCDP against the pod's
// CDP endpoint (<endpoint>/cdp, a Chromium started per session: connectP50Ms
// includes its start) and the Tunnel's …/cdp.
//
//   npm run bench:gateway [-- --round-trips=5000 --clients=10 --client-round-trips=500 --repeats=5]
//
// latency:    one client, `round-trips` page.evaluate(() => 1) on one page;
// concurrent: `clients` clients at once, each on its own browser, each
//             `client-round-trips` round trips.
// Per path: p50/p99 per round trip and round trips per second; for the two
// proxies, the CPU time they spent per 1,000 round trips (the gateway's
// process_cpu_seconds_total, nginx's /proc); the gateway's RSS and heap before
// and after each repeat. Each repeat runs every path, in an order rotated per
// repeat, so that machine noise does not favour one. Prints one JSON object.
// A benchmark, not a test: nothing here asserts a time.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { kubectl } from '../hack/lib/crds.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import { BROWSER_POOL, TUNNEL } from '../src/api/resources.ts';
import { AGENT_CDP_SUFFIX } from '../src/contracts/agent.ts';
import { BrowserLeaser } from '../src/leasing/leaser.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, rest, startController } from './cluster.ts';
import { GatewayProcess, NginxProcess, until } from './gateway-proxies.ts';

const { values: flags } = parseArgs({
  options: {
    'round-trips': { type: 'string', default: '5000' },
    'clients': { type: 'string', default: '10' },
    'client-round-trips': { type: 'string', default: '500' },
    'warmup': { type: 'string', default: '200' },
    'repeats': { type: 'string', default: '5' },
  },
});
const roundTrips = Number(flags['round-trips']);
const clients = Number(flags.clients);
const clientRoundTrips = Number(flags['client-round-trips']);
const warmup = Number(flags.warmup);
const repeats = Number(flags.repeats);

const PATHS = ['direct', 'gateway', 'nginx', 'cdp-direct', 'cdp-gateway', 'cdp-nginx'] as const;
type Path = (typeof PATHS)[number];
const POOL = 'bench';
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

interface Session {
  page: Page;
  close(): Promise<void>;
}

interface Measured {
  samples: number[];
  wallMs: number;
  connectMs: number[];
  /** CPU time the proxy (gateway or nginx) spent while the round trips ran. */
  proxyCpuSeconds?: number;
}

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  await rest().create(`/api/v1/namespaces/${namespace}/secrets`, { metadata: { name: 'bench' }, stringData: { token: TOKEN } });
  // The Tunnel the gateway serves; the direct and nginx leases name it as their holder too (the pool
  // reclaims leases whose holder does not exist).
  await rest().create(collectionPath(TUNNEL, namespace), {
    apiVersion: TUNNEL.apiVersion,
    kind: TUNNEL.kind,
    metadata: { name: 'bench' },
    spec: { poolRefs: [{ name: POOL }], auth: { secretRef: { name: 'bench' } }, queueTimeoutSeconds: 120 },
  });
  // One browser per client on every path: the gateway leases one per connection.
  await rest().create(collectionPath(BROWSER_POOL, namespace), {
    apiVersion: BROWSER_POOL.apiVersion,
    kind: BROWSER_POOL.kind,
    metadata: { name: POOL },
    spec: { replicas: clients },
  });
  const controller = startController(namespace, image);
  const leaser = new BrowserLeaser(rest(), pino({ level: 'warn' }), { namespace });
  const gateway = new GatewayProcess(namespace);
  const nginx = await NginxProcess.start();
  try {
    await leaser.start();
    const poolPath = objectPath(BROWSER_POOL, { namespace, name: POOL });
    type Pool = { status?: { idle?: number; playwrightVersion?: string } };
    const poolIdle = () => until(`${clients} idle browsers`, async () => {
      const pool = await rest().get<Pool>(poolPath);
      return pool.status?.idle === clients && pool.status.playwrightVersion ? true : undefined;
    });
    await poolIdle();
    const gatewayBase = (await gateway.url('Tunnels')).replace('http', 'ws');
    const tunnelUrl = `${gatewayBase}/tunnels/${namespace}/bench`;
    // Served (this answer needs no token) once the gateway's cache holds the Tunnel.
    await until('the gateway to serve the Tunnel', async () =>
      (await fetch(`${tunnelUrl.replace('ws', 'http')}/json`)).ok ? true : undefined, 60_000);
    await until('nginx to listen', async () => (await fetch(`http://127.0.0.1:${nginx.port}/`)).status === 404 || undefined, 30_000);

    const connect = async (path: Path): Promise<Session> => {
      let browser: Browser;
      let release: () => Promise<unknown> = async () => undefined;
      const headers = { Authorization: `Bearer ${TOKEN}` };
      if (path === 'gateway') {
        browser = await chromium.connect(tunnelUrl, { headers, timeout: 120_000 });
      } else if (path === 'cdp-gateway') {
        browser = await chromium.connectOverCDP(`${tunnelUrl}/cdp`, { headers, timeout: 120_000 });
      } else {
        const leased = await leaser.lease(
          { namespace, name: POOL },
          { holder: `bench-${randomBytes(4).toString('hex')}`, kind: 'Tunnel', ref: `${namespace}/bench` },
          { timeoutMs: 120_000 },
        );
        release = () => leased.release();
        if (path === 'direct' || path === 'nginx') {
          browser = await chromium.connect(path === 'direct' ? leased.endpoint : nginx.url(leased.endpoint), { timeout: 60_000 });
        } else {
          const endpoint = `${leased.endpoint}${AGENT_CDP_SUFFIX}`;
          browser = await chromium.connectOverCDP(path === 'cdp-direct' ? endpoint : nginx.url(endpoint), { timeout: 60_000 });
        }
      }
      const page = await (browser.contexts()[0] ?? browser).newPage();
      const close = async () => {
        await browser.close();
        await release();
      };
      return { page, close };
    };

    /** `count` round trips on each of `sessions` clients at once, after `warmup` unmeasured ones each. */
    const measure = async (path: Path, sessions: number, count: number): Promise<Measured> => {
      const connectMs: number[] = [];
      const open = await Promise.all(Array.from({ length: sessions }, async () => {
        const started = performance.now();
        const session = await connect(path);
        connectMs.push(performance.now() - started);
        for (let i = 0; i < warmup; i++) await session.page.evaluate(() => 1);
        return session;
      }));
      const proxyCpu = path.endsWith('gateway')
        ? async () => (await gateway.usage()).cpuSeconds
        : path.endsWith('nginx') ? async () => nginx.cpuSeconds() : undefined;
      const cpuBefore = await proxyCpu?.();
      const samples: number[] = [];
      const started = performance.now();
      await Promise.all(open.map(async ({ page }) => {
        for (let i = 0; i < count; i++) {
          const t = performance.now();
          await page.evaluate(() => 1);
          samples.push(performance.now() - t);
        }
      }));
      const wallMs = performance.now() - started;
      const cpuAfter = await proxyCpu?.();
      await Promise.all(open.map((s) => s.close()));
      await poolIdle();
      const proxyCpuSeconds = cpuAfter === undefined ? undefined : cpuAfter - (cpuBefore ?? 0);
      return { samples, wallMs, connectMs, proxyCpuSeconds };
    };

    const memory = async () => {
      const { rssBytes, heapUsedBytes } = await gateway.usage();
      return { rss: mib(rssBytes), heapUsed: mib(heapUsedBytes) };
    };
    const memoryBefore = await memory();
    const loadBefore = loadavg()[0] ?? NaN;
    const memoryAfterRepeat: { rss: number; heapUsed: number }[] = [];
    const byPath = () => Object.fromEntries(PATHS.map((p) => [p, []])) as unknown as Record<Path, Measured[]>;
    const runs = { latency: byPath(), concurrent: byPath() };
    for (let r = 0; r < repeats; r++) {
      const order = PATHS.map((_, i) => PATHS[(i + r) % PATHS.length] as Path);
      for (const path of order) {
        runs.latency[path].push(await measure(path, 1, roundTrips));
        runs.concurrent[path].push(await measure(path, clients, clientRoundTrips));
      }
      memoryAfterRepeat.push(await memory());
    }

    const report = (measured: Measured[]) => {
      const sorted = measured.flatMap((m) => m.samples).sort((a, b) => a - b);
      const perSecond = measured.map((m) => round((m.samples.length / m.wallMs) * 1000, 0));
      const count = sum(measured.map((m) => m.samples.length));
      const cpuSeconds = measured[0]?.proxyCpuSeconds === undefined
        ? undefined
        : sum(measured.map((m) => m.proxyCpuSeconds ?? NaN));
      return {
        p50Ms: round(percentile(sorted, 50), 3),
        p99Ms: round(percentile(sorted, 99), 3),
        roundTripsPerSecond: median(perSecond),
        roundTripsPerSecondByRepeat: perSecond,
        connectP50Ms: Math.round(median(measured.flatMap((m) => m.connectMs))),
        ...(cpuSeconds === undefined ? {} : { proxyCpuMsPer1000RoundTrips: round((cpuSeconds * 1e6) / count, 1) }),
      };
    };
    type Report = ReturnType<typeof report>;
    const latency = Object.fromEntries(PATHS.map((p) => [p, report(runs.latency[p])])) as Record<Path, Report>;
    const concurrent = Object.fromEntries(PATHS.map((p) => [p, report(runs.concurrent[p])])) as Record<Path, Report>;
    const ratio = (path: Path, direct: Path) => ({
      latencyP50: round(latency[path].p50Ms / latency[direct].p50Ms, 3),
      latencyP99: round(latency[path].p99Ms / latency[direct].p99Ms, 2),
      roundTripsPerSecond: round(latency[path].roundTripsPerSecond / latency[direct].roundTripsPerSecond, 2),
      concurrentP50: round(concurrent[path].p50Ms / concurrent[direct].p50Ms, 2),
      concurrentRoundTripsPerSecond:
        round(concurrent[path].roundTripsPerSecond / concurrent[direct].roundTripsPerSecond, 2),
    });
    /** The gateway's CPU per 1,000 round trips over nginx's, for one client and for many. */
    const cpuToNginx = (gatewayPath: Path, nginxPath: Path) => ({
      latency: round((latency[gatewayPath].proxyCpuMsPer1000RoundTrips ?? NaN) /
        (latency[nginxPath].proxyCpuMsPer1000RoundTrips ?? NaN), 2),
      concurrent: round((concurrent[gatewayPath].proxyCpuMsPer1000RoundTrips ?? NaN) /
        (concurrent[nginxPath].proxyCpuMsPer1000RoundTrips ?? NaN), 2),
    });

    console.log(JSON.stringify({
      benchmark: 'gateway',
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0] ?? NaN, 2) },
      },
      latency: { what: `1 client, ${roundTrips} page.evaluate(() => 1) round trips on one page, per path`, ...latency },
      concurrent: {
        what: `${clients} clients at once, each on its own browser, ${clientRoundTrips} round trips each, per path`,
        ...concurrent,
      },
      ratios: {
        gatewayToDirect: ratio('gateway', 'direct'),
        nginxToDirect: ratio('nginx', 'direct'),
        gatewayCpuToNginx: cpuToNginx('gateway', 'nginx'),
        cdpGatewayToDirect: ratio('cdp-gateway', 'cdp-direct'),
        cdpNginxToDirect: ratio('cdp-nginx', 'cdp-direct'),
        cdpGatewayCpuToNginx: cpuToNginx('cdp-gateway', 'cdp-nginx'),
      },
      gatewayMemoryMiB: { before: memoryBefore, afterEachRepeat: memoryAfterRepeat },
      gatewayErrorsLogged: gateway.errors(),
      settings: { roundTrips, clients, clientRoundTrips, warmup, repeats, poolReplicas: clients, nginxWorkers: 1 },
    }, null, 2));
  } finally {
    await nginx.stop();
    await gateway.stop();
    await leaser.stop();
    // While the controller runs: the pools' finalizers need it, or the namespace never goes.
    kubectl(kubeconfigPath, 'delete', 'tunnels,browserpools', '--all', '-n', namespace, '--wait=true', '--timeout=120s');
    controller.kill('SIGTERM');
    await rest().delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
  }
}

await main();
