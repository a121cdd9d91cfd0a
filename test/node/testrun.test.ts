import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { kubectl, kubectlInBackground, useNamespace } from '../integration/helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, rest } from '../integration/runtime/support.ts';
import { type Counts, runDirectly } from './direct-run.ts';
import { podProcessStates } from './pods.ts';
import { apply, deleteFleetwrightObjects, poolManifest, poolPods, testRunManifest, waitForPool } from './pools.ts';

const ns = useNamespace('testrun');
let controller: ControllerProcess;
const startController = () => new ControllerProcess([
  `--image=${inject('image')}`,
  `--watch-namespace=${ns.name}`,
  '--metrics-bind-address=127.0.0.1:0',
  '--health-probe-bind-address=0',
], {}, fleetwrightController);

type Shard = Partial<Counts> & {
  index: number; phase: string; attempts?: number; browserPod?: string; message?: string;
};
interface RunObject extends KubeObject {
  status?: {
    phase?: string;
    shards?: Shard[];
    summary?: Counts;
    queuePosition?: number;
    conditions?: Condition[];
  };
}

const suiteDir = join(repoRoot, 'test', 'fixtures', 'suite');
/** What `playwright test` reports for the suite run directly, on Debian's chromium on this host. */
let direct: Counts;

const testRun = testRunManifest;

const getRun = (name: string) => rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name }));
const finished = (r: RunObject) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '');
const waitForRun = (name: string, what: string, done: (r: RunObject) => boolean, timeoutMs = 180_000) =>
  eventually(`TestRun ${name}: ${what}`, async () => {
    const run = await getRun(name);
    return done(run) ? run : undefined;
  }, timeoutMs);

async function runnerPods(run: string) {
  const pods = collectionPath({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true }, ns.name);
  const list = await rest().get<{ items: KubeObject[] }>(pods, {
    labelSelector: `fleetwright.dev/testrun=${run}`,
  });
  return list.items;
}

/** One passing test, and a config without the suite's web server. */
const quickSuite = {
  'playwright.config.ts': 'import { defineConfig } from \'@playwright/test\';\nexport default defineConfig({ testDir: \'.\' });\n',
  'quick.spec.ts': 'import { expect, test } from \'@playwright/test\';\n' +
    'test(\'sets a title\', async ({ page }) => {\n' +
    '  await page.setContent(\'<title>quick</title>\');\n' +
    '  await expect(page).toHaveTitle(\'quick\');\n});\n',
};

const counts = (c?: Partial<Counts>) =>
  ({ passed: c?.passed, failed: c?.failed, flaky: c?.flaky, skipped: c?.skipped });

beforeAll(async () => {
  controller = startController();
  const data = Object.fromEntries(readdirSync(suiteDir).map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')]));
  await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'suite' }, data });
  // Two Playwright workers per shard, each its own connection.
  apply(ns.name, poolManifest('runners', 'replicas: 2\nsessionsPerBrowser: 2'));
  [direct] = await Promise.all([
    runDirectly(suiteDir, { SUITE_PORT: '4199' }),
    waitForPool(ns.name, 'runners', 'two idle', (p) => p.status?.idle === 2),
  ]);
});

afterAll(async () => {
  await deleteFleetwrightObjects(ns.name);
  await controller.kill('SIGTERM');
});

describe('a TestRun on the real node', () => {
  it('runs 4 shards two at a time on a pool of 2, and its summary equals a direct run', async () => {
    expect(direct).toEqual({ passed: 9, failed: 3, flaky: 1, skipped: 1 });
    apply(ns.name, testRun('four', 'poolRef: { name: runners }\nsource: { configMap: { name: suite } }\nshards: 4'));
    let mostRunning = 0;
    let sawQueued = false;
    const run = await waitForRun('four', 'finished', (r) => {
      const running = r.status?.shards?.filter((s) => s.phase === 'Running').length ?? 0;
      mostRunning = Math.max(mostRunning, running);
      sawQueued ||= (r.status?.shards?.some((s) => s.phase === 'Pending') ?? false) && running > 0;
      return finished(r);
    });
    expect(mostRunning).toBe(2);
    expect(sawQueued).toBe(true);
    expect(run.status?.phase).toBe('Failed');
    expect(counts(run.status?.summary)).toEqual(direct);
    expect(run.status?.shards?.map((s) => s.attempts)).toEqual([1, 1, 1, 1]);
    expect(run.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'TestsFailed' });
    const failedShard = run.status?.shards?.find((s) => s.phase === 'Failed');
    expect(failedShard?.message).toMatch(/›/);
    expect(await runnerPods('four')).toHaveLength(4);

    const row = kubectl(['get', 'tr', 'four', '-n', ns.name, '--no-headers']).stdout.split(/\s+/);
    expect(row.slice(0, 6)).toEqual(['four', 'Failed', 'runners', '4', String(direct.passed), String(direct.failed)]);
    const events = kubectl(['events', '-n', ns.name, '--for', 'testrun/four']).stdout;
    expect(events).toMatch(/Started/);
    expect(events).toMatch(/Finished/);
    // Every browser went back to the pool.
    await waitForPool(ns.name, 'runners', 'both idle', (p) => p.status?.idle === 2);
    // Each shard leaves chromium processes whose parent is gone; the pod's PID 1 must reap them (it did not:
    // browser pods serving runners gathered a zombie chromium and crashpad handler per few shards).
    for (const pod of await poolPods(ns.name, 'runners')) {
      const states = await eventually(`${pod.metadata.name}'s orphans reaped`, () => {
        const all = podProcessStates(pod.metadata.name ?? '');
        return all.every((state) => state !== 'Z') && all;
      }, 10_000);
      expect(states.length).toBeGreaterThan(3);
    }
  });
});

