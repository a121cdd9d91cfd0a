import { type CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { type BrowserPod, isLeasable, LEASE_ANNOTATION, type Lease, leaseOf, POOL_LABEL, STATE_LABEL } from './lease.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface PoolRef {
  namespace: string;
  name: string;
}

const statusOf = (error: unknown) => (error as { code?: number }).code;
const isConflict = (error: unknown) => statusOf(error) === 409;
const isNotFound = (error: unknown) => statusOf(error) === 404;

/**
 * Leases one idle, Ready browser of the pool, or returns undefined when none
 * is free. Each attempt is a merge patch that carries the pod's
 * resourceVersion, so the API server lets exactly one of any number of
 * racing takers (controller, gateway replicas) win a given pod; a loser moves
 * on to the next candidate.
 */
export async function acquireBrowser(core: CoreV1Api, pool: PoolRef, lease: Lease): Promise<V1Pod | undefined> {
  const pods = await core.listNamespacedPod({
    namespace: pool.namespace,
    labelSelector: `${POOL_LABEL}=${pool.name},${STATE_LABEL}=idle`,
  });
  // Spread racing takers over the candidates instead of all fighting for the first.
  const candidates = pods.items.filter(isLeasable).sort(() => Math.random() - 0.5);
  for (const pod of candidates) {
    try {
      return await core.patchNamespacedPod(
        {
          namespace: pool.namespace,
          name: pod.metadata?.name ?? '',
          body: {
            metadata: {
              resourceVersion: pod.metadata?.resourceVersion,
              labels: { [STATE_LABEL]: 'leased' },
              annotations: { [LEASE_ANNOTATION]: JSON.stringify(lease) },
            },
          },
        },
        mergePatch,
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
  return undefined;
}

/**
 * Gives a browser back to its pool, if `holder` still holds it. Returns false
 * when the lease was already gone or another holder's: a reclaimed lease must
 * never free a browser someone else now uses.
 */
export async function releaseBrowser(core: CoreV1Api, pod: PoolRef, holder: string): Promise<boolean> {
  for (;;) {
    let current: BrowserPod;
    try {
      current = await core.readNamespacedPod(pod);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    if (leaseOf(current)?.holder !== holder) return false;
    try {
      await core.patchNamespacedPod(
        {
          ...pod,
          body: {
            metadata: {
              resourceVersion: current.metadata?.resourceVersion,
              labels: { [STATE_LABEL]: 'idle' },
              annotations: { [LEASE_ANNOTATION]: null },
            },
          },
        },
        mergePatch,
      );
      return true;
    } catch (error) {
      // Another writer (the agent's status, the controller) changed the pod meanwhile: read it again.
      if (!isConflict(error)) throw error;
    }
  }
}
