// What recording a Tunnel session costs: the same client workload through two
// Tunnels over one pool of one browser pod, one recording nothing and one
// recording video and log (Always), in one run:
//
//   npm run bench:recording [-- --round-trips=2000 --repeats=3]
//
// Each session opens a page of a site on the bridge address that animates
// every frame (the worst case for video: the screencast never rests), and
// runs `round-trips` page.evaluate(() => 1). Per Tunnel: p50/p99 per round
// trip, and the browser pod's CPU (its container's cpuacct: agent, Chromium
// and ffmpeg together) per second of session; for the recorded one also the
// video's and log's size and how long after the session's end they were
// listed. Each repeat runs both Tunnels in an order rotated per repeat.
// Prints one JSON object. A benchmark, not a test: nothing here asserts.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { NODE_IP } from '../hack/lib/node.ts';
import { type PodObject, POD, SECRET } from '../src/api/builtin.ts';
import { BROWSER_POOL, TUNNEL } from '../src/api/resources.ts';
import { POOL_LABEL } from '../src/contracts/browser-lease.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../src/contracts/report-store.ts';
import { SessionListing } from '../src/contracts/tunnel-session.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, removeNamespace, rest, startController, startReportStore } from './cluster.ts';
import { GatewayProcess, until } from './gateway-proxies.ts';

const { values: flags } = parseArgs({
  options: {
    'round-trips': { type: 'string', default: '2000' },
    'warmup': { type: 'string', default: '100' },
    'repeats': { type: 'string', default: '3' },
  },
});
const roundTrips = Number(flags['round-trips']);
const warmup = Number(flags.warmup);
const repeats = Number(flags.repeats);

const TUNNELS = { off: { video: 'Never', log: 'Never' }, video: { video: 'Always', log: 'Always' } } as const;
type Variant = keyof typeof TUNNELS;
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/**
 * The CPU seconds a pod's containers have used: the node of hack/ (cgroup v1,
 * no per-QoS or per-pod cgroups) gives each container its own cpuacct cgroup
 * under k8s.io/<container id>, and a browser pod's agent, Chromium and ffmpeg
 * all run in its one container.
 */
