// The reconciler frame with its cache, API writes and Events in memory: what it hands a controller, what it
// writes for it, and what it does not retry.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import {
  type Caches,
  ControllerRunner,
  generationChanged,
  type ReconcileContext,
  TerminalError,
  type Watch,
} from '../../../src/runtime/controller.ts';
import type { EventRecorder, EventSpec } from '../../../src/runtime/events.ts';
import { type EventHandler, Informer } from '../../../src/runtime/informer.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { defineReconciler, type Outcome, type Reconciler } from '../../../src/runtime/reconciler.ts';
import { ApiError, type RestClient } from '../../../src/runtime/rest.ts';
import { Store } from '../../../src/runtime/store.ts';

const WIDGET: ResourceType = { apiVersion: 'example.dev/v1', kind: 'Widget', plural: 'widgets', namespaced: true };
const FINALIZER = 'example.dev/cleanup';
const request = { namespace: 'team-a', name: 'w' };

type Widget = KubeObject & { spec?: { size?: number }; status?: Record<string, unknown> };

const widget = (fields: Partial<Widget['metadata']> = {}, status?: Record<string, unknown>): Widget => ({
  apiVersion: WIDGET.apiVersion,
  kind: WIDGET.kind,
  metadata: { name: 'w', namespace: 'team-a', uid: 'uid-w', generation: 1, resourceVersion: '10', ...fields },
  spec: { size: 1 },
  ...(status ? { status } : {}),
});

/** An API server of one object: what was applied and patched, with resourceVersions that move on each write. */
function fakeServer(initial: Widget) {
  let stored = initial;
  let version = 100;
  const applied: Record<string, unknown>[] = [];
  const finalizerPatches: string[][] = [];
  const bump = (obj: Widget): Widget => ({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(++version) } });
  const rest = {
    apply: (_path: string, body: { status: Record<string, unknown> }) => {
      applied.push(body.status);
      stored = bump({ ...stored, status: body.status });
      return Promise.resolve(stored);
    },
    mergePatch: (path: string, patch: { metadata: { finalizers: string[]; resourceVersion?: string } }) => {
      if (patch.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        return Promise.reject(new ApiError('PATCH', path, 409, { reason: 'Conflict' }));
      }
      finalizerPatches.push(patch.metadata.finalizers);
      stored = bump({ ...stored, metadata: { ...stored.metadata, finalizers: patch.metadata.finalizers } });
      return Promise.resolve(stored);
    },
  } as unknown as RestClient;
  return { rest, applied, finalizerPatches, stored: () => stored };
}

/** A context whose cache holds `objects` and whose writes go to `rest`. */
function context(rest: RestClient, objects: KubeObject[]) {
  const store = new Store();
  for (const obj of objects) store.upsert(obj);
  const events: EventSpec[] = [];
  const ctx = {
    log: pino({ level: 'silent' }),
    reconcileID: 'r1',
    signal: new AbortController().signal,
    cache: (() => store) as unknown as Caches,
    rest,
    events: {
      emit: (_obj: KubeObject, e: EventSpec) => Promise.resolve(void events.push(e)),
    } as unknown as EventRecorder,
  } satisfies ReconcileContext;
  return { ctx, store, events };
}

/** A reconciler that records what it was handed and returns `outcome` (a status of the size by default). */
function recording(overrides: Partial<Reconciler<Widget>> = {}) {
  const seen: { reconciled: Widget[]; finalized: Widget[]; gone: number; afterStatus: boolean[] } = {
    reconciled: [], finalized: [], gone: 0, afterStatus: [],
  };
  const outcome = (w: Widget): Outcome => ({
    status: { size: w.spec?.size },
    afterStatus: (written) => void seen.afterStatus.push(written),
  });
  const spec: Reconciler<Widget> = {
    name: 'widget',
    for: WIDGET,
    clock: () => new Date('2026-12-06T10:00:00Z'),
    reconcile: (w) => {
      seen.reconciled.push(w);
      return Promise.resolve(outcome(w));
    },
    gone: () => {
      seen.gone++;
      return Promise.resolve({ requeueAfter: 5_000 });
    },
    ...overrides,
  };
  return { controller: defineReconciler(spec), seen };
}

