import { type NodeObject, POD, type PodObject } from '../api/builtin.ts';
import {
  IDLE_SINCE_ANNOTATION,
  type Lease,
  LEASE_ANNOTATION,
  LEASED_TO_LABEL,
  SAFE_TO_EVICT_ANNOTATION,
  SESSIONS_ANNOTATION,
  STATE_LABEL,
} from '../contracts/browser-lease.ts';
import { objectPath } from '../runtime/resource.ts';
import { isConflict, isNotFound, type RestClient } from '../runtime/rest.ts';
import { isLeasable, leasedToOf, leaseOf, sessionsOf } from './lease.ts';

/** namespace/name of a pool or a pod. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

/**
 * Leases `pod` to `lease.holder` if it is still the version read: the patch
 * carries the pod's resourceVersion, so of any number of racing takers
 * (controller, gateway replicas) exactly one wins a given pod. Returns the
 * leased pod, or undefined when the pod changed or vanished meanwhile.
 */
export async function leasePod(rest: RestClient, pod: PodObject, lease: Lease): Promise<PodObject | undefined> {
  const patch = {
    metadata: {
      resourceVersion: pod.metadata?.resourceVersion,
      labels: { [STATE_LABEL]: 'leased', [LEASED_TO_LABEL]: leasedToOf(lease) },
      annotations: {
        [LEASE_ANNOTATION]: JSON.stringify(lease),
        [SESSIONS_ANNOTATION]: String(sessionsOf(pod) + 1),
        [SAFE_TO_EVICT_ANNOTATION]: 'false',
      },
    },
  };
  try {
    return await rest.mergePatch<PodObject>(objectPath(POD, podRef(pod)), patch);
  } catch (error) {
    if (isConflict(error) || isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Tries the leasable pods of `candidates` (none on a lost node: `nodeOf` looks Nodes up) in random order
 * (racing takers spread out) until one is won.
 */
export async function leaseFirst(
  rest: RestClient,
  candidates: readonly PodObject[],
  lease: Lease,
  nodeOf?: (name: string) => NodeObject | undefined,
) {
  const shuffled = candidates.filter((pod) => isLeasable(pod, nodeOf)).sort(() => Math.random() - 0.5);
  for (const pod of shuffled) {
    const leased = await leasePod(rest, pod, lease);
    if (leased) return leased;
  }
  return undefined;
}

/**
 * Gives a browser back to its pool, if `holder` still holds it. Returns false
 * when the lease was already gone or another holder's: a reclaimed lease must
 * never free a browser someone else now uses.
 */
export async function releaseBrowser(rest: RestClient, pod: ObjectRef, holder: string): Promise<boolean> {
  for (;;) {
    let current: PodObject;
    try {
      current = await rest.get<PodObject>(objectPath(POD, pod));
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    // A pod on its way out is nobody's to give back (reclaimed, or its pool drained).
    if (leaseOf(current)?.holder !== holder || current.metadata?.deletionTimestamp) return false;
    const patch = {
      metadata: {
        resourceVersion: current.metadata?.resourceVersion,
        labels: { [STATE_LABEL]: 'idle', [LEASED_TO_LABEL]: null },
        annotations: {
          [LEASE_ANNOTATION]: null,
          [SAFE_TO_EVICT_ANNOTATION]: null,
          [IDLE_SINCE_ANNOTATION]: new Date().toISOString(),
        },
      },
    };
    try {
      await rest.mergePatch(objectPath(POD, pod), patch);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      // Another writer (the pool controller) changed the pod meanwhile: read it again.
      if (!isConflict(error)) throw error;
    }
  }
}

export const podRef = (pod: PodObject): ObjectRef => ({
  namespace: pod.metadata?.namespace ?? '',
  name: pod.metadata?.name ?? '',
});
