// Leasing for takers that wait on the spot (a gateway connection, a test, the
// benchmark): take an idle browser when nobody queues, else join the pool's
// queue of lease requests and wait until the pool controller grants one.
import type { Logger } from 'pino';
import { LEASE, NODE, type NodeObject, POD, type PodObject } from '../api/builtin.ts';
import { microTime } from '../api/meta.ts';
import { type Lease, POOL_LABEL, REQUEST_LABEL, type RequestedLease, STATE_LABEL } from '../contracts/browser-lease.ts';
import { Informer } from '../runtime/informer.ts';
import { collectionPath, objectPath } from '../runtime/resource.ts';
import { ignoreNotFound, type RestClient } from '../runtime/rest.ts';
import { leaseFirst, type ObjectRef, podRef, releaseBrowser } from './acquire.ts';
import { endpointOf, leaseOf } from './lease.ts';
import { nodeReadiness } from './nodes.ts';
import { type LeaseRequest, leaseRequest } from './requests.ts';

/** A waiting taker renews its request this often; the pool controller drops one not renewed for 3 times as long. */
const RENEW_MS = 10_000;
/** The grant (a pod update) and the request's deletion arrive on two watches: allow the pod event this long. */
const GRANT_GRACE_MS = 5_000;

export interface LeasedBrowser {
  pod: ObjectRef;
  /** ws://<pod IP>:3000/<secret path> */
  endpoint: string;
  lease: Lease;
  /** Taken idle at once, or granted from the pool's queue. */
  source: 'idle' | 'queue';
  /** Gives the browser back; false when the lease was already gone (reclaimed). */
  release(): Promise<boolean>;
}

export class LeaseTimeoutError extends Error {
  constructor(pool: ObjectRef, timeoutMs: number) {
    super(`no browser of pool ${pool.namespace}/${pool.name} became free within ${timeoutMs} ms`);
    this.name = 'LeaseTimeoutError';
  }
}

interface LossWatcher {
  lost: () => void;
  /** Set once the pod is deleted or being deleted: fires at the end of its grace period. */
  timer: NodeJS.Timeout | undefined;
}

export class BrowserLeaser {
  private readonly rest: RestClient;
  private readonly pods: Informer<PodObject>;
  private readonly requests: Informer<LeaseRequest>;
  /** Every Node's Ready condition: an idle browser on a lost node is never taken. */
  private readonly nodes: Informer<NodeObject>;
  /** Holders to tell when their browser pod is gone (onLost), by pod key. */
  private readonly lossWatchers = new Map<string, Set<LossWatcher>>();

