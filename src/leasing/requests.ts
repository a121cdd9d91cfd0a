// Lease requests: takers waiting for a browser of a pool. Each is a
// coordination.k8s.io Lease object in the pool's namespace, so the queue
// lives in the API server (a restarted controller or gateway finds it), any
// process can join it, and the pool controller both counts it (status.waiting,
// autoscaling) and serves it in order.
import { LEASE, type LeaseObject } from '../api/builtin.ts';
import { type KubeObject, microTime } from '../api/meta.ts';
import {
  POOL_LABEL,
  PRIORITY_ANNOTATION,
  REQUEST_ANNOTATION,
  REQUEST_LABEL,
  RequestedLease,
} from '../contracts/browser-lease.ts';

/** A waiting taker's request: a Lease object labelled REQUEST_LABEL. */
export type LeaseRequest = LeaseObject;

export interface NewRequest {
  pool: { namespace: string; name: string };
  lease: RequestedLease;
  priority: number;
  /** A taker that heartbeats (a gateway connection) expires when it stops; unset: lives until deleted. */
  ttlSeconds?: number;
  owner?: KubeObject['metadata']['ownerReferences'];
  /** A fixed name, for a taker that must not queue twice (a shard attempt); else a generated one. */
  name?: string;
  now: Date;
}

export function leaseRequest(r: NewRequest): LeaseRequest {
  return {
    apiVersion: LEASE.apiVersion,
    kind: LEASE.kind,
    metadata: {
      ...(r.name ? { name: r.name } : { generateName: `${r.pool.name}-waiting-` }),
      namespace: r.pool.namespace,
      labels: { [POOL_LABEL]: r.pool.name, [REQUEST_LABEL]: 'true' },
      annotations: { [REQUEST_ANNOTATION]: JSON.stringify(r.lease), [PRIORITY_ANNOTATION]: String(r.priority) },
      ...(r.owner ? { ownerReferences: r.owner } : {}),
    },
    spec: {
      holderIdentity: r.lease.holder,
      acquireTime: microTime(r.now),
      renewTime: microTime(r.now),
      ...(r.ttlSeconds !== undefined ? { leaseDurationSeconds: r.ttlSeconds } : {}),
    },
  };
}

/** Requests read, by the (frozen, cached) object they were read from: each pool pass reads its whole queue. */
const requested = new WeakMap<object, RequestedLease | undefined>();

/** The lease the request asks for; undefined when its annotation is unreadable. */
export function requestedLease(request: LeaseRequest): RequestedLease | undefined {
  if (Object.isFrozen(request) && requested.has(request)) return requested.get(request);
  let lease: RequestedLease | undefined;
  try {
    lease = Object.freeze(RequestedLease.parse(JSON.parse(request.metadata.annotations?.[REQUEST_ANNOTATION] ?? '')));
  } catch {
    lease = undefined;
  }
  if (Object.isFrozen(request)) requested.set(request, lease);
  return lease;
}

/** What orders a request in its pool's queue, read once (a sort would parse the dates at every comparison). */
export interface QueuePlace {
  priority: number;
  queuedAt: number;
  name: string;
}

export function placeOf(r: LeaseRequest): QueuePlace {
  const queuedAt = Date.parse(r.spec?.acquireTime ?? r.metadata.creationTimestamp as string ?? '');
  return {
    priority: Number(r.metadata.annotations?.[PRIORITY_ANNOTATION] ?? 0) || 0,
    // An unreadable time queues last: NaN would make the order inconsistent.
    queuedAt: Number.isNaN(queuedAt) ? Number.MAX_SAFE_INTEGER : queuedAt,
    name: r.metadata.name ?? '',
  };
}

/** Serving order: higher priority first, then first come, first served, then by name. */
export const comparePlaces = (a: QueuePlace, b: QueuePlace): number =>
  b.priority - a.priority || a.queuedAt - b.queuedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The requests in serving order. */
export function queueOrder<T extends LeaseRequest>(requests: readonly T[]): T[] {
  return requests
    .map((request) => ({ request, place: placeOf(request) }))
    .sort((a, b) => comparePlaces(a.place, b.place))
    .map((x) => x.request);
}

/** A heartbeating request whose taker stopped renewing it (its process died). */
export function isExpired(request: LeaseRequest, now: Date): boolean {
  const ttl = request.spec?.leaseDurationSeconds;
  if (ttl === undefined) return false;
  const renewed = Date.parse(request.spec?.renewTime ?? request.spec?.acquireTime ?? '');
  return !(renewed + ttl * 1000 > now.getTime());
}
