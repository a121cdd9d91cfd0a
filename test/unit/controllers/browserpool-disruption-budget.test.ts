import { describe, expect, it } from 'vitest';
import { leasedBudget, NO_EVICTIONS } from '../../../src/controllers/browserpool/disruption-budget.ts';

const owner = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', name: 'chromium', uid: 'u1', controller: true };

describe('the PodDisruptionBudget of a pool\'s leased browsers', () => {
  const budget = leasedBudget({ namespace: 'ci', name: 'chromium', owner });

  it('selects the pool\'s leased pods only: an idle browser is evictable at once', () => {
    expect(budget.metadata).toMatchObject({ name: 'fleetwright-pool-chromium-leased', namespace: 'ci', ownerReferences: [owner] });
    expect(budget.spec).toMatchObject({
      selector: { matchLabels: { 'fleetwright.dev/pool': 'chromium', 'fleetwright.dev/state': 'leased' } },
    });
  });

  it('allows no eviction whatever the pool\'s size: an integer minAvailable above any pod count', () => {
    expect(budget.spec).toMatchObject({ minAvailable: NO_EVICTIONS, unhealthyPodEvictionPolicy: 'IfHealthyBudget' });
    expect(budget.spec).not.toHaveProperty('maxUnavailable');
    // Larger than the most pods a pool can have (spec.replicas and autoscaling.maxReplicas stop at 1000).
    expect(NO_EVICTIONS).toBeGreaterThan(1000);
  });
});