describe('the reconciler frame', () => {
  it('ends the pass on an object the cache does not hold, leaving the key to `gone`', async () => {
    const server = fakeServer(widget());
    const { ctx } = context(server.rest, []);
    const { controller, seen } = recording();
    expect(await controller.reconcile(request, ctx)).toEqual({ requeueAfter: 5_000 });
    expect(seen).toMatchObject({ reconciled: [], gone: 1 });
    expect(server.applied).toEqual([]);
  });

  it('hands the typed object over and writes the status it returns once, and only when it changed', async () => {
    const server = fakeServer(widget());
    const { ctx, store } = context(server.rest, [widget()]);
    const { controller, seen } = recording();
    await controller.reconcile(request, ctx);
    expect(seen.reconciled[0]?.spec).toEqual({ size: 1 });
    expect(server.applied).toEqual([{ size: 1 }]);
    expect(seen.afterStatus).toEqual([true]);

    // The cache catches up with the write: the same status again writes nothing.
    store.upsert(server.stored());
    await controller.reconcile(request, ctx);
    expect(server.applied).toHaveLength(1);
    expect(seen.afterStatus).toEqual([true, false]);
  });

  it('hands the next pass the status it wrote while the cache still holds the version from before', async () => {
    const server = fakeServer(widget());
    const { ctx, store } = context(server.rest, [widget({}, { size: 0 })]);
    const { controller, seen } = recording();
    await controller.reconcile(request, ctx);
    expect(server.applied).toEqual([{ size: 1 }]);

    // The watch has not delivered the write yet: the pass reads what it wrote, and writes nothing again.
    await controller.reconcile(request, ctx);
    expect(seen.reconciled[1]?.status).toEqual({ size: 1 });
    expect(server.applied).toHaveLength(1);

    // A newer version in the cache is the truth again, whatever status it carries.
    store.upsert(widget({ resourceVersion: '200' }, { size: 7 }));
    await controller.reconcile(request, ctx);
    expect(seen.reconciled[2]?.status).toEqual({ size: 7 });
    expect(server.applied).toEqual([{ size: 1 }, { size: 1 }]);
  });

  it('adds its finalizer once, before the controller acts, and not when observe stops the pass', async () => {
    const server = fakeServer(widget());
    const { ctx, store } = context(server.rest, [widget()]);
    let valid = false;
    const { controller, seen } = recording({
      finalizer: { name: FINALIZER, finalize: () => Promise.resolve() },
      observe: (w) => Promise.resolve(valid ? { act: w } : { stop: { status: { problem: 'invalid' }, requeueAfter: 30_000 } }),
    });
    expect(await controller.reconcile(request, ctx)).toEqual({ requeueAfter: 30_000 });
    expect(server.finalizerPatches).toEqual([]);
    expect(server.applied).toEqual([{ problem: 'invalid' }]);
    expect(seen.reconciled).toEqual([]);

    valid = true;
    store.upsert(server.stored());
    await controller.reconcile(request, ctx);
    expect(server.finalizerPatches).toEqual([[FINALIZER]]);
    expect(seen.reconciled[0]?.metadata.finalizers).toEqual([FINALIZER]);

    store.upsert(server.stored());
    await controller.reconcile(request, ctx);
    expect(server.finalizerPatches).toHaveLength(1);
  });

  it('routes an object being deleted to finalize, and removes the finalizer once finalize is done', async () => {
    const deleting = widget({ finalizers: ['other.dev/keep', FINALIZER], deletionTimestamp: '2026-12-06T09:59:00Z' });
    const server = fakeServer(deleting);
    const { ctx, store } = context(server.rest, [deleting]);
    let leased = 2;
    const finalized: Widget[] = [];
    const { controller, seen } = recording({
      finalizer: {
        name: FINALIZER,
        finalize: (w) => {
          finalized.push(w);
          return Promise.resolve(leased > 0 ? { status: { draining: leased }, requeueAfter: 1_000 } : undefined);
        },
      },
    });
    expect(await controller.reconcile(request, ctx)).toEqual({ requeueAfter: 1_000 });
    expect(server.applied).toEqual([{ draining: 2 }]);
    expect(server.finalizerPatches).toEqual([]);

    leased = 0;
    store.upsert(server.stored());
    expect(await controller.reconcile(request, ctx)).toEqual({});
    expect(server.finalizerPatches).toEqual([['other.dev/keep']]);
    expect(finalized).toHaveLength(2);
    expect(seen.reconciled).toEqual([]);

    // Only another controller's finalizer left: nothing is this controller's to do.
    store.upsert(server.stored());
    await controller.reconcile(request, ctx);
    expect(finalized).toHaveLength(2);
    expect(server.finalizerPatches).toHaveLength(1);
  });

  it('reconciles an object being deleted as any other when it has no finalizer', async () => {
    const deleting = widget({ finalizers: ['other.dev/keep'], deletionTimestamp: '2026-12-06T09:59:00Z' });
    const server = fakeServer(deleting);
    const { ctx } = context(server.rest, [deleting]);
    const { controller, seen } = recording();
    await controller.reconcile(request, ctx);
    expect(seen.reconciled).toHaveLength(1);
  });

  it('lets a pass store a status mid-way, which the rest of the pass and its final write build on', async () => {
    const server = fakeServer(widget());
    const { ctx } = context(server.rest, [widget()]);
    const { controller, seen } = recording({
      observe: async (w, pass) => {
        await pass.writeStatusNow({ pinned: 'abc' });
        return { act: w };
      },
      reconcile: (w) => {
        seen.reconciled.push(w);
        return Promise.resolve({ status: { ...w.status, size: 1 } });
      },
    });
    await controller.reconcile(request, ctx);
    expect(seen.reconciled[0]?.status).toEqual({ pinned: 'abc' });
    expect(server.applied).toEqual([{ pinned: 'abc' }, { pinned: 'abc', size: 1 }]);
  });

  it('ends a pass quietly when the object is deleted under it (a 404 from a write)', async () => {
    const { ctx } = context({
      apply: (path: string) => Promise.reject(new ApiError('PATCH', path, 404, { reason: 'NotFound' })),
    } as unknown as RestClient, [widget()]);
    const { controller } = recording();
    await expect(controller.reconcile(request, ctx)).resolves.toBeUndefined();
  });

  it('says a terminal error in a Stalled condition and a Warning Event, and takes it back once a pass succeeds', async () => {
    const server = fakeServer(widget());
    const { ctx, store, events } = context(server.rest, [widget({}, { size: 1 })]);
    let broken = true;
    const message = 'Widget team-a/w: size 1 cannot be served: fix spec.size';
    const { controller } = recording({
      reconcile: (w) => {
        if (broken) return Promise.reject(new TerminalError(message, { reason: 'SizeUnserved' }));
        return Promise.resolve({ status: { ...w.status, size: w.spec?.size } });
      },
    });
    await expect(controller.reconcile(request, ctx)).rejects.toBeInstanceOf(TerminalError);
    expect(server.applied).toEqual([{
      size: 1,
      conditions: [{
        type: 'Stalled', status: 'True', reason: 'SizeUnserved', message, observedGeneration: 1,
        lastTransitionTime: '2026-12-06T10:00:00Z',
      }],
    }]);
    expect(events).toEqual([{ type: 'Warning', reason: 'SizeUnserved', action: 'Reconcile', note: message }]);

    broken = false;
    store.upsert(server.stored());
    await controller.reconcile(request, ctx);
    expect(server.applied.at(-1)).toEqual({ size: 1, conditions: [] });
  });

  it('hands the caches to setup once as it starts, before any event', () => {
    const caches: Caches[] = [];
    const { controller } = recording({ setup: (cache) => void caches.push(cache) });
    const store = new Store();
    const runner = new ControllerRunner(controller, {
      log: pino({ level: 'silent' }),
      metrics: new Metrics(),
      rest: {} as RestClient,
      identity: 'test',
      informerOf: () => ({ store, addHandler: () => () => undefined }) as unknown as Informer,
    });
    runner.start();
    expect(caches).toHaveLength(1);
    expect(caches[0]?.(WIDGET)).toBe(store);
    return runner.stop(0);
  });
});