function podCpuSeconds(pod: PodObject): number {
  const statuses = (pod.status?.containerStatuses ?? []) as { containerID?: string }[];
  const ids = statuses.map((c) => c.containerID?.replace(/^containerd:\/\//, '') ?? '');
  if (ids.length === 0 || ids.includes('')) throw new Error(`pod ${pod.metadata.name} has no running containers`);
  return ids.reduce((sum, id) => {
    const file = join('/sys/fs/cgroup/cpuacct/k8s.io', id, 'cpuacct.usage');
    if (!existsSync(file)) throw new Error(`no cpuacct cgroup of container ${id} of pod ${pod.metadata.name}: ${file}`);
    return sum + Number(readFileSync(file, 'utf8')) / 1e9;
  }, 0);
}

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  const storeDir = mkdtempSync(join(tmpdir(), 'fleetwright-bench-recordings-'));
  const { store, storeUrl } = await startReportStore(namespace, storeDir);
  const controller = startController(namespace, image, [`--report-store-url=${storeUrl}`]);
  const gateway = new GatewayProcess(namespace, [`--report-store-url=${storeUrl}`]);
  // A page that repaints every frame: a counter and a moving box.
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<div id="n"></div><div id="box" style="position:absolute;width:80px;height:80px;background:#36c"></div>' +
      '<script>let i = 0; const tick = () => { n.textContent = ++i; box.style.left = (i * 7 % 1100) + "px"; ' +
      'requestAnimationFrame(tick); }; tick();</script>');
  });
  try {
    await new Promise<void>((resolve) => site.listen(0, NODE_IP, resolve));
    const siteUrl = `http://${NODE_IP}:${(site.address() as AddressInfo).port}/`;
    await rest().create(collectionPath(SECRET, namespace), { metadata: { name: 'bench' }, stringData: { token: TOKEN } });
    await rest().create(collectionPath(BROWSER_POOL, namespace), {
      apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind, metadata: { name: 'bench' }, spec: { replicas: 1 },
    });
    for (const [name, recording] of Object.entries(TUNNELS)) {
      await rest().create(collectionPath(TUNNEL, namespace), {
        apiVersion: TUNNEL.apiVersion,
        kind: TUNNEL.kind,
        metadata: { name },
        spec: { poolRefs: [{ name: 'bench' }], auth: { secretRef: { name: 'bench' } }, queueTimeoutSeconds: 120, recording },
      });
    }
    type Pool = { status?: { idle?: number } };
    const poolIdle = () => until('the browser to be idle', async () =>
      ((await rest().get<Pool>(objectPath(BROWSER_POOL, { namespace, name: 'bench' }))).status?.idle === 1 ? true : undefined));
    await poolIdle();
    const pods = await rest().get<{ items: PodObject[] }>(collectionPath(POD, namespace), {
      labelSelector: `${POOL_LABEL}=bench`,
    });
    const [pod] = pods.items;
    if (!pod) throw new Error('the pool has no browser pod');
    const readToken = await until('the namespace\'s read token', async () => {
      const path = objectPath(SECRET, { namespace, name: REPORT_READER_SECRET });
      const value = (await rest().get<{ data?: Record<string, string> }>(path)).data?.[REPORT_TOKEN_KEY];
      return value ? Buffer.from(value, 'base64').toString() : undefined;
    });
    const base = (await gateway.url('Tunnels')).replace('http', 'ws');

    type Run = { samples: number[]; cpuSeconds: number; sessionSeconds: number };
    const runs: Record<Variant, Run[]> = { off: [], video: [] };
    const recordings: { videoBytes: number; logBytes: number; listedAfterEndMs: number }[] = [];
    const sizeOf = async (url: string | undefined) =>
      url ? (await (await fetch(url, { headers: { authorization: `Bearer ${readToken}` } })).arrayBuffer()).byteLength : NaN;
    const listing = async () => SessionListing.parse(await (await fetch(`${storeUrl}/sessions/${namespace}/video/`, {
      headers: { authorization: `Bearer ${readToken}` },
    })).json()).sessions;

    for (let r = 0; r < repeats; r++) {
      const order: Variant[] = r % 2 === 0 ? ['off', 'video'] : ['video', 'off'];
      for (const variant of order) {
        const listedBefore = variant === 'video' ? (await listing()).length : 0;
        const cpuBefore = podCpuSeconds(pod);
        const opened = performance.now();
        const browser = await chromium.connect(`${base}/tunnels/${namespace}/${variant}?token=${TOKEN}`, { timeout: 120_000 });
        const page = await browser.newPage();
        await page.goto(siteUrl);
        for (let i = 0; i < warmup; i++) await page.evaluate(() => 1);
        const samples: number[] = [];
        for (let i = 0; i < roundTrips; i++) {
          const t = performance.now();
          await page.evaluate(() => 1);
          samples.push(performance.now() - t);
        }
        await browser.close();
        const ended = performance.now();
        const cpuSeconds = podCpuSeconds(pod) - cpuBefore;
        runs[variant].push({ samples, cpuSeconds, sessionSeconds: (ended - opened) / 1000 });
        if (variant === 'video') {
          const session = await until('the recordings to be listed', async () => {
            const sessions = await listing();
            const newest = sessions[0];
            return sessions.length > listedBefore && newest?.video && newest.log ? newest : undefined;
          }, 120_000);
          recordings.push({
            videoBytes: await sizeOf(session.video),
            logBytes: await sizeOf(session.log),
            listedAfterEndMs: Math.round(performance.now() - ended),
          });
        }
        await poolIdle();
      }
    }

    const report = (variant: Variant) => {
      const sorted = runs[variant].flatMap((m) => m.samples).sort((a, b) => a - b);
      const cpu = runs[variant].reduce((a, m) => a + m.cpuSeconds, 0);
      const seconds = runs[variant].reduce((a, m) => a + m.sessionSeconds, 0);
      return {
        p50Ms: round(percentile(sorted, 50), 3),
        p99Ms: round(percentile(sorted, 99), 3),
        podCpuCoresDuringSession: round(cpu / seconds, 3),
        podCpuSecondsPerSessionByRepeat: runs[variant].map((m) => round(m.cpuSeconds, 2)),
      };
    };
    const off = report('off');
    const video = report('video');
    console.log(JSON.stringify({
      benchmark: 'recording',
      machine: { cpus: cpus().length, node: process.version, loadAverage1m: round(loadavg()[0] ?? NaN, 2) },
      what: `1 client per session, ${roundTrips} page.evaluate(() => 1) round trips on a page that repaints every frame`,
      off,
      video,
      ratios: {
        p50: round(video.p50Ms / off.p50Ms, 3),
        p99: round(video.p99Ms / off.p99Ms, 2),
        podCpu: round(video.podCpuCoresDuringSession / off.podCpuCoresDuringSession, 2),
      },
      recordings,
      settings: { roundTrips, warmup, repeats },
    }, null, 2));
  } finally {
    site.close();
    await gateway.stop();
    await removeNamespace(namespace, controller);
    store.kill('SIGTERM');
    rmSync(storeDir, { recursive: true, force: true });
  }
}

await main();
