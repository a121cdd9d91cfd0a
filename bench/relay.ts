// What the gateway's WebSocket relay costs, without a cluster: one Playwright
// client drives one page of Debian's chromium (launchServer, its own process)
// reached several ways in one run:
//
//   direct:        chromium.connect(the browser's endpoint);
//   gateway:       through the Gateway of this checkout, its own process, with
//                  a stand-in for the cluster that leases that browser;
//   gateway@<rev>: the same with the Gateway of an older commit (--old=<rev>,
//                  its src/ exported with git archive), to compare relays;
//   nginx:         a private nginx (one worker) proxying the upgrade to the
//                  browser, the yardstick of a plain proxy;
//   node-pipe:     a Node process that pipes the TCP bytes both ways and
//                  reads nothing: the floor of a relay on Node's sockets.
//
//   node bench/relay.ts [--round-trips=5000 --repeats=5 --warmup=300 --old=<rev>]
//
// Per path: p50/p99 of page.evaluate(() => 1) round trips, round trips per
// second, and for the proxies the CPU time they spent per 1,000 round trips
// (a gateway's own process.cpuUsage() asked over IPC; nginx's from /proc).
// Each repeat runs every path, in an order rotated per repeat. Prints one
// JSON object. A benchmark, not a test: nothing here asserts a time.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { repoRoot } from '../hack/lib/paths.ts';
import { NginxProcess } from './gateway-proxies.ts';

const { values: flags } = parseArgs({
  options: {
    'round-trips': { type: 'string', default: '5000' },
    'repeats': { type: 'string', default: '5' },
    'warmup': { type: 'string', default: '300' },
    'old': { type: 'string' },
  },
});
const roundTrips = Number(flags['round-trips']);
const repeats = Number(flags.repeats);
const warmup = Number(flags.warmup);

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

/** A child of relay-processes.ts, once it said where it listens. */
function start<T>(args: string[]): Promise<{ child: ChildProcess; ready: T }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'relay-processes.ts'), ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ready) => resolve({ child, ready: ready as T }));
    child.once('exit', (code) => reject(new Error(`relay-processes.ts ${args[0]} exited with ${code}`)));
  });
}

