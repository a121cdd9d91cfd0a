// The reconciler frame: what every controller of ours did around its decisions, done once. The anchors
// each have a piece of it: controller-runtime's object adapter hands the reconciler the typed object and
// ends the pass on NotFound, kube-runtime's finalizer() wraps a reconcile into Apply and Cleanup, its
// Controller::store() gives the cache to code outside reconcile, and controller-runtime's TerminalError is
// an error that retrying cannot fix. A controller declares its kind and plain functions; the frame reads
// the object, adds the finalizer before the controller acts, routes deletion to its cleanup, and writes the
// status each pass decided, once, only when it changed, so that an idle controller writes nothing.
import type { Logger } from 'pino';
import type { KubeObject, ResourceType } from '../api/meta.ts';
import { type Condition, removeCondition, setCondition } from './conditions.ts';
import {
  type Caches,
  type Controller,
  type ReconcileContext,
  type ReconcileResult,
  TerminalError,
} from './controller.ts';
import { keyOf, type Request } from './resource.ts';
import { isNotFound } from './rest.ts';
import { addFinalizer, applyStatusIfChanged, hasFinalizer, removeFinalizer } from './status.ts';

/** A status as a controller computes it: the whole of it, every pass. */
export type Status = Record<string, unknown>;

/** What a pass decided, for the frame to carry out. */
export interface Outcome {
  /**
   * The whole status the object should have. Written by server-side apply, and only when it differs from
   * the stored one (or from the one this controller last wrote, when the cache has not caught up yet).
   */
  status?: Status;
  /**
   * Runs once the status is written, or found unchanged (`written` says which): what must follow the
   * status, such as the Event that announces a change, or a browser handed back only once the status says
   * its shard is done.
   */
  afterStatus?(written: boolean): Promise<void> | void;
  /** Look again after this many milliseconds. */
  requeueAfter?: number;
  /** Look again soon, with backoff. */
  requeue?: boolean;
}

/** What `observe` found: something to act on, or the outcome that ends the pass before the finalizer goes on. */
export type Observation<V> = { act: V } | { stop: Outcome };

/** One pass: the runtime's context, the key it is for and the time it started at. */
export interface Pass extends ReconcileContext {
  request: Request;
  /** Read once per pass, so that every decision of the pass sees the same time. */
  now: Date;
}

/** A pass over an object that is in the cache. */
export interface ObjectPass extends Pass {
  /**
   * Writes a status now, in the middle of the pass, for a decision that must be stored before the pass acts
   * on it (a TestRun's pinned commit, before any runner starts). The rest of the pass sees it, and the
   * status the pass returns is still written at its end. Returns whether anything changed.
   */
  writeStatusNow(status: Status): Promise<boolean>;
}

export interface Finalizer<T extends KubeObject> {
  /** The finalizer's name, `fleetwright.dev/<what it waits for>`. */
  name: string;
  /**
   * Cleans up after an object being deleted that still carries the finalizer. Resolves with nothing once
   * done: the frame removes the finalizer and the API server finishes the deletion. An Outcome (a status to
   * show, when to look again) says it still waits.
   */
  finalize(obj: T, pass: ObjectPass): Promise<Outcome | void>;
}

/** A controller of one kind, as the frame runs it. `V` is what `observe` hands to `reconcile`. */
export interface Reconciler<T extends KubeObject, V = T> {
  name: string;
  for: ResourceType;
  owns?: ResourceType[];
  watches?: Controller['watches'];
  maxConcurrentReconciles?: number;
  /** The time each pass starts at; the wall clock when unset. */
  clock?: () => Date;
  /** Added before `reconcile` first acts; its `finalize` gets the object once it is being deleted. */
  finalizer?: Finalizer<T>;
  /** Called once as the controller starts, with the caches: for map functions and gauges. */
  setup?(cache: Caches): void;
  /**
   * Reads what the pass needs and decides whether to act: `{ act }` goes on to `reconcile`, after the
   * finalizer is added; `{ stop }` ends the pass without it (an invalid spec, something to wait for). Unset:
   * `reconcile` gets the object itself.
   */
  observe?(obj: T, pass: ObjectPass): Promise<Observation<V>>;
  reconcile(obj: T, pass: ObjectPass, observed: V): Promise<Outcome | void>;
  /** The key's object is not in the cache (deleted): what is left to do for the key. Unset: nothing. */
  gone?(pass: Pass): Promise<ReconcileResult | void>;
}