  constructor(rest: RestClient, log: Logger, options: { namespace?: string } = {}) {
    this.rest = rest;
    this.pods = new Informer<PodObject>(rest, POD, log, { ...options, labelSelector: POOL_LABEL });
    this.requests = new Informer<LeaseRequest>(rest, LEASE, log, { ...options, labelSelector: REQUEST_LABEL });
    this.nodes = new Informer<NodeObject>(rest, NODE, log, { transform: nodeReadiness });
    const keyOf = (pod: PodObject) => `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.pods.addHandler({
      onUpdate: (_, pod) => this.checkLoss(keyOf(pod), pod),
      onDelete: (pod) => this.checkLoss(keyOf(pod), undefined),
    });
  }

  private get informers() {
    return [this.pods, this.requests, this.nodes];
  }

  async start(): Promise<void> {
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /**
   * Calls `lost` once the browser pod `ref` is gone: deleted, or past the end of its grace period (its
   * deletionTimestamp) while still there, which is how a pod on a lost node stays: its kubelet cannot confirm
   * the deletion. A pod on a live node has stopped by then; a holder still connected to one talks to nothing.
   * Returns the function that stops watching.
   */
  onLost(ref: ObjectRef, lost: () => void): () => void {
    const key = `${ref.namespace}/${ref.name}`;
    const watcher: LossWatcher = { lost, timer: undefined };
    let set = this.lossWatchers.get(key);
    if (!set) this.lossWatchers.set(key, (set = new Set()));
    set.add(watcher);
    this.checkLoss(key, this.pods.store.get(key));
    return () => this.unwatchLoss(key, watcher);
  }

  private checkLoss(key: string, pod: PodObject | undefined): void {
    const end = Date.parse(pod?.metadata.deletionTimestamp ?? '');
    if (pod && Number.isNaN(end)) return;
    for (const watcher of this.lossWatchers.get(key) ?? []) {
      // Deleted: now, even if the grace period has not run out (a forced deletion). Else at its end, once.
      if (pod && watcher.timer) continue;
      clearTimeout(watcher.timer);
      watcher.timer = setTimeout(() => {
        this.unwatchLoss(key, watcher);
        watcher.lost();
      }, pod ? Math.max(0, end - Date.now()) : 0);
    }
  }

  private unwatchLoss(key: string, watcher: LossWatcher): void {
    clearTimeout(watcher.timer);
    const set = this.lossWatchers.get(key);
    set?.delete(watcher);
    if (set?.size === 0) this.lossWatchers.delete(key);
  }

  /**
   * Leases a browser of `pool` for `want.holder`, waiting in the pool's queue
   * (by `priority`, then first come) up to `timeoutMs`.
   */
  async lease(
    pool: ObjectRef,
    want: RequestedLease,
    options: { priority?: number; timeoutMs: number; signal?: AbortSignal },
  ): Promise<LeasedBrowser> {
    const inPool = { namespace: pool.namespace, labels: { [POOL_LABEL]: pool.name } };
    if (this.requests.store.list(inPool).length === 0) {
      const idle = this.pods.store.list({ ...inPool, labels: { ...inPool.labels, [STATE_LABEL]: 'idle' } });
      const since = new Date().toISOString();
      const pod = await leaseFirst(this.rest, idle, { ...want, since }, (name) => this.nodes.store.get(name));
      if (pod) return this.leased(pod, 'idle');
    }
    const ttlSeconds = (3 * RENEW_MS) / 1000;
    const body = leaseRequest({ pool, lease: want, priority: options.priority ?? 0, ttlSeconds, now: new Date() });
    const request = await this.rest.create<LeaseRequest>(collectionPath(LEASE, pool.namespace), body);
    const requestPath = objectPath(LEASE, { namespace: pool.namespace, name: request.metadata.name ?? '' });
    const heartbeat = setInterval(() => {
      this.rest.mergePatch(requestPath, { spec: { renewTime: microTime(new Date()) } }).catch(() => undefined);
    }, RENEW_MS);
    const granted = () =>
      this.pods.store.list(inPool).find((p) => leaseOf(p)?.holder === want.holder && !p.metadata.deletionTimestamp);
    const cleanups: (() => void)[] = [() => clearInterval(heartbeat)];
    try {
      const pod = await new Promise<PodObject>((resolve, reject) => {
        const check = () => {
          const pod = granted();
          if (pod) resolve(pod);
        };
        const fail = (error: Error) => reject(error);
        cleanups.push(this.pods.addHandler({ onAdd: check, onUpdate: check }));
        cleanups.push(this.requests.addHandler({
          onDelete: (r) => {
            if (r.metadata.name !== request.metadata.name) return;
            const withdrawn = setTimeout(() => {
              fail(new Error(`the lease request for pool ${pool.namespace}/${pool.name} was withdrawn (pool deleted?)`));
            }, GRANT_GRACE_MS);
            cleanups.push(() => clearTimeout(withdrawn));
          },
        }));
        const timer = setTimeout(() => fail(new LeaseTimeoutError(pool, options.timeoutMs)), options.timeoutMs);
        cleanups.push(() => clearTimeout(timer));
        const abort = () => fail(new Error('lease wait aborted'));
        options.signal?.addEventListener('abort', abort, { once: true });
        cleanups.push(() => options.signal?.removeEventListener('abort', abort));
        check();
      });
      return this.leased(pod, 'queue');
    } catch (error) {
      await this.withdraw(requestPath, pool, want.holder);
      throw error;
    } finally {
      for (const cleanup of cleanups) cleanup();
    }
  }

  /** Deletes the request; a grant that raced with giving up is handed back, so no browser stays held by nobody. */
  private async withdraw(requestPath: string, pool: ObjectRef, holder: string): Promise<void> {
    await ignoreNotFound(this.rest.delete(requestPath));
    const list = await this.rest.get<{ items: PodObject[] }>(collectionPath(POD, pool.namespace), {
      labelSelector: `${POOL_LABEL}=${pool.name},${STATE_LABEL}=leased`,
    });
    for (const pod of list.items) {
      if (leaseOf(pod)?.holder === holder) await releaseBrowser(this.rest, podRef(pod), holder);
    }
  }

  /** From the cache: the endpoint of the browser pod of `namespace` whose lease `matches`, if one does. */
  leasedEndpoint(namespace: string, matches: (lease: Lease) => boolean): string | undefined {
    const pod = this.pods.store.list({ namespace }).find((p) => {
      const lease = leaseOf(p);
      return lease !== undefined && matches(lease) && !p.metadata.deletionTimestamp;
    });
    return pod && endpointOf(pod);
  }

  private leased(pod: PodObject, source: LeasedBrowser['source']): LeasedBrowser {
    const lease = leaseOf(pod);
    const endpoint = endpointOf(pod);
    if (!lease || !endpoint) throw new Error(`browser pod ${pod.metadata?.name} was leased without a lease or an endpoint`);
    const ref = podRef(pod);
    return { pod: ref, endpoint, lease, source, release: () => releaseBrowser(this.rest, ref, lease.holder) };
  }
}