describe('the controller runner', () => {
  let runner: ControllerRunner | undefined;
  afterEach(() => runner?.stop(0));

  /** Runs one pass of `reconcile` for `request` through a runner; returns its queue and metrics after it. */
  async function runOnce(reconcile: () => Promise<void>) {
    const metrics = new Metrics();
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    runner = new ControllerRunner({
      name: 'widget',
      for: WIDGET,
      reconcile: () => reconcile().finally(() => setImmediate(finished)),
    }, {
      log: pino({ level: 'silent' }),
      metrics,
      rest: {} as RestClient,
      identity: 'test',
      informerOf: (type) => new Informer({} as RestClient, type, pino({ level: 'silent' })),
    });
    runner.start();
    runner.queue.add('team-a/w');
    await done;
    const text = await metrics.registry.metrics();
    return { queue: runner.queue, text };
  }

  it('does not retry a terminal error, and counts it', async () => {
    const { queue, text } = await runOnce(() => Promise.reject(new TerminalError('no', { reason: 'Nope' })));
    expect(queue.length).toBe(0);
    expect(queue.backoff.retries('team-a/w')).toBe(0);
    expect(text).toMatch(/^controller_runtime_terminal_reconcile_errors_total\{controller="widget"\} 1$/m);
    expect(text).toMatch(/^controller_runtime_reconcile_errors_total\{controller="widget"\} 1$/m);
    expect(text).toMatch(/^controller_runtime_reconcile_total\{controller="widget",result="error"\} 1$/m);
  });

  it('retries any other error with backoff', async () => {
    const { queue, text } = await runOnce(() => Promise.reject(new Error('flaky')));
    expect(queue.backoff.retries('team-a/w')).toBe(1);
    expect(text).toMatch(/^controller_runtime_terminal_reconcile_errors_total\{controller="widget"\} 0$/m);
  });
});

