import type { NodeObject, PodObject } from '../api/builtin.ts';
import { Lease, LEASE_ANNOTATION, SESSIONS_ANNOTATION, STATE_LABEL, WS_PATH_ANNOTATION } from '../contracts/browser-lease.ts';
import { AGENT_PORT } from '../contracts/ports.ts';
import { parseKey } from '../runtime/resource.ts';
import { podNodeLost } from './nodes.ts';

/**
 * The leased-to label value a lease writes: the TestRun's name, or null (remove) for a Tunnel, whose browsers
 * only the gateway reaches (the pool's policy admits it); a Tunnel's name would let a TestRun of the same name
 * select that browser.
 */
export function leasedToOf(lease: Pick<Lease, 'kind' | 'ref'>): string | null {
  return lease.kind === 'TestRun' ? parseKey(lease.ref).name : null;
}

// Each reader takes any part of a pod: what it lacks reads as absent.

/** How many leases the pod has served, from its annotation. */
export function sessionsOf(pod: Partial<PodObject>): number {
  const n = Number(pod.metadata?.annotations?.[SESSIONS_ANNOTATION] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Leases read, by the object they were read from. Cached objects are frozen and replaced, never changed, so
 * a pod's lease is parsed once per version rather than at every pass that looks at the pod; the entry goes
 * with the object.
 */
const leases = new WeakMap<object, Lease | undefined>();

/** The lease a pod carries; undefined when it has none or an unreadable one. */
export function leaseOf(pod: Partial<PodObject>): Lease | undefined {
  const text = pod.metadata?.annotations?.[LEASE_ANNOTATION];
  if (!text) return undefined;
  if (Object.isFrozen(pod) && leases.has(pod)) return leases.get(pod);
  let lease: Lease | undefined;
  try {
    lease = Object.freeze(Lease.parse(JSON.parse(text)));
  } catch {
    lease = undefined;
  }
  if (Object.isFrozen(pod)) leases.set(pod, lease);
  return lease;
}

/**
 * Ready, idle, not being deleted, not on a lost node (`nodeOf` looks Nodes up by name): a browser a taker may
 * try to lease. A terminating pod never is, so a node that comes back with pods its pool deleted meanwhile
 * gives none of them out again.
 */
export function isLeasable(
  pod: Partial<PodObject>,
  nodeOf: (name: string) => NodeObject | undefined = () => undefined,
): boolean {
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return ready && !pod.metadata?.deletionTimestamp && pod.status?.phase === 'Running' &&
    pod.metadata?.labels?.[STATE_LABEL] === 'idle' && podNodeLost(pod, nodeOf) === undefined;
}

/** Where a lease holder connects: ws://<pod IP>:3000/<secret path>. */
export function endpointOf(pod: Partial<PodObject>): string | undefined {
  const path = pod.metadata?.annotations?.[WS_PATH_ANNOTATION];
  const ip = pod.status?.podIP;
  return path && ip ? `ws://${ip}:${AGENT_PORT}${path}` : undefined;
}

/**
 * Why a lease should be taken back, or undefined while it is sound: its holder
 * is gone (`holderGone` says how: the TestRun or Tunnel was deleted, or the
 * gateway replica of the connection died), or it has outlived the pool's
 * maxSessionSeconds.
 */
export function reclaimReason(
  lease: Lease,
  now: Date,
  maxSessionSeconds: number,
  holderGone: (lease: Lease) => string | undefined,
): string | undefined {
  const gone = holderGone(lease);
  if (gone) return gone;
  const ageSeconds = (now.getTime() - new Date(lease.since).getTime()) / 1000;
  if (ageSeconds > maxSessionSeconds) {
    return `lease of ${lease.kind} ${lease.ref} is ${Math.round(ageSeconds)} s old, past maxSessionSeconds ${maxSessionSeconds}`;
  }
  return undefined;
}
