// Faults under load, in turn: while TestRuns run and Tunnel sessions are open,
// the leading controller is killed, a gateway replica is killed (and restarted
// under its name, as a container restart does), the API server restarts,
// 30% of the browser pods are killed, and a pool is filled past its max.
// After each, every TestRun reaches a final phase with the counts of a direct
// run, and no browser is left leased by a holder that is gone. CI runs small
// sizes (4 runs of 2 shards on 3 browsers, 4 sessions) on this 2-core machine;
// `npm run bench:faults` runs this file at the issue's sizes (30 runs, 50 sessions)
// through the FLEETWRIGHT_FAULTS_* variables below.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kill, up } from '../../hack/controlplane.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { PodObject } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { collectionPath } from '../../src/runtime/resource.ts';
import { GATEWAY_REPLICA_LABEL, GatewayReport, REPORT_ANNOTATION } from '../../src/contracts/gateway-heartbeat.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, type LogLine, rest } from '../integration/runtime/support.ts';
import { type Counts, runDirectly } from './direct-run.ts';
import { handshake } from './handshake.ts';
import { apply, deleteFleetwrightObjects, poolManifest, poolPods, startGateway, tunnelManifest, waitForPool } from './pools.ts';

const ns = useNamespace('faults');
const size = (name: string, fallback: number) => Number(process.env[`FLEETWRIGHT_FAULTS_${name}`] ?? fallback);
const RUNS = size('RUNS', 4);
const SHARDS = 2;
const RUN_BROWSERS = size('RUN_BROWSERS', 3);
const SESSIONS = size('SESSIONS', 4);
/** Per step: a minute and a half, and 10 s more for each shard, for each run waits for browsers of 2 cores. */
const STEP_MS = 90_000 + RUNS * SHARDS * 10_000 + SESSIONS * 2_000;
const TOKEN = randomBytes(16).toString('hex');

