import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LEASE } from '../../../src/api/builtin.ts';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import type { TestRunObject } from '../../../src/api/objects.ts';
import { TEST_RUN } from '../../../src/api/resources.ts';
import { testRunController } from '../../../src/controllers/testrun/index.ts';
import { nextLookMs } from '../../../src/controllers/testrun/requeue.ts';
import { QueueIndex } from '../../../src/leasing/queue-index.ts';
import { type LeaseRequest, leaseRequest, queueOrder } from '../../../src/leasing/requests.ts';
import type { ChangeWatch } from '../../../src/runtime/controller.ts';
import type { Request } from '../../../src/runtime/resource.ts';
import { Store } from '../../../src/runtime/store.ts';

const t0 = Date.parse('2026-11-23T12:00:00Z');

const run = (namespace: string, name: string, phase = 'Queued'): TestRunObject => ({
  apiVersion: TEST_RUN.apiVersion,
  kind: TEST_RUN.kind,
  metadata: { namespace, name, uid: `uid-${namespace}-${name}` },
  spec: { poolRef: { name: 'p' } },
  status: { phase },
} as unknown as TestRunObject);

/** The lease request of `owner`'s first shard, queued `second` seconds after t0. */
function request(owner: TestRunObject, second: number, options: { priority?: number; pool?: string } = {}) {
  const { namespace = '', name = '', uid = '' } = owner.metadata;
  return leaseRequest({
    pool: { namespace, name: options.pool ?? 'p' },
    lease: { holder: `${uid}/1/1`, kind: 'TestRun', ref: `${namespace}/${name}` },
    priority: options.priority ?? 0,
    owner: [{ apiVersion: TEST_RUN.apiVersion, kind: TEST_RUN.kind, name, uid, controller: true }],
    name: `testrun-${name}-1-1`,
    now: new Date(t0 + second * 1000),
  });
}

/** The real controller's Lease watch over a cache of `runs`, as the runner calls it for each event. */
function leaseWatch(runs: TestRunObject[]) {
  const store = new Store<TestRunObject>();
  for (const r of runs) store.upsert(r);
  const controller = testRunController({ image: 'runner', registry: new Registry() });
  const caches = <T extends KubeObject>(type: ResourceType) =>
    (type === TEST_RUN ? store : new Store()) as unknown as Store<T>;
  controller.setup?.(caches);
  const watch = controller.watches?.find((w): w is ChangeWatch => w.type === LEASE && 'changes' in w);
  if (!watch) throw new Error('the TestRun controller has no Lease change watch');
  return {
    added: (r: KubeObject) => watch.changes(undefined, r),
    updated: (before: KubeObject, after: KubeObject) => watch.changes(before, after),
    deleted: (r: KubeObject) => watch.changes(r, undefined),
  };
}

const names = (requests: Request[]) => requests.map((r) => r.name).sort();

/** A pool with `n` queued runs, each with its request, joined one second apart. */
function queueOf(n: number) {
  const runs = Array.from({ length: n }, (_, i) => run('a', `run-${i}`));
  const requests = runs.map((r, i) => request(r, i));
  const watch = leaseWatch(runs);
  const woken = requests.map((r) => watch.added(r).length);
  return { runs, requests, watch, woken };
}

describe('TestRun requeue', () => {
  it('looks at a queued run again only at its deadline: no timer while it waits', () => {
    expect(nextLookMs(0, 3_600_000, 2_500)).toBe(3_600_000);
  });

  it('looks at running shards every progress interval, or at the deadline when sooner', () => {
    expect(nextLookMs(2, 3_600_000, 2_500)).toBe(2_500);
    expect(nextLookMs(2, 1_000, 2_500)).toBe(1_000);
  });
});

describe('a lease request\'s change wakes only the queued runs whose place it moved', () => {
  it('a request joining the end of a queue of 1,000 wakes its own run only', () => {
    const { woken, watch } = queueOf(1000);
    // Each of the 1,000 requests joined behind the others: one run woken per change, not the queue.
    expect(woken.every((n) => n === 1)).toBe(true);
    const late = run('a', 'late');
    expect(watch.added(request(late, 5000))).toEqual([]); // not in the cache yet: its own event brings it
  });

  it('a request leaving from the middle wakes the runs behind it and nobody ahead', () => {
    const { requests, watch } = queueOf(1000);
    expect(names(watch.deleted(requests[990] as LeaseRequest))).toEqual(
      Array.from({ length: 10 }, (_, i) => `run-${990 + i}`).sort(),
    );
    // The head leaving moves everyone: that is what changed, not the cost of a change.
    expect(watch.deleted(requests[0] as LeaseRequest)).toHaveLength(999);
  });

  it('a renewal that moves nobody wakes nobody', () => {
    const { requests, watch } = queueOf(1000);
    const before = requests[500] as LeaseRequest;
    const renewed = { ...before, metadata: { ...before.metadata, resourceVersion: '2' }, spec: { ...before.spec, renewTime: 'x' } };
    expect(watch.updated(before, renewed)).toEqual([]);
  });

  it('a request whose priority rises wakes only itself and those it passed', () => {
    const { runs, requests, watch } = queueOf(100);
    const before = requests[50] as LeaseRequest;
    const urgent = request(runs[50] as TestRunObject, 50, { priority: 10 });
    expect(names(watch.updated(before, urgent))).toEqual(Array.from({ length: 51 }, (_, i) => `run-${i}`).sort());
  });

  it('wakes no run that is not queued, and none for Leases that are not lease requests', () => {
    const queued = run('a', 'queued');
    const running = run('a', 'running', 'Running');
    const watch = leaseWatch([queued, running]);
    expect(watch.added(request(running, 0))).toEqual([]);
    expect(watch.added(request(queued, 1))).toEqual([{ namespace: 'a', name: 'queued' }]);
    const election: KubeObject = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'a', name: 'leader' } };
    expect(watch.added(election)).toEqual([]);
    expect(watch.deleted(election)).toEqual([]);
  });

  it('keeps queues of other pools and namespaces apart', () => {
    const a = run('a', 'x');
    const b = run('b', 'x');
    const c = run('a', 'y');
    const watch = leaseWatch([a, b, c]);
    const ra = request(a, 1);
    watch.added(ra);
    watch.added(request(b, 0));
    watch.added(request(c, 0, { pool: 'other' }));
    expect(watch.deleted(ra)).toEqual([{ namespace: 'a', name: 'x' }]);
  });
});

describe('QueueIndex', () => {
  it('gives each run the place queueOrder gives its first request, through joins, moves and leaves', () => {
    const runs = Array.from({ length: 40 }, (_, i) => run('a', `r${i}`));
    const index = new QueueIndex();
    const live = new Map<string, LeaseRequest>();
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let step = 0; step < 400; step++) {
      const owner = runs[random(runs.length)] as TestRunObject;
      const key = owner.metadata.name ?? '';
      const present = live.get(key);
      if (present && random(3) === 0) {
        index.delete(present);
        live.delete(key);
      } else {
        const next = request(owner, random(20), { priority: random(3) });
        index.set(next);
        live.set(key, next);
      }
      const order = queueOrder([...live.values()]);
      for (const r of runs) {
        const at = order.findIndex((q) => q.metadata.ownerReferences?.[0]?.uid === r.metadata.uid);
        expect(index.position('a', 'p', r.metadata.uid ?? '')).toBe(at < 0 ? undefined : at + 1);
      }
    }
  });
});