/** The Kubernetes condition (kstatus) that says a controller has stopped trying until something changes. */
export const STALLED = 'Stalled';

/** A Controller that runs `spec` in the frame. */
export function defineReconciler<T extends KubeObject, V = T>(spec: Reconciler<T, V>): Controller {
  const writes = new StatusWrites();
  const clock = spec.clock ?? (() => new Date());
  return {
    name: spec.name,
    for: spec.for,
    owns: spec.owns,
    watches: spec.watches,
    maxConcurrentReconciles: spec.maxConcurrentReconciles,
    setup: spec.setup,
    reconcile: (request, ctx) => {
      const pass: Pass = { ...ctx, request, now: clock() };
      return ignoringDeletion(ctx.log, async () => {
        const key = keyOf(request);
        const cached = ctx.cache<T>(spec.for).get(key);
        if (cached) return new ObjectPassRun(spec, pass, writes, key, cached).run();
        writes.forget(key);
        return spec.gone?.(pass);
      });
    },
  };
}

/** The frame's work on one object in one pass. */
class ObjectPassRun<T extends KubeObject, V> {
  private readonly spec: Reconciler<T, V>;
  private readonly pass: ObjectPass;
  private readonly writes: StatusWrites;
  private readonly key: string;
  /** The object as this pass knows it stored: the cache's, with this controller's last status write. */
  private current: T & { status?: unknown };
  /** resourceVersions of the object that do not carry this pass's status write. */
  private readonly staleVersions = new Set<string>();

  constructor(spec: Reconciler<T, V>, pass: Pass, writes: StatusWrites, key: string, cached: T) {
    this.spec = spec;
    this.writes = writes;
    this.key = key;
    this.pass = { ...pass, writeStatusNow: (status) => this.writeStatus(status) };
    this.current = writes.latest(key, cached);
    this.staleVersions.add(this.current.metadata.resourceVersion ?? '');
  }

  async run(): Promise<ReconcileResult> {
    try {
      return await this.dispatch();
    } catch (err) {
      // A replica told to stop (leadership lost) writes nothing more.
      if (err instanceof TerminalError && !this.pass.signal.aborted) await this.recordStalled(err);
      throw err;
    }
  }

  private async dispatch(): Promise<ReconcileResult> {
    const { spec, pass } = this;
    const finalizer = spec.finalizer;
    if (finalizer && this.current.metadata.deletionTimestamp) {
      // Deleted, and our finalizer already gone: nothing is left for this controller (kube-runtime does the same).
      if (!hasFinalizer(this.current, finalizer.name)) return {};
      const waiting = await finalizer.finalize(this.current, pass);
      if (waiting) return this.settle(waiting);
      await removeFinalizer(pass.rest, spec.for, this.current, finalizer.name);
      return {};
    }
    let observed = this.current as unknown as V;
    if (spec.observe) {
      const observation = await spec.observe(this.current, pass);
      if ('stop' in observation) return this.settle(observation.stop);
      observed = observation.act;
    }
    if (finalizer) {
      // A merge patch with the resourceVersion read: a 409 on a stale copy retries the pass quietly.
      this.current = await addFinalizer(pass.rest, spec.for, this.current, finalizer.name);
      this.staleVersions.add(this.current.metadata.resourceVersion ?? '');
    }
    return this.settle(await spec.reconcile(this.current, pass, observed));
  }