/** Four tests of about 1.5 s each, one failing: long enough for a fault to land while shards run. */
const suiteDir = join(repoRoot, 'test', 'fixtures', 'load-suite');
const loadSuite = Object.fromEntries(readdirSync(suiteDir).map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')]));

type Shard = { index: number; phase: string; attempts?: number; browserPod?: string; runnerPod?: string };
interface RunObject extends KubeObject {
  status?: { phase?: string; shards?: Shard[]; summary?: Counts; queuePosition?: number };
}

const finalPhases = ['Succeeded', 'Failed', 'Error'];
const counts = (c?: Partial<Counts>) =>
  ({ passed: c?.passed, failed: c?.failed, flaky: c?.flaky, skipped: c?.skipped });
let direct: Counts;

// Two controllers with leader election, as the chart runs them (the chart's ServiceAccount, its Lease).
const controllers: ControllerProcess[] = [];
/** When the API server was killed, and when it answered /readyz again. */
let apiServerRestart: { from: number; ready: number } | undefined;
const startController = () => {
  const c = new ControllerProcess([
    `--image=${inject('image')}`, `--watch-namespace=${ns.name}`, '--metrics-bind-address=0', '--health-probe-bind-address=0',
    '--leader-elect', '--leader-election-id=fleetwright-controller', '--leader-election-namespace=fleetwright-system',
    '--log-level=debug',
  ], {}, fleetwrightController);
  controllers.push(c);
  return c;
};
const running = (c: ControllerProcess) => c.child.exitCode === null && c.child.signalCode === null;
const leading = () => controllers.filter((c) => running(c) && c.logged('became leader'));
/** A controller that lost its Lease exits, and its Deployment would start it again: so does this. */
function keepTwoControllers(): void {
  for (let n = controllers.filter(running).length; n < 2; n++) startController();
}

const gateways = new Map<'a' | 'b', { process: ControllerProcess; url: string }>();
/** Every gateway process started, the killed ones too, for the log checks. */
const gatewayProcesses: ControllerProcess[] = [];
async function startTestGateway(which: 'a' | 'b'): Promise<void> {
  const process = startGateway(ns.name, `gw-${which}`, ['--shutdown-timeout=2s', '--log-level=debug']);
  const url = `${(await process.url('Tunnels')).replace('http', 'ws')}/tunnels/${ns.name}/load`;
  gateways.set(which, { process, url });
  gatewayProcesses.push(process);
}
const gateway = (which: 'a' | 'b') => {
  const g = gateways.get(which);
  if (!g) throw new Error(`gateway ${which} is not running`);
  return g;
};

interface Session { browser: Browser; page: Page; via: 'a' | 'b' }
/** Every session opened, for afterAll to close what a failed test left open: the pool drains only then. */
const opened: Browser[] = [];
/** A Tunnel's URL on a replica: the load Tunnel's, or another's of the namespace. */
const tunnelUrl = (via: 'a' | 'b', tunnel = 'load') => gateway(via).url.replace(/\/load$/, `/${tunnel}`);
async function openSession(via: 'a' | 'b', tunnel?: string): Promise<Session> {
  const browser = await chromium.connect(tunnelUrl(via, tunnel), { headers: { Authorization: `Bearer ${TOKEN}` }, timeout: 120_000 });
  opened.push(browser);
  const page = await browser.newPage();
  await page.setContent('<title>session</title>');
  return { browser, page, via };
}
const openSessions = (n: number, via?: 'a' | 'b') =>
  Promise.all(Array.from({ length: n }, (_, i) => openSession(via ?? (i % 2 === 0 ? 'a' : 'b'))));
const alive = (s: Session) => s.page.evaluate(() => 6 * 7).then((v) => v === 42, () => false);
const closeAll = (sessions: Session[]) => Promise.all(sessions.map((s) => s.browser.close().catch(() => undefined)));

function submitRuns(prefix: string, n = RUNS, spec = `poolRef: { name: runs }\nshards: ${SHARDS}`): string[] {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  apply(ns.name, names.map((name) => `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: ${name} }
spec:
  source: { configMap: { name: load } }
${spec.split('\n').map((l) => `  ${l}`).join('\n')}
`).join('\n---\n'));
  return names;
}

const listRuns = async (names: string[]) =>
  (await rest().get<{ items: RunObject[] }>(collectionPath(TEST_RUN, ns.name))).items
    .filter((r) => names.includes(r.metadata.name ?? ''));

/** One list a second until every run is final. */
const allFinished = (names: string[], timeoutMs = STEP_MS) => eventually(`${names.length} runs to finish`, async () => {
  const runs = await listRuns(names);
  return runs.length === names.length && runs.every((r) => finalPhases.includes(r.status?.phase ?? '')) && runs;
}, timeoutMs, 1_000);

const someShardRunning = (names: string[]) => eventually('a shard to run', async () =>
  (await listRuns(names)).some((r) => r.status?.shards?.some((s) => s.phase === 'Running' && s.browserPod)), 120_000, 500);

async function runnerPods(run: string): Promise<PodObject[]> {
  const pods = collectionPath({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true }, ns.name);
  return (await rest().get<{ items: PodObject[] }>(pods, { labelSelector: `fleetwright.dev/testrun=${run}` })).items;
}

/**
 * Every run Failed for its one failing test, with a direct run's counts, and each shard's runner pod the one
 * of its last attempt: an earlier attempt's runner is stopped and removed when the controller sees its browser
 * lost first, or has ended on its own when the runner saw it first (it stays for its logs). None still runs.
 */
async function expectDirectCounts(runs: RunObject[], { retried }: { retried: boolean }): Promise<void> {
  for (const run of runs) {
    expect({ name: run.metadata.name, phase: run.status?.phase }).toEqual({ name: run.metadata.name, phase: 'Failed' });
    expect(counts(run.status?.summary)).toEqual(direct);
    const attempts = run.status?.shards?.map((s) => s.attempts ?? 0) ?? [];
    if (!retried) expect(attempts).toEqual(Array(SHARDS).fill(1));
    const pods = await runnerPods(run.metadata.name ?? '');
    const last = new Set(run.status?.shards?.map((shard) => shard.runnerPod));
    expect(pods.filter((p) => last.has(p.metadata.name))).toHaveLength(SHARDS);
    const earlierRunning = pods.filter((p) => !last.has(p.metadata.name) && !p.metadata.deletionTimestamp &&
      !['Succeeded', 'Failed'].includes((p.status as { phase?: string } | undefined)?.phase ?? ''));
    expect(earlierRunning.map((p) => p.metadata.name)).toEqual([]);
  }
}

/** No browser of the namespace stays leased once every run is final and every session closed. */
const noBrowserLeased = () => eventually('every browser given back', async () => {
  const pods = [...await poolPods(ns.name, 'runs'), ...await poolPods(ns.name, 'sessions'), ...await poolPods(ns.name, 'bounded')];
  return pods.every((p) => p.metadata.deletionTimestamp || !leaseOf(p));
}, 90_000, 1_000);

beforeAll(async () => {
  await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'load' }, data: loadSuite });
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: load-token }
stringData: { token: ${TOKEN} }
---
${poolManifest('runs', `replicas: ${RUN_BROWSERS}`)}
---
${poolManifest('sessions', `replicas: ${SESSIONS}`)}
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: load }
spec:
  poolRefs: [{ name: sessions }]
  auth: { secretRef: { name: load-token } }
  queueTimeoutSeconds: 180