describe('the controller runner\'s watches', () => {
  const GADGET: ResourceType = { apiVersion: 'example.dev/v1', kind: 'Gadget', plural: 'gadgets', namespaced: true };
  const gadget = (generation: number, resourceVersion: string): KubeObject => ({
    apiVersion: GADGET.apiVersion, kind: GADGET.kind, metadata: { namespace: 'ns', name: 'g', generation, resourceVersion },
  });

  /** A runner whose reconciles record their keys, with the Gadget watch's handler to call by hand. */
  function watching(watch: Watch) {
    const handlers = new Map<string, EventHandler<KubeObject>>();
    const keys: string[] = [];
    const runner = new ControllerRunner({
      name: 'widget',
      for: WIDGET,
      watches: [watch],
      reconcile: (request) => Promise.resolve(void keys.push(`${request.namespace}/${request.name}`)),
    }, {
      log: pino({ level: 'silent' }),
      metrics: new Metrics(),
      rest: {} as RestClient,
      identity: 'test',
      informerOf: (type) => ({
        store: new Store(),
        addHandler: (h: EventHandler<KubeObject>) => (handlers.set(type.kind, h), () => undefined),
      }) as unknown as Informer,
    });
    runner.start();
    const handler = handlers.get(GADGET.kind) as EventHandler<KubeObject>;
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    return { runner, handler, keys, settled };
  }

  it('passes on only the updates its predicate accepts; adds and deletes always', async () => {
    const { runner, handler, keys, settled } = watching({
      type: GADGET, map: (obj) => [{ namespace: 'ns', name: obj.metadata.resourceVersion ?? '' }], updated: generationChanged,
    });
    handler.onUpdate?.(gadget(1, '1'), gadget(1, '2'));
    await settled();
    expect(keys).toEqual([]);
    handler.onUpdate?.(gadget(1, '2'), gadget(2, '3'));
    await settled();
    handler.onAdd?.(gadget(1, '1'));
    await settled();
    handler.onDelete?.(gadget(1, '1'));
    await settled();
    expect(keys.sort()).toEqual(['ns/1', 'ns/1', 'ns/2', 'ns/3']);
    await runner.stop(0);
  });

  it('hands a change watch both sides of each event', async () => {
    const seen: [string | undefined, string | undefined][] = [];
    const { runner, handler } = watching({
      type: GADGET,
      changes: (before, after) => (seen.push([before?.metadata.resourceVersion, after?.metadata.resourceVersion]), []),
    });
    handler.onAdd?.(gadget(1, '1'));
    handler.onUpdate?.(gadget(1, '1'), gadget(1, '2'));
    handler.onDelete?.(gadget(1, '2'));
    expect(seen).toEqual([[undefined, '1'], ['1', '2'], ['2', undefined]]);
    await runner.stop(0);
  });
});
