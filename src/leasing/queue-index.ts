// The pools' queues of lease requests in serving order, kept up to date from
// the Lease watch, so that a change to one request tells which requests
// moved: a request that joins at the end moves nobody else, one that leaves
// from the middle moves only those behind it. Kept by hand: an ordered
// array per pool, searched by bisection, is all it takes; a sorted-container
// library would add a dependency for one insert and one remove.
import type { KubeObject } from '../api/meta.ts';
import { POOL_LABEL, REQUEST_LABEL } from '../contracts/browser-lease.ts';
import { comparePlaces, type LeaseRequest, placeOf, type QueuePlace } from './requests.ts';

interface Entry {
  place: QueuePlace;
  request: LeaseRequest;
}

/** Where an indexed request is: its pool's queue and its serving order. */
interface Indexed {
  queue: string;
  place: QueuePlace;
}

/** `namespace/pool` of a lease request; undefined for other Leases (leader election, gateway heartbeats). */
function queueOf(obj: KubeObject): string | undefined {
  const labels = obj.metadata.labels ?? {};
  const pool = labels[POOL_LABEL];
  return labels[REQUEST_LABEL] === 'true' && pool !== undefined ? `${obj.metadata.namespace ?? ''}/${pool}` : undefined;
}

const keyOfRequest = (obj: KubeObject) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;

/** The first index whose entry does not come before `place`. */
function bisect(queue: readonly Entry[], place: QueuePlace): number {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePlaces((queue[mid] as Entry).place, place) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class QueueIndex {
  private readonly queues = new Map<string, Entry[]>();
  private readonly indexed = new Map<string, Indexed>();
  /** Request keys by the uid of the objects that own them (a TestRun's requests, one per shard attempt). */
  private readonly byOwner = new Map<string, Set<string>>();

  /**
   * Records an add or update of `obj` (any Lease: others are ignored) and returns the requests whose place
   * in their queue changed: the request itself when it joined or moved, and those it moved past.
   */
  set(obj: KubeObject): LeaseRequest[] {
    const removed = this.take(obj);
    const queueKey = queueOf(obj);
    if (queueKey === undefined) return removed ? this.behind(removed.queue, removed.at, removed.entry) : [];
    const entry: Entry = { place: placeOf(obj as LeaseRequest), request: obj as LeaseRequest };
    const queue = this.queues.get(queueKey) ?? [];
    this.queues.set(queueKey, queue);
    const at = bisect(queue, entry.place);
    queue.splice(at, 0, entry);
    this.indexed.set(keyOfRequest(obj), { queue: queueKey, place: entry.place });
    for (const ref of obj.metadata.ownerReferences ?? []) this.own(ref.uid, keyOfRequest(obj));
    if (removed?.queue === queueKey) {
      // Moved within its queue: only the requests between its old and its new place moved (a renewal moves none).
      if (removed.at === at) return [];
      const [from, to] = removed.at < at ? [removed.at, at] : [at, removed.at];
      return queue.slice(from, to + 1).map((e) => e.request);
    }
    // Joined the queue: it and those behind it moved; so did those behind it in the queue it left, if any.
    const joined = queue.slice(at).map((e) => e.request);
    return removed ? [...this.behind(removed.queue, removed.at, removed.entry), ...joined] : joined;
  }

  /** Records a delete; returns the request and those behind it, which moved up. */
  delete(obj: KubeObject): LeaseRequest[] {
    const removed = this.take(obj);
    return removed ? this.behind(removed.queue, removed.at, removed.entry) : [];
  }

  /** 1-based place of the first request `ownerUid` owns in the pool's queue; undefined when it has none there. */
  position(namespace: string, pool: string, ownerUid: string): number | undefined {
    const queueKey = `${namespace}/${pool}`;
    const queue = this.queues.get(queueKey) ?? [];
    let first: number | undefined;
    for (const key of this.byOwner.get(ownerUid) ?? []) {
      const where = this.indexed.get(key);
      if (where?.queue !== queueKey) continue;
      const at = bisect(queue, where.place);
      first = Math.min(first ?? at, at);
    }
    return first === undefined ? undefined : first + 1;
  }

  /** Forgets everything: before the watch replays what the cache holds. */
  clear(): void {
    this.queues.clear();
    this.indexed.clear();
    this.byOwner.clear();
  }

  /** Removes the stored version of `obj` (found by its key, whatever `obj` says now) and says where it was. */
  private take(obj: KubeObject): { queue: string; at: number; entry: Entry } | undefined {
    const key = keyOfRequest(obj);
    const where = this.indexed.get(key);
    if (!where) return undefined;
    this.indexed.delete(key);
    const queue = this.queues.get(where.queue) ?? [];
    let at = bisect(queue, where.place);
    // Found by its place; by its key should the place ever be ambiguous.
    if (queue[at] === undefined || keyOfRequest((queue[at] as Entry).request) !== key) {
      at = queue.findIndex((e) => keyOfRequest(e.request) === key);
    }
    const entry = queue[at];
    if (entry === undefined) return undefined;
    queue.splice(at, 1);
    if (queue.length === 0) this.queues.delete(where.queue);
    for (const ref of entry.request.metadata.ownerReferences ?? []) this.disown(ref.uid, key);
    return { queue: where.queue, at, entry };
  }

  /** A removed request and those now from `at` on in its old queue: all of them moved. */
  private behind(queueKey: string, at: number, entry: Entry): LeaseRequest[] {
    return [entry.request, ...(this.queues.get(queueKey) ?? []).slice(at).map((e) => e.request)];
  }

  private own(uid: string, key: string): void {
    let keys = this.byOwner.get(uid);
    if (!keys) this.byOwner.set(uid, (keys = new Set()));
    keys.add(key);
  }

  private disown(uid: string, key: string): void {
    const keys = this.byOwner.get(uid);
    keys?.delete(key);
    if (keys?.size === 0) this.byOwner.delete(uid);
  }
}
