// Drains never kill a busy browser: each pool has a PodDisruptionBudget over
// its leased pods (the state label a lease writes and a return takes back) that
// allows no eviction at all. `kubectl drain`, the cluster autoscaler and node
// upgrades evict through the Eviction API, which answers 429 for a pod a budget
// protects and lets the drain retry: an idle browser goes at once (no budget
// selects it; its pool replaces it), a leased one once its lease ends, which
// maxSessionSeconds bounds (the pool reclaims a lease that outlives it).
import { POD_DISRUPTION_BUDGET } from '../../api/builtin.ts';
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import { POOL_LABEL, STATE_LABEL } from '../../contracts/browser-lease.ts';

export const leasedBudgetName = (pool: string) => `fleetwright-pool-${pool}-leased`;

/**
 * minAvailable as an integer larger than any pool, rather than maxUnavailable: 0. With maxUnavailable (or a
 * percentage) the disruption controller takes the expected count from the pods' controller, here the pool's
 * scale subresource, spec.replicas; an autoscaled pool keeps spec.replicas at 1, so 3 leased browsers would
 * allow 2 evictions. An integer minAvailable is compared with the pods the selector matches, and no count of
 * leased pods reaches this one: disruptionsAllowed stays 0.
 */
export const NO_EVICTIONS = 2_147_483_647;

/** The budget of pool `pool`, owned by it (it goes with the pool). */
export function leasedBudget(pool: { namespace: string; name: string; owner: OwnerReference }): KubeObject {
  return {
    apiVersion: POD_DISRUPTION_BUDGET.apiVersion,
    kind: POD_DISRUPTION_BUDGET.kind,
    metadata: {
      name: leasedBudgetName(pool.name),
      namespace: pool.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'fleetwright', [POOL_LABEL]: pool.name },
      ownerReferences: [pool.owner],
    },
    spec: {
      selector: { matchLabels: { [POOL_LABEL]: pool.name, [STATE_LABEL]: 'leased' } },
      minAvailable: NO_EVICTIONS,
      // The default, said: a leased browser that fails its readiness probe (an agent busy for 2 s) is still
      // someone's session, not a broken pod to evict.
      unhealthyPodEvictionPolicy: 'IfHealthyBudget',
    },
  };
}