  /** Writes the outcome's status (without a Stalled condition: this pass ended well), then what follows it. */
  private async settle(outcome: Outcome | void): Promise<ReconcileResult> {
    const { status, afterStatus, requeueAfter, requeue } = outcome ?? {};
    // A pass that writes no status still takes back a Stalled condition of an earlier one.
    const stored = stalled(this.current.status) ? this.current.status as Status : undefined;
    const unstalled = withoutStalled(status ?? stored);
    const written = unstalled !== undefined && await this.writeStatus(unstalled);
    await afterStatus?.(written);
    return { ...(requeueAfter !== undefined ? { requeueAfter } : {}), ...(requeue ? { requeue } : {}) };
  }

  /** Applies the status unless the stored one equals it, and remembers it for the passes before the cache has it. */
  private async writeStatus(status: Status): Promise<boolean> {
    const written = await applyStatusIfChanged(this.pass.rest, this.spec.for, this.current, status);
    if (!written) return false;
    this.writes.record(this.key, this.staleVersions, written);
    this.current = { ...this.current, status: written };
    return true;
  }

  /**
   * A terminal error is said where the user looks: a Stalled condition (the kstatus convention) and a
   * Warning Event, the same text in both. Best effort: the error itself is what the runner reports.
   */
  private async recordStalled(err: TerminalError): Promise<void> {
    const { current, pass } = this;
    const status = (current.status ?? {}) as Status;
    const update = {
      type: STALLED, status: 'True' as const, reason: err.reason, message: err.message,
      observedGeneration: current.metadata.generation,
    };
    try {
      const conditions = setCondition(status.conditions as Condition[] | undefined, update, pass.now);
      if (await this.writeStatus({ ...status, conditions })) {
        await pass.events.emit(current, { type: 'Warning', reason: err.reason, action: 'Reconcile', note: err.message });
      }
    } catch (recordErr) {
      pass.log.warn({ err: String(recordErr) }, 'could not record the Stalled condition');
    }
  }
}

const stalled = (status: unknown): boolean =>
  ((status as Status | undefined)?.conditions as Condition[] | undefined)?.some((c) => c.type === STALLED) ?? false;

function withoutStalled(status: Status | undefined): Status | undefined {
  if (!status || !stalled(status)) return status;
  return { ...status, conditions: removeCondition(status.conditions as Condition[], STALLED) };
}

/**
 * The status each object was last written with, until the cache shows a version that carries the write. A
 * pass that follows a write closely can read the old status from the cache: a TestRun's shard that just
 * finished would look still running, with its browser already handed back, and be retried. resourceVersions
 * are opaque (never compared by order), so the versions known to predate the write are listed instead.
 */
class StatusWrites {
  private readonly written = new Map<string, { stale: Set<string>; status: Status }>();

  record(key: string, stale: Set<string>, status: Status): void {
    this.written.set(key, { stale: new Set(stale), status });
  }

  /** The object with the status last written, while the cache still holds a version from before that write. */
  latest<T extends KubeObject>(key: string, obj: T): T {
    const write = this.written.get(key);
    if (!write) return obj;
    if (write.stale.has(obj.metadata.resourceVersion ?? '')) return { ...obj, status: write.status };
    this.written.delete(key);
    return obj;
  }

  /** The object is gone; a new one of the same name has versions of its own. */
  forget(key: string): void {
    this.written.delete(key);
  }
}

/**
 * Runs a pass. A 404 from a write means the object was deleted while the pass worked on it (reconcilers
 * handle every other 404 where it occurs): nothing is left to do, as with controller-runtime's
 * client.IgnoreNotFound.
 */
async function ignoringDeletion<R>(log: Logger, pass: () => Promise<R>): Promise<R | undefined> {
  try {
    return await pass();
  } catch (err) {
    if (!isNotFound(err)) throw err;
    log.debug({ err: String(err) }, 'deleted during the pass');
    return undefined;
  }
}
