import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import { type Condition, setCondition } from '../../../src/runtime/conditions.ts';
import { EventRecorder } from '../../../src/runtime/events.ts';
import { collectionPath } from '../../../src/runtime/resource.ts';
import { isConflict } from '../../../src/runtime/rest.ts';
import { addFinalizer, applyStatus, removeFinalizer } from '../../../src/runtime/status.ts';
import { useNamespace } from '../helpers.ts';
import { rest } from './support.ts';

// The runtime knows no kind; a BrowserPool is simply a CRD with a status subresource and conditions at hand.
const ns = useNamespace('rt-helpers');
const pools: ResourceType = {
  apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', plural: 'browserpools', namespaced: true,
};

interface Pool extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas?: number; observedGeneration?: number; conditions?: Condition[] };
}

async function createPool(name: string): Promise<Pool> {
  return rest().create<Pool>(collectionPath(pools, ns.name), {
    apiVersion: pools.apiVersion, kind: pools.kind, metadata: { name }, spec: { replicas: 1 },
  });
}

describe('object helpers against the API server', () => {
  it('sends a DELETE\'s DeleteOptions: a stale resourceVersion precondition is refused, a current one deletes', async () => {
    const api = rest();
    const pool = await createPool('delete-options');
    const path = `${collectionPath(pools, ns.name)}/delete-options`;
    const options = (resourceVersion: string) => ({ apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } });
    await api.mergePatch(path, { spec: { replicas: 2 } });
    const stale = await api.request('DELETE', path, { body: options(pool.metadata.resourceVersion ?? '') }).catch((e: unknown) => e);
    expect(isConflict(stale)).toBe(true);
    const current = await api.get<Pool>(path);
    await api.request('DELETE', path, { body: options(current.metadata.resourceVersion ?? '') });
    await expect(api.get(path)).rejects.toThrow();
  });

  it('applies status through the status subresource as fleetwright, moving lastTransitionTime only on a flip', async () => {
    const api = rest();
    const pool = await createPool('status');
    const t0 = new Date('2026-01-01T00:00:00Z');
    const ready = { type: 'Ready', reason: 'Starting', message: 'no browser yet', observedGeneration: 1 } as const;
    let stored = await applyStatus<Pool>(api, pools, pool, {
      replicas: 0, observedGeneration: 1, conditions: setCondition(undefined, { ...ready, status: 'False' }, t0),
    });
    expect(stored.status?.conditions?.[0]).toMatchObject({ status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' });
    expect(stored.spec.replicas).toBe(1);
    const managers = (stored.metadata.managedFields as { manager: string; subresource?: string }[])
      .filter((m) => m.subresource === 'status').map((m) => m.manager);
    expect(managers).toEqual(['fleetwright']);

    // The same status on a later pass: the time stays. A flip: it moves.
    const t1 = new Date('2026-01-01T00:01:00Z');
    stored = await applyStatus<Pool>(api, pools, stored, {
      replicas: 0, observedGeneration: 1,
      conditions: setCondition(stored.status?.conditions, { ...ready, status: 'False', message: 'pulling' }, t1),
    });
    expect(stored.status?.conditions?.[0]).toMatchObject({ message: 'pulling', lastTransitionTime: '2026-01-01T00:00:00Z' });
    stored = await applyStatus<Pool>(api, pools, stored, {
      replicas: 1, observedGeneration: 1,
      conditions: setCondition(stored.status?.conditions, { ...ready, status: 'True', reason: 'Ready' }, t1),
    });
    expect(stored.status?.conditions?.[0]).toMatchObject({ status: 'True', lastTransitionTime: '2026-01-01T00:01:00Z' });

    // Apply makes the status exactly what was sent: a field no longer set is gone.
    const { conditions } = stored.status ?? {};
    stored = await applyStatus<Pool>(api, pools, stored, { observedGeneration: 1, conditions });
    expect(stored.status?.replicas).toBeUndefined();
  });

  it('adds and removes a finalizer, refusing to work from a stale copy', async () => {
    const api = rest();
    const pool = await createPool('finalizer');
    const withFinalizer = await addFinalizer(api, pools, pool, 'fleetwright.dev/cleanup');
    expect(withFinalizer.metadata.finalizers).toEqual(['fleetwright.dev/cleanup']);
    expect(await addFinalizer(api, pools, withFinalizer, 'fleetwright.dev/cleanup')).toBe(withFinalizer);

    const stale = await addFinalizer(api, pools, pool, 'other.dev/x').catch((err: unknown) => err);
    expect(isConflict(stale)).toBe(true);

    const removed = await removeFinalizer(api, pools, withFinalizer, 'fleetwright.dev/cleanup');
    expect(removed.metadata.finalizers).toBeUndefined();
  });

  it('records an events.k8s.io/v1 Event about the object', async () => {
    const api = rest();
    const pool = await createPool('events');
    const recorder = new EventRecorder(api, {
      controller: 'fleetwright.dev/controller', instance: 'test-instance', log: pino({ level: 'silent' }),
    });
    await recorder.emit(pool, { type: 'Warning', reason: 'PoolNotFound', action: 'Reconcile', note: 'pool "x" not found' });
    const events = await api.get<{ items: KubeObject[] }>(`/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
    expect(events.items).toContainEqual(expect.objectContaining({
      reason: 'PoolNotFound',
      note: 'pool "x" not found',
      type: 'Warning',
      action: 'Reconcile',
      reportingController: 'fleetwright.dev/controller',
      regarding: expect.objectContaining({ kind: 'BrowserPool', name: 'events', uid: pool.metadata.uid }),
    }));
  });
});