/** CPU seconds a gateway or pipe child has used so far, by its own count. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => {
      const { cpu } = m as { cpu: NodeJS.CpuUsage };
      resolve((cpu.user + cpu.system) / 1e6);
    });
    child.send('cpu');
  });
}

/** The src/ of commit `rev`, beside this checkout's node_modules. */
function exportTree(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetwright-bench-relay-'));
  const archive = execFileSync('git', ['-C', repoRoot, 'archive', rev, 'src', 'package.json'], { maxBuffer: 256 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

interface Path {
  name: string;
  url: string;
  cpuSeconds?: () => Promise<number>;
}

interface Measured {
  samples: number[];
  wallMs: number;
  cpuSeconds?: number;
}

async function measure(path: Path): Promise<Measured> {
  const browser = await chromium.connect(path.url, { headers: { authorization: 'Bearer bench' }, timeout: 30_000 });
  const page = await browser.newPage();
  for (let i = 0; i < warmup; i++) await page.evaluate(() => 1);
  const cpuBefore = await path.cpuSeconds?.();
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < roundTrips; i++) {
    const t = performance.now();
    await page.evaluate(() => 1);
    samples.push(performance.now() - t);
  }
  const wallMs = performance.now() - started;
  const cpuAfter = await path.cpuSeconds?.();
  await browser.close();
  return { samples, wallMs, ...(cpuAfter === undefined ? {} : { cpuSeconds: cpuAfter - (cpuBefore ?? 0) }) };
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const trees: string[] = [];
  let nginx: NginxProcess | undefined;
  try {
    const browser = await start<{ endpoint: string }>(['browser']);
    children.push(browser.child);
    const { endpoint } = browser.ready;
    const paths: Path[] = [{ name: 'direct', url: endpoint }];
    const gateway = async (name: string, root: string) => {
      const { child, ready } = await start<{ port: number }>(['gateway', root, endpoint]);
      children.push(child);
      paths.push({ name, url: `ws://127.0.0.1:${ready.port}/tunnels/bench/relay`, cpuSeconds: () => cpuOf(child) });
    };
    await gateway('gateway', repoRoot);
    if (flags.old) {
      const tree = exportTree(flags.old);
      trees.push(tree);
      await gateway(`gateway@${flags.old}`, tree);
    }
    const target = new URL(endpoint);
    nginx = await NginxProcess.start(target.host);
    const proxy = nginx;
    paths.push({ name: 'nginx', url: `ws://127.0.0.1:${nginx.port}${target.pathname}`, cpuSeconds: async () => proxy.cpuSeconds() });
    // The floor of any relay written on Node's sockets: TCP bytes piped both ways, nothing read.
    const pipe = await start<{ port: number }>(['pipe', target.host]);
    children.push(pipe.child);
    paths.push({ name: 'node-pipe', url: `ws://127.0.0.1:${pipe.ready.port}${target.pathname}`, cpuSeconds: () => cpuOf(pipe.child) });

    const loadBefore = loadavg()[0] ?? NaN;
    const runs = new Map<string, Measured[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + r) % paths.length] as Path;
        runs.get(path.name)?.push(await measure(path));
      }
    }

    /** CPU ms per 1,000 round trips of one or more runs; undefined for the direct path. */
    const cpuPer1000 = (measured: Measured[]) => {
      if (measured.some((m) => m.cpuSeconds === undefined)) return undefined;
      const seconds = measured.reduce((a, m) => a + (m.cpuSeconds ?? 0), 0);
      return round((seconds * 1e6) / measured.reduce((a, m) => a + m.samples.length, 0), 1);
    };
    const report = (measured: Measured[]) => {
      const sorted = measured.flatMap((m) => m.samples).sort((a, b) => a - b);
      const cpu = cpuPer1000(measured);
      const byRepeat = measured.map((m) => cpuPer1000([m]));
      const cpuFields = cpu === undefined ? {} : { proxyCpuMsPer1000RoundTrips: cpu, cpuByRepeat: byRepeat };
      return {
        p50Ms: round(percentile(sorted, 50), 3),
        p99Ms: round(percentile(sorted, 99), 3),
        roundTripsPerSecond: median(measured.map((m) => round((m.samples.length / m.wallMs) * 1000, 0))),
        p50MsByRepeat: measured.map((m) => round(median(m.samples), 3)),
        ...cpuFields,
      };
    };
    const results = Object.fromEntries([...runs].map(([name, measured]) => [name, report(measured)]));
    const direct = results.direct as ReturnType<typeof report>;
    const nginxCpu = (results.nginx as ReturnType<typeof report>).proxyCpuMsPer1000RoundTrips ?? NaN;
    // Also paired within each repeat (the paths of one repeat ran back to back), whose median shrugs off a repeat
    // that another process on the machine slowed down.
    const paired = (name: string, other: string, value: (m: Measured) => number) => {
      const mine = runs.get(name) ?? [];
      const theirs = runs.get(other) ?? [];
      return round(median(mine.map((m, i) => value(m) / value(theirs[i] as Measured))), 3);
    };
    const p50 = (m: Measured) => median(m.samples);
    const cpuOfRun = (m: Measured) => m.cpuSeconds ?? NaN;
    const ratios = Object.fromEntries(paths.filter((p) => p.name !== 'direct').map((p) => {
      const r = results[p.name] as ReturnType<typeof report>;
      return [p.name, {
        p50ToDirect: round(r.p50Ms / direct.p50Ms, 3),
        p50ToDirectPairedMedian: paired(p.name, 'direct', p50),
        cpuToNginx: round((r.proxyCpuMsPer1000RoundTrips ?? NaN) / nginxCpu, 2),
        cpuToNginxPairedMedian: paired(p.name, 'nginx', cpuOfRun),
      }];
    }));
    console.log(JSON.stringify({
      benchmark: 'relay',
      what: `1 client, ${roundTrips} page.evaluate(() => 1) round trips per repeat and path, after ${warmup} unmeasured`,
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0] ?? NaN, 2) },
      },
      results,
      ratios,
      settings: { roundTrips, repeats, warmup, old: flags.old ?? null, nginxWorkers: 1 },
    }, null, 2));
  } finally {
    await nginx?.stop();
    for (const child of children) child.disconnect();
    for (const tree of trees) rmSync(tree, { recursive: true, force: true });
  }
}

await main();