describe('many TestRuns at once', () => {
  it('finishes 12 runs on a pool of 3, higher priority first, no browser held twice', async () => {
    apply(ns.name, poolManifest('trio', 'replicas: 3\nsessionsPerBrowser: 2'));
    await waitForPool(ns.name, 'trio', 'three idle', (p) => p.status?.idle === 3);
    // The blocker runs the whole suite; the twelve runs a one-test suite, so that they measure the queue,
    // not how fast two cores run Playwright.
    await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'quick' }, data: quickSuite });
    apply(ns.name, testRun('blocker', 'poolRef: { name: trio }\nsource: { configMap: { name: suite } }\nshards: 3'));
    await waitForRun('blocker', 'all shards running', (r) => r.status?.shards?.filter((s) => s.phase === 'Running').length === 3);
    const names = Array.from({ length: 6 }, (_, i) => [`low-${i}`, `high-${i}`]).flat();
    const quick = 'poolRef: { name: trio }\nsource: { configMap: { name: quick } }';
    apply(ns.name, names.map((n) => testRun(n, `${quick}\npriority: ${n.startsWith('high') ? 10 : 0}`)).join('\n---\n'));
    // While the blocker holds every browser, the queue puts the high-priority runs first.
    await eventually('queue positions by priority', async () => {
      const [high, low] = await Promise.all([getRun('high-0'), getRun('low-0')]);
      const h = high.status?.queuePosition;
      const l = low.status?.queuePosition;
      return h !== undefined && l !== undefined && h <= 6 && l > 6;
    }, 30_000);
    // One list a second: twelve pollers would load the API server more than the runs do.
    const runs = await eventually('all 12 runs finished', async () => {
      const list = await rest().get<{ items: RunObject[] }>(collectionPath(TEST_RUN, ns.name));
      const mine = list.items.filter((r) => names.includes(r.metadata.name ?? ''));
      return mine.length === names.length && mine.every(finished) && mine;
    }, 400_000, 1_000);
    for (const run of runs) expect(counts(run.status?.summary)).toEqual({ passed: 1, failed: 0, flaky: 0, skipped: 0 });

    // The pool controller's grants, in order: every high-priority run before any low one.
    const uids = new Map(runs.map((r) => [r.metadata.uid, r.metadata.name]));
    const granted = controller.lines
      .filter((l) => l.msg === 'granted a browser to a waiting lease request' && typeof l.holder === 'string')
      .map((l) => uids.get((l.holder as string).split('/')[0]))
      .filter((n): n is string => n !== undefined);
    expect(granted).toHaveLength(12);
    expect(granted.slice(0, 6).every((n) => n.startsWith('high'))).toBe(true);

    // No browser served two runners at once.
    const spans = new Map<string, [number, number][]>();
    for (const name of names) {
      for (const pod of await runnerPods(name)) {
        const spec = pod.spec as { containers: { env: { name: string; value?: string }[] }[] };
        const endpoint = spec.containers[0]?.env.find((e) => e.name === 'PW_TEST_CONNECT_WS_ENDPOINT')?.value ?? '';
        type Terminated = { startedAt: string; finishedAt: string };
        const status = pod.status as { containerStatuses: { state: { terminated: Terminated } }[] };
        const state = status.containerStatuses[0]?.state.terminated;
        const span: [number, number] = [Date.parse(state?.startedAt ?? ''), Date.parse(state?.finishedAt ?? '')];
        spans.set(endpoint, [...(spans.get(endpoint) ?? []), span]);
      }
    }
    for (const list of spans.values()) {
      list.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < list.length; i++) expect(list[i]?.[0]).toBeGreaterThanOrEqual(list[i - 1]?.[1] ?? 0);
    }
  }, 600_000);
});

