import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeObject, ResourceType } from '../api/meta.ts';
import { EventRecorder } from './events.ts';
import type { EventHandler, Informer } from './informer.ts';
import type { Metrics } from './metrics.ts';
import { ownerRequests } from './owners.ts';
import { keyOf, objectKey, parseKey, type Request } from './resource.ts';
import { isConflict, type RestClient } from './rest.ts';
import type { Reader } from './store.ts';
import { WorkQueue } from './workqueue.ts';

/** controller-runtime's reconcile.Result; `requeueAfter` in milliseconds. */
export interface ReconcileResult {
  requeueAfter?: number;
  requeue?: boolean;
}

/**
 * An error that retrying cannot fix (controller-runtime's reconcile.TerminalError): the runner logs it and
 * counts it, and does not put the key back; the next change to the object, or to what it watches, brings
 * the next pass. `reason` is UpperCamelCase, for a condition and an Event; the message names the object and
 * the fix, as every error of ours does.
 */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(message: string, options: { reason?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TerminalError';
    this.reason = options.reason ?? 'ReconcileFailed';
  }
}

/** The informer cache of any type the manager watches for a controller (kube-runtime's `Store`, as a reader). */
export type Caches = <T extends KubeObject>(type: ResourceType) => Reader<T>;

export interface ReconcileContext {
  /** Carries controller, namespace, name and reconcileID. */
  log: Logger;
  reconcileID: string;
  /** Aborted when this replica must stop at once (leadership lost). */
  signal: AbortSignal;
  /** The informer cache of any type the manager watches for a controller. */
  cache: Caches;
  /** Writes go straight to the API server (reads come from `cache`). */
  rest: RestClient;
  /** Events reported as `fleetwright.dev/<controller name>`. */
  events: EventRecorder;
}

/**
 * A controller: level-triggered, keyed by namespace/name. `reconcile` reads
 * the current state (from the cache), acts, and returns when to look again.
 * Throwing retries the key with per-key exponential backoff, unless what it
 * throws is a TerminalError. Controllers of our kinds are written with the
 * reconciler frame (reconciler.ts), which makes this interface.
 */
