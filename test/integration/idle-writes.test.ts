import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN } from '../../src/api/resources.ts';
import { collectionPath } from '../../src/runtime/resource.ts';
import { useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, listAll, rest } from './runtime/support.ts';

// With no node, browser pods stay Pending and TestRuns stay queued: a system
// that waits, where nothing changes. Such a controller must write nothing and
// reconcile nothing until something does change.

const ns = useNamespace('idle');
const QUIET_MS = 12_000;
let controller: ControllerProcess;
let metricsUrl: string;

type Obj = KubeObject & { status?: { desiredReplicas?: number } & Record<string, unknown> };

/** The controller's own counts: requests by method, reconciles by controller, keys queued. */
async function counts() {
  const res = await fetch(`${metricsUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${metricsUrl}/metrics: ${res.status}`);
  const text = await res.text();
  const total = (name: string, label = '') => text.split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return {
    reads: total('rest_client_requests_total', 'method="GET"'),
    writes: total('rest_client_requests_total') - total('rest_client_requests_total', 'method="GET"'),
    testRunReconciles: total('controller_runtime_reconcile_total', 'controller="testrun"'),
    poolReconciles: total('controller_runtime_reconcile_total', 'controller="browserpool"'),
    queued: total('workqueue_depth'),
  };
}

beforeAll(async () => {
  controller = new ControllerProcess([
    `--watch-namespace=${ns.name}`, '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
  metricsUrl = await controller.url('metrics');
  const r = rest();
  await r.create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'suite' }, data: { 'a.spec.ts': '' } });
  // p3 autoscales and was asked for a size it ignores: its desiredReplicas and ScaleIgnored condition stay put too.
  const specs = {
    p1: { replicas: 2 },
    p2: { replicas: 1 },
    p3: { replicas: 3, autoscaling: { minReplicas: 1, maxReplicas: 2 } },
  };
  for (const [name, spec] of Object.entries(specs)) {
    await r.create(collectionPath(BROWSER_POOL, ns.name), {
      apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind, metadata: { name }, spec,
    });
  }
  for (const [name, pool, shards] of [['r1', 'p1', 1], ['r2', 'p1', 2], ['r3', 'p2', 1]] as const) {
    await r.create(collectionPath(TEST_RUN, ns.name), {
      apiVersion: TEST_RUN.apiVersion, kind: TEST_RUN.kind, metadata: { name },
      spec: { poolRef: { name: pool }, source: { configMap: { name: 'suite' } }, shards },
    });
  }
});

afterAll(async () => {
  await controller.kill('SIGTERM');
});

describe('an idle controller', () => {
  it('makes no writes and no reconciles while its pools and queued runs wait', async () => {
    await eventually('the pools to report their pods and the runs their place in the queue', async () => {
      const pools = await listAll<Obj>(BROWSER_POOL, ns.name);
      const runs = await listAll<Obj>(TEST_RUN, ns.name);
      return pools.length === 3 && pools.every((p) => p.status?.desiredReplicas !== undefined &&
        p.status.replicas === p.status.desiredReplicas) &&
        runs.length === 3 && runs.every((t) => t.status?.phase === 'Queued' && t.status.queuePosition !== undefined);
    });
    // Settled: the last status and Event writes are done, and nothing is queued.
    let before = await counts();
    await eventually('the controller to settle', async () => {
      await sleep(1_000);
      const now = await counts();
      const still = now.writes === before.writes && now.queued === 0;
      before = now;
      return still;
    });

    expect(before.reads).toBeGreaterThan(0);
    await sleep(QUIET_MS);
    const after = await counts();
    expect(after.writes - before.writes).toBe(0);
    // The lists at start are all it reads; a few reads would be a timer we did not mean.
    expect(after.reads - before.reads).toBeLessThanOrEqual(2);
    // A queued run waits for its queue's events; no timer wakes it.
    expect(after.testRunReconciles - before.testRunReconciles).toBe(0);
    expect(after.poolReconciles - before.poolReconciles).toBeLessThanOrEqual(2);
    expect(controller.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  }, 40_000);
});