describe('deadlines and clean-up', () => {
  it('fails a run past timeoutSeconds, stops its runners, and deletes it after ttlSecondsAfterFinished', async () => {
    const spec = 'poolRef: { name: runners }\nsource: { configMap: { name: suite } }\ntimeoutSeconds: 4\nttlSecondsAfterFinished: 3';
    apply(ns.name, testRun('late', `${spec}\ncleanupPolicy: Always`));
    apply(ns.name, testRun('kept', `${spec}\ncleanupPolicy: OnSuccess`));
    const late = await waitForRun('late', 'failed', finished, 60_000);
    expect(late.status?.phase).toBe('Failed');
    expect(late.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'Timeout' });
    await eventually('its runners to stop', async () => (await runnerPods('late')).every((p) =>
      p.metadata.deletionTimestamp || ['Succeeded', 'Failed'].includes((p.status as { phase: string }).phase)), 30_000);
    await eventually('the run to be deleted', async () => kubectl(['get', 'tr', 'late', '-n', ns.name]).stderr.includes('NotFound'), 30_000);
    await waitForRun('kept', 'failed', finished, 60_000);
    await sleep(4_000);
    expect((await getRun('kept')).status?.phase).toBe('Failed');
  });
});

describe('bad TestRuns', () => {
  const scheduled = (r: RunObject) => r.status?.conditions?.find((c) => c.type === 'Scheduled');

  it('says when its pool or its ConfigMap is missing, and starts once they exist', async () => {
    apply(ns.name, testRun('no-pool', 'poolRef: { name: nowhere }\nsource: { configMap: { name: suite } }'));
    apply(ns.name, testRun('no-source', 'poolRef: { name: runners }\nsource: { configMap: { name: missing } }'));
    const noPool = await waitForRun('no-pool', 'PoolNotFound', (r) => scheduled(r)?.reason === 'PoolNotFound');
    expect(noPool.status?.phase).toBe('Pending');
    expect(scheduled(noPool)?.message).toBe(`BrowserPool nowhere does not exist in namespace ${ns.name}: create it or fix spec.poolRef`);
    const noSource = await waitForRun('no-source', 'SourceNotFound', (r) => scheduled(r)?.reason === 'SourceNotFound');
    expect(scheduled(noSource)?.message).toMatch(/^ConfigMap missing with the tests does not exist/);
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/no-pool']).stdout).toContain('PoolNotFound');
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/no-source']).stdout).toContain('SourceNotFound');

    await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'missing' }, data: readdirSync(suiteDir).reduce(
      (d, f) => ({ ...d, [f]: readFileSync(join(suiteDir, f), 'utf8') }), {}) });
    await waitForRun('no-source', 'started after its ConfigMap appeared', (r) => ['Queued', 'Running'].includes(r.status?.phase ?? '') || finished(r));
    kubectl(['delete', 'tr', 'no-pool', 'no-source', '-n', ns.name]);
  });

  it('warns when it has more shards than its pool can ever run at once', async () => {
    apply(ns.name, testRun('wide', 'poolRef: { name: runners }\nsource: { configMap: { name: suite } }\nshards: 3'));
    const run = await waitForRun('wide', 'ShardsExceedPoolCapacity', (r) => scheduled(r)?.reason === 'ShardsExceedPoolCapacity');
    expect(scheduled(run)?.message).toBe('3 shards on BrowserPool runners of at most 2 browser(s): at most 2 run at a time');
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/wide']).stdout).toContain('ShardsExceedPoolCapacity');
    kubectl(['delete', 'tr', 'wide', '-n', ns.name]);
  });
});

describe('deleting a TestRun', () => {
  it('stops its runners and frees its browsers', async () => {
    apply(ns.name, testRun('doomed', 'poolRef: { name: runners }\nsource: { configMap: { name: suite } }\nshards: 2'));
    await waitForRun('doomed', 'running', (r) => r.status?.phase === 'Running');
    expect((await kubectlInBackground(['delete', 'tr', 'doomed', '-n', ns.name, '--wait=true', '--timeout=60s'])).status).toBe(0);
    await waitForPool(ns.name, 'runners', 'both idle', (p) => p.status?.idle === 2 && p.status.busy === 0);
    await eventually('its runners to be gone', async () => (await runnerPods('doomed')).length === 0, 60_000);
  });
});

describe('the controller process', () => {
  it('exports the TestRun metrics', async () => {
    const text = await (await fetch(`${await controller.url('metrics')}/metrics`)).text();
    const pool = (name: string) => `namespace="${ns.name}",pool="${name}"`;
    expect(text).toContain(`\nfleetwright_tests_total{${pool('trio')},result="passed"} 21\n`);
    expect(text).toContain(`\nfleetwright_tests_total{${pool('trio')},result="failed"} 3\n`);
    expect(text).toMatch(/^fleetwright_testruns\{phase="Failed"\} \d+$/m);
    expect(text).toContain(`\nfleetwright_testrun_queue_seconds_count{${pool('trio')}} 13\n`);
    expect(text).toMatch(new RegExp(`^fleetwright_testrun_duration_seconds_count\\{${pool('runners')},result="Failed"\\} \\d+$`, 'm'));
    expect(text).toContain('# TYPE fleetwright_shard_retries_total counter');
  });

  it('logged no reconcile errors', () => {
    expect(controller.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