export interface Controller {
  name: string;
  /** The kind it reconciles; its events enqueue the object's own key. */
  for: ResourceType;
  /** Kinds it creates; their events enqueue the owner named by their controller reference. */
  owns?: ResourceType[];
  /** Other kinds and how their objects, or changes to them, map to keys of `for`. */
  watches?: Watch[];
  maxConcurrentReconciles?: number;
  /**
   * Called once as the controller starts, before any event reaches it, with the caches: for map functions
   * and gauges that read them outside a reconcile (kube-runtime's `Controller::store()`).
   */
  setup?(cache: Caches): void;
  reconcile(request: Request, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

/** Objects of a watched kind, mapped one at a time to keys of the controller's kind. */
export interface MapWatch {
  type: ResourceType;
  /** The keys an added or deleted object concerns; for an update, those of the old and of the new object. */
  map: (obj: KubeObject) => Request[];
  /**
   * Which updates can concern the controller at all (controller-runtime's update predicates, such as
   * GenerationChangedPredicate); every update when unset. Adds and deletes always pass.
   */
  updated?: (oldObj: KubeObject, newObj: KubeObject) => boolean;
  /**
   * What the shared cache keeps of each object of the kind (InformerOptions.transform); the first
   * controller to declare one for a kind sets it.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

/**
 * Changes of a watched kind, mapped with both sides at once: for a map that keeps state of its own (an
 * ordered queue, where what moved depends on where an object was and where it is now). `before` is
 * undefined for an add, `after` for a delete.
 */
export interface ChangeWatch {
  type: ResourceType;
  changes: (before: KubeObject | undefined, after: KubeObject | undefined) => Request[];
}

export type Watch = MapWatch | ChangeWatch;

/** An update predicate: the object's spec changed (its generation moved), as GenerationChangedPredicate. */
export const generationChanged = (oldObj: KubeObject, newObj: KubeObject): boolean =>
  oldObj.metadata.generation !== newObj.metadata.generation;

/** An event handler that enqueues the keys a watch gives for each event. */
function enqueueing(queue: WorkQueue, watch: Omit<MapWatch, 'type'> | Omit<ChangeWatch, 'type'>): EventHandler<KubeObject> {
  const enqueue = (requests: Request[]) => {
    for (const r of requests) queue.add(keyOf(r));
  };
  if ('changes' in watch) {
    return {
      onAdd: (obj) => enqueue(watch.changes(undefined, obj)),
      onUpdate: (oldObj, newObj) => enqueue(watch.changes(oldObj, newObj)),
      onDelete: (obj) => enqueue(watch.changes(obj, undefined)),
    };
  }
  const add = (obj: KubeObject) => enqueue(watch.map(obj));
  return {
    onAdd: add,
    // A child can move between owners; both must look again (as controller-runtime's handlers do).
    onUpdate: (oldObj, newObj) => {
      if (watch.updated && !watch.updated(oldObj, newObj)) return;
      add(oldObj);
      add(newObj);
    },
    onDelete: add,
  };
}

export interface RunnerDeps {
  log: Logger;
  metrics: Metrics;
  rest: RestClient;
  /** This replica, as Events name it (reportingInstance). */
  identity: string;
  informerOf: (type: ResourceType) => Informer;
}

/**
 * Runs one Controller: event handlers feed its workqueue, N workers take
 * keys and call reconcile, results and errors decide the requeue, metrics
 * and logs record each pass.
 */
export class ControllerRunner {
  readonly definition: Controller;
  readonly queue: WorkQueue;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly rest: RestClient;
  private readonly events: EventRecorder;
  private readonly informerOf: (type: ResourceType) => Informer;
  private readonly cache: Caches;
  private readonly abort = new AbortController();
  private readonly detach: (() => void)[] = [];
  private workers: Promise<void>[] = [];

  constructor(definition: Controller, deps: RunnerDeps) {
    this.definition = definition;
    this.log = deps.log.child({ controller: definition.name });
    this.metrics = deps.metrics;
    this.rest = deps.rest;
    this.events = new EventRecorder(deps.rest, {
      controller: `fleetwright.dev/${definition.name}`,
      instance: deps.identity,
      log: this.log,
    });
    this.informerOf = deps.informerOf;
    this.cache = <T extends KubeObject>(type: ResourceType) => this.informerOf(type).store as unknown as Reader<T>;
    this.queue = new WorkQueue({
      observer: deps.metrics.queueObserver(definition.name, () => this.queue.processingSince()),
    });
  }

  get workerCount(): number {
    return this.definition.maxConcurrentReconciles ?? 1;
  }

  /** Registers the event handlers (an informer replays what it holds) and starts the workers. */
  start(): void {
    const d = this.definition;
    const self = (obj: KubeObject) => [parseKey(objectKey(obj))];
    d.setup?.(this.cache);
    this.watch(d.for, { map: self });
    for (const type of d.owns ?? []) this.watch(type, { map: (obj) => ownerRequests(obj, d.for) });
    for (const w of d.watches ?? []) this.watch(w.type, w);
    this.metrics.initController(d.name, this.workerCount);
    this.workers = Array.from({ length: this.workerCount }, () => this.work());
    this.log.info({ workers: this.workerCount }, 'starting workers');
  }

  /**
   * Takes no more keys and waits up to `graceMs` for the reconciles in
   * flight; 0 aborts them at once (leadership lost). Resolves true when
   * every reconcile finished in time.
   */
  async stop(graceMs: number): Promise<boolean> {
    for (const off of this.detach.splice(0)) off();
    this.queue.shutDown();
    if (graceMs <= 0) this.abort.abort(new Error('controller stopped'));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const finished = await Promise.race([Promise.all(this.workers).then(() => true), timedOut]);
    clearTimeout(timer);
    if (!finished) this.abort.abort(new Error('graceful shutdown timed out'));
    return finished;
  }

  private watch(type: ResourceType, watch: Omit<MapWatch, 'type'> | Omit<ChangeWatch, 'type'>): void {
    const informer = this.informerOf(type);
    this.detach.push(informer.addHandler(enqueueing(this.queue, watch)));
  }

  private async work(): Promise<void> {
    const labels = { controller: this.definition.name };
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      this.metrics.activeWorkers.inc(labels);
      try {
        await this.reconcile(key);
      } finally {
        this.metrics.activeWorkers.dec(labels);
        this.queue.done(key);
      }
    }
  }

  private async reconcile(key: string): Promise<void> {
    const name = this.definition.name;
    const request = parseKey(key);
    const reconcileID = randomUUID();
    const log = this.log.child({ namespace: request.namespace, name: request.name, reconcileID });
    const stopTimer = this.metrics.reconcileTime.startTimer({ controller: name });
    const count = (result: string) => this.metrics.reconcileTotal.inc({ controller: name, result });
    const ctx: ReconcileContext = {
      log,
      reconcileID,
      signal: this.abort.signal,
      cache: this.cache,
      rest: this.rest,
      events: this.events,
    };
    try {
      const result = (await this.definition.reconcile(request, ctx)) ?? {};
      if (result.requeueAfter !== undefined && result.requeueAfter > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfter);
        count('requeue_after');
      } else if (result.requeue) {
        this.queue.addRateLimited(key);
        count('requeue');
      } else {
        this.queue.forget(key);
        count('success');
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      if (err instanceof TerminalError) {
        // Not retried: only a change can help. Counted as an error too, as controller-runtime does.
        this.queue.forget(key);
        count('error');
        this.metrics.reconcileErrors.inc({ controller: name });
        this.metrics.terminalReconcileErrors.inc({ controller: name });
        log.error({ err, reason: err.reason }, `reconcile ${key} failed and will not be retried: ${err.message}`);
        return;
      }
      this.queue.addRateLimited(key);
      const retries = this.queue.backoff.retries(key);
      if (isConflict(err)) {
        // Optimistic concurrency: the object changed since it was read. Expected, not a failure:
        // the next pass reads the new version.
        count('requeue');
        log.debug({ retries }, 'conflict (409); retrying with the latest version');
        return;
      }
      count('error');
      this.metrics.reconcileErrors.inc({ controller: name });
      const message = err instanceof Error ? err.message : String(err);
      log.error({ err, retries }, `reconcile ${key} failed: ${message}`);
    } finally {
      stopTimer();
    }
  }
}