`);
  const first = startController();
  await eventually('a controller to lead', () => first.logged('became leader'), 60_000);
  startController();
  await Promise.all([startTestGateway('a'), startTestGateway('b')]);
  [direct] = await Promise.all([
    runDirectly(suiteDir),
    waitForPool(ns.name, 'runs', `${RUN_BROWSERS} idle`, (p) => p.status?.idle === RUN_BROWSERS, STEP_MS),
    waitForPool(ns.name, 'sessions', `${SESSIONS} idle`, (p) => p.status?.idle === SESSIONS, STEP_MS),
  ]);
  expect(direct).toEqual({ passed: 3, failed: 1, flaky: 0, skipped: 0 });
}, STEP_MS + 60_000);

afterAll(async () => {
  await Promise.all(opened.map((b) => b.close().catch(() => undefined)));
  await deleteFleetwrightObjects(ns.name);
  await Promise.all([...gateways.values()].map((g) => g.process.kill('SIGTERM')));
  await Promise.all(controllers.map((c) => c.kill('SIGTERM')));
});

/**
 * Runs and sessions of one step, with `fault` landing once a shard runs: every run ends as a direct run
 * did, no shard twice, every session lives on, and every browser comes back.
 */
async function carriesOn(prefix: string, fault: () => Promise<void>): Promise<void> {
  const names = submitRuns(prefix);
  const sessions = await openSessions(SESSIONS);
  await someShardRunning(names);
  await fault();
  await expectDirectCounts(await allFinished(names), { retried: false });
  for (const s of sessions) expect(await alive(s)).toBe(true);
  await closeAll(sessions);
  await noBrowserLeased();
}

describe('faults under load', { timeout: STEP_MS + 60_000 }, () => {
  it('SIGKILL of the leading controller: the standby takes over, every run finishes, no shard runs twice', () =>
    carriesOn('leader', async () => {
      const [leader] = leading();
      expect(leader).toBeDefined();
      await leader?.kill('SIGKILL');
      const standby = controllers.find((c) => c !== leader && running(c));
      await eventually('the standby to take over', () => standby?.logged('became leader'), 60_000);
      startController();
    }));

  it('SIGKILL of a gateway replica: its sessions close, the other\'s live on, new ones are served, its browsers come back', async () => {
    const names = submitRuns('gateway');
    const sessions = await openSessions(SESSIONS);
    const killed = gateway('a').process;
    const deadIdentity = killed.lines.find((l) => l.msg === 'serving Tunnels')?.identity as string;
    expect(deadIdentity).toMatch(/gw-a_/);
    await killed.kill('SIGKILL');
    await eventually('gw-a\'s sessions to close', () => sessions.filter((s) => s.via === 'a').every((s) => !s.browser.isConnected()), 10_000);
    for (const s of sessions.filter((x) => x.via === 'b')) expect(await alive(s)).toBe(true);
    // Back under the same replica name before its Lease expires, as a restarted container is.
    await startTestGateway('a');
    // Only the dead process's browsers are free for these: served once the pool takes them back.
    const later = await openSessions(2, 'b');
    for (const s of later) expect(await alive(s)).toBe(true);
    const pods = await poolPods(ns.name, 'sessions');
    expect(pods.filter((p) => !p.metadata.deletionTimestamp && leaseOf(p)?.holder.includes(`/${deadIdentity}/`))).toEqual([]);
    const events = kubectl(['events', '-n', ns.name, '--for', 'browserpool/sessions']).stdout;
    expect(events).toContain('gateway replica');

    await expectDirectCounts(await allFinished(names), { retried: false });
    await closeAll([...sessions, ...later]);
    await noBrowserLeased();
  });

  it('a restart of the API server: runs and sessions carry on', () =>
    carriesOn('apiserver', async () => {
      const from = Date.now();
      await kill('kube-apiserver');
      await sleep(2_000);
      await up(() => undefined, { node: true });
      apiServerRestart = { from, ready: Date.now() };
      // The leader keeps its Lease through a short outage (renew deadline 10 s); if it lost it, it exited.
      await eventually('a controller to lead', async () => {
        keepTwoControllers();
        return leading().length === 1;
      }, 60_000, 1_000);
    }));

  it('30% of the browser pods killed: their shards are retried on other browsers with the same counts and the pools heal', async () => {
    const names = submitRuns('pods');
    const sessions = await openSessions(SESSIONS);
    // 30% of the browser pods, and at least two under shards and one under a session (3 of 7 in CI).
    const runVictims = Math.max(2, Math.round(0.3 * RUN_BROWSERS));
    const sessionVictims = Math.max(1, Math.round(0.3 * SESSIONS));
    const leasedRunPods = await eventually(`${runVictims} shards on browsers`, async () => {
      const pods = (await poolPods(ns.name, 'runs')).filter((p) => leaseOf(p)?.kind === 'TestRun');
      return pods.length >= runVictims && pods;
    }, 120_000, 500);
    const sessionPods = (await poolPods(ns.name, 'sessions')).filter((p) => leaseOf(p));
    const victims = [...leasedRunPods.slice(0, runVictims), ...sessionPods.slice(0, sessionVictims)]
      .map((p) => p.metadata.name ?? '');
    expect(kubectl(['delete', 'pod', ...victims, '-n', ns.name, '--grace-period=0', '--force']).status).toBe(0);

    const runs = await allFinished(names);
    await expectDirectCounts(runs, { retried: true });
    const retried = runs.flatMap((run) =>
      (run.status?.shards ?? []).filter((s) => (s.attempts ?? 0) >= 2).map((shard) => ({ run, shard })));
    expect(retried.length).toBeGreaterThanOrEqual(runVictims);
    for (const { run, shard } of retried) {
      // Its last attempt ran on a browser that was not killed, and the lost browser is named in an Event.
      expect(victims).not.toContain(shard.browserPod);
      const events = kubectl(['events', '-n', ns.name, '--for', `testrun/${run.metadata.name}`]).stdout;
      expect(events).toMatch(/browser pod \S+ was lost/);
    }
    const survivors = await Promise.all(sessions.map(alive));
    expect(survivors.filter(Boolean)).toHaveLength(SESSIONS - sessionVictims);
    await closeAll(sessions);
    await waitForPool(ns.name, 'runs', 'healed', (p) => p.status?.idle === RUN_BROWSERS, 120_000);
    await waitForPool(ns.name, 'sessions', 'healed', (p) => p.status?.idle === SESSIONS, 120_000);
    await noBrowserLeased();
  });

  it('a pool filled past its max: the runs queue and drain in order, without errors', async () => {
    apply(ns.name, poolManifest('bounded', 'autoscaling: { minReplicas: 1, maxReplicas: 2, idleBuffer: 0 }'));
    await waitForPool(ns.name, 'bounded', 'one idle', (p) => p.status?.idle === 1, 120_000);
    // One at a time, so that their creation order is their arrival order.
    const names: string[] = [];
    for (let i = 0; i < Math.max(6, RUNS); i++) {
      names.push(...submitRuns(`queued-${i}`, 1, 'poolRef: { name: bounded }'));
      await sleep(300);
    }
    const queued = await eventually('runs to queue behind the max', async () =>
      (await listRuns(names)).filter((r) => (r.status?.queuePosition ?? 0) > 0).length >= 3, 60_000, 500);
    expect(queued).toBe(true);
    const limited = await waitForPool(ns.name, 'bounded', 'ScalingLimited', (p) =>
      p.status?.conditions?.some((c) => c.type === 'ScalingLimited' && c.status === 'True') ?? false);
    expect(limited.status?.replicas).toBeLessThanOrEqual(2);

    const runs = await allFinished(names);
    for (const run of runs) {
      expect(run.status?.phase).toBe('Failed');
      expect(counts(run.status?.summary)).toEqual(direct);
    }
    // Granted in arrival order: the leader's log names each grant's holder by the run's uid.
    const uids = new Map(runs.map((r) => [r.metadata.uid, r.metadata.name]));
    const granted = controllers.flatMap((c) => c.lines)
      .filter((l) => l.msg === 'granted a browser to a waiting lease request' && typeof l.holder === 'string')
      .map((l) => uids.get((l.holder as string).split('/')[0]))
      .filter((n): n is string => n !== undefined);
    expect(granted.filter((n, i) => granted.indexOf(n) === i)).toEqual(names.filter((n) => granted.includes(n)));
    await noBrowserLeased();
  });

  it('a Tunnel\'s maxConnections counts the sessions of both replicas: one more gets 429 from either, until one closes', async () => {
    apply(ns.name, tunnelManifest('limited', 'poolRefs: [{ name: sessions }]\nauth: { secretRef: { name: load-token } }\nmaxConnections: 2'));
    const auth = { Authorization: `Bearer ${TOKEN}` };
    await eventually('both replicas to serve the Tunnel', async () =>
      (await Promise.all(['a', 'b'].map((via) => fetch(tunnelUrl(via as 'a' | 'b', 'limited').replace('ws', 'http')))))
        .every((r) => r.status !== 404), 30_000, 250);
    const sessions = [await openSession('a', 'limited'), await openSession('b', 'limited')];
    // Each replica learns the other's count from its heartbeat Lease, renewed soon after a change.
    const key = `${ns.name}/limited`;
    await eventually('both replicas to report one session', async () => {
      const leases = await rest().get<{ items: KubeObject[] }>(`/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases`,
        { labelSelector: GATEWAY_REPLICA_LABEL });
      const active = leases.items.map((l) => GatewayReport.parse(JSON.parse(l.metadata.annotations?.[REPORT_ANNOTATION] ?? '{}'))
        .tunnels[key]?.active ?? 0).filter((n) => n > 0);
      return active.length === 2 && active.every((n) => n === 1);
    }, 30_000, 250);
    for (const via of ['a', 'b'] as const) {
      const refused = await handshake(tunnelUrl(via, 'limited'), auth);
      expect({ via, status: refused.status, retryAfter: refused.headers['retry-after'] })
        .toEqual({ via, status: 429, retryAfter: expect.any(String) });
      expect(refused.body).toContain('maxConnections (2)');
    }
    await closeAll(sessions.slice(0, 1));
    const next = await eventually('a session to get in once one closed', async () => {
      const attempt = await handshake(tunnelUrl('b', 'limited'), auth);
      attempt.socket?.close();
      return attempt.status === 101;
    }, 30_000, 500);
    expect(next).toBe(true);
    await closeAll(sessions);
    await noBrowserLeased();
  });

  it('logged no reconcile errors in any controller', () => {
    // Until its /readyz answers, a restarted API server may refuse (403: its RBAC caches are still filling) or
    // fail what the controllers send it as they reconnect; they retry, and the runs' counts above show nothing lost.
    const restarting = (l: LogLine) => {
      const at = Date.parse(l.time);
      const code = (l.err as { code?: number } | undefined)?.code;
      return apiServerRestart !== undefined && at >= apiServerRestart.from && at <= apiServerRestart.ready &&
        (code === undefined || code === 403 || code >= 500);
    };
    const errors = controllers.flatMap((c) => c.lines)
      .filter((l) => l.level === 'error' && l.msg !== 'leader election lost' && !restarting(l));
    expect(errors).toEqual([]);
  });

  it('logged at debug level no Tunnel token in any controller or gateway: whole, in base64, nor its first 12 characters', () => {
    const text = JSON.stringify([...controllers, ...gatewayProcesses].flatMap((p) => p.lines));
    expect(text.length).toBeGreaterThan(100_000);
    for (const form of [TOKEN, Buffer.from(TOKEN).toString('base64'), TOKEN.slice(0, 12)]) {
      expect(text.includes(form), `a controller or gateway logged ${form}`).toBe(false);
    }
  });
});
