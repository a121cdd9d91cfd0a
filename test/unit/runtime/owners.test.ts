import { describe, expect, it } from 'vitest';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import { controllerReference, isControlledBy, ownerRequests } from '../../../src/runtime/owners.ts';

const pools: ResourceType = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', plural: 'browserpools', namespaced: true };
const pool: KubeObject = {
  apiVersion: 'fleetwright.dev/v1alpha1',
  kind: 'BrowserPool',
  metadata: { name: 'chromium', namespace: 'team-a', uid: 'uid-1' },
};

const pod = (refs: KubeObject['metadata']['ownerReferences']): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'chromium-x', namespace: 'team-a', ownerReferences: refs },
});

describe('owner references', () => {
  it('builds a controller reference that the garbage collector and ownerRequests follow', () => {
    const ref = controllerReference(pool);
    expect(ref).toEqual({
      apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', name: 'chromium', uid: 'uid-1',
      controller: true, blockOwnerDeletion: true,
    });
    expect(ownerRequests(pod([ref]), pools)).toEqual([{ namespace: 'team-a', name: 'chromium' }]);
    expect(isControlledBy(pod([ref]), pool)).toBe(true);
  });

  it('maps an owned object to its controller of the right group and kind, in any version', () => {
    const other = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u2', controller: true };
    const olderVersion = { apiVersion: 'fleetwright.dev/v1alpha0', kind: 'BrowserPool', name: 'old', uid: 'u3', controller: true };
    expect(ownerRequests(pod([other, olderVersion]), pools)).toEqual([{ namespace: 'team-a', name: 'old' }]);
  });

  it('ignores owner references that are not the controller, and objects without owners', () => {
    const plain = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', name: 'p', uid: 'u' };
    expect(ownerRequests(pod([plain]), pools)).toEqual([]);
    expect(ownerRequests(pod(undefined), pools)).toEqual([]);
  });

  it('refuses to reference an owner that has no uid, naming it and the fix', () => {
    expect(() => controllerReference({ ...pool, metadata: { name: 'chromium', namespace: 'team-a' } }))
      .toThrow(/BrowserPool team-a\/chromium.*uid/);
  });
});
