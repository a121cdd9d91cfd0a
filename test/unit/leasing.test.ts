import { describe, expect, it } from 'vitest';
import type { Lease } from '../../src/contracts/browser-lease.ts';
import { leasePod, releaseBrowser } from '../../src/leasing/acquire.ts';
import { endpointOf, isLeasable, leasedToOf, leaseOf, reclaimReason } from '../../src/leasing/lease.ts';
import type { RestClient } from '../../src/runtime/rest.ts';

const lease: Lease = { holder: 'run-1/shard-2/attempt-1', kind: 'TestRun', ref: 'ci/checkout', since: '2026-11-23T10:00:00Z' };
const pod = (labels: Record<string, string>, ready: boolean, extra: object = {}) => ({
  metadata: { name: 'p', labels, annotations: { 'fleetwright.dev/lease': JSON.stringify(lease), 'fleetwright.dev/ws-path': '/pw-abc' }, ...extra },
  status: { phase: 'Running', podIP: '10.244.0.12', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('browser leases', () => {
  it('reads the lease a pod carries, and none from a malformed annotation', () => {
    expect(leaseOf(pod({}, true))).toEqual(lease);
    expect(leaseOf({ metadata: { annotations: { 'fleetwright.dev/lease': '{"holder":' } } })).toBeUndefined();
  });

  it('offers only Ready, idle browsers that are not being deleted', () => {
    expect(isLeasable(pod({ 'fleetwright.dev/state': 'idle' }, true))).toBe(true);
    expect(isLeasable(pod({ 'fleetwright.dev/state': 'idle' }, false))).toBe(false);
    expect(isLeasable(pod({ 'fleetwright.dev/state': 'leased' }, true))).toBe(false);
    expect(isLeasable(pod({ 'fleetwright.dev/state': 'idle' }, true, { deletionTimestamp: '2026-11-23T10:00:00Z' }))).toBe(false);
  });

  it('hands the holder the agent\'s endpoint on the pod IP', () => {
    expect(endpointOf(pod({}, true))).toBe('ws://10.244.0.12:3000/pw-abc');
  });

  it('reclaims a lease whose holder is gone, or that outlived maxSessionSeconds', () => {
    const now = new Date('2026-11-23T10:30:00Z');
    expect(reclaimReason(lease, now, 3600, () => undefined)).toBeUndefined();
    expect(reclaimReason(lease, now, 3600, () => 'TestRun ci/checkout no longer exists')).toBe(
      'TestRun ci/checkout no longer exists',
    );
    expect(reclaimReason(lease, now, 600, () => undefined)).toBe(
      'lease of TestRun ci/checkout is 1800 s old, past maxSessionSeconds 600',
    );
  });
});

describe('the leased-to label', () => {
  /** A RestClient stub that records merge patches and answers get with `stored`. */
  const recorder = (stored: object) => {
    const patches: { metadata: { labels: Record<string, unknown>; annotations: Record<string, unknown> } }[] = [];
    const rest = {
      get: () => Promise.resolve(stored),
      mergePatch: (_path: string, patch: (typeof patches)[number]) => (patches.push(patch), Promise.resolve(stored)),
    } as unknown as RestClient;
    return { rest, patches };
  };

  it('names the TestRun for a run\'s lease and nothing for a Tunnel\'s', () => {
    expect(leasedToOf(lease)).toBe('checkout');
    expect(leasedToOf({ kind: 'Tunnel', ref: 'ci/checkout' })).toBeNull();
  });

  it('is set by the lease patch that writes the annotation, and removed by the give-back\'s', async () => {
    const idle = { metadata: { name: 'p', namespace: 'ci', resourceVersion: '7', labels: {}, annotations: {} } };
    const { rest, patches } = recorder(idle);
    await leasePod(rest, idle, lease);
    expect(patches[0]?.metadata.labels).toEqual({ 'fleetwright.dev/state': 'leased', 'fleetwright.dev/leased-to': 'checkout' });
    expect(patches[0]?.metadata.annotations['fleetwright.dev/lease']).toBe(JSON.stringify(lease));

    const leased = { metadata: { ...idle.metadata, annotations: { 'fleetwright.dev/lease': JSON.stringify(lease) } } };
    const back = recorder(leased);
    expect(await releaseBrowser(back.rest, { namespace: 'ci', name: 'p' }, lease.holder)).toBe(true);
    expect(back.patches[0]?.metadata.labels).toEqual({ 'fleetwright.dev/state': 'idle', 'fleetwright.dev/leased-to': null });
    expect(back.patches[0]?.metadata.annotations['fleetwright.dev/lease']).toBeNull();
  });

  it('comes with safe-to-evict "false" for the cluster autoscaler, in the same single patch, gone on return', async () => {
    const idle = { metadata: { name: 'p', namespace: 'ci', resourceVersion: '7', labels: {}, annotations: {} } };
    const { rest, patches } = recorder(idle);
    await leasePod(rest, idle, lease);
    expect(patches).toHaveLength(1);
    expect(patches[0]?.metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBe('false');
    const leased = { metadata: { ...idle.metadata, annotations: { 'fleetwright.dev/lease': JSON.stringify(lease) } } };
    const back = recorder(leased);
    await releaseBrowser(back.rest, { namespace: 'ci', name: 'p' }, lease.holder);
    expect(back.patches).toHaveLength(1);
    expect(back.patches[0]?.metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBeNull();
  });

  it('is removed (null in the merge patch) when a Tunnel leases a browser a run held before', async () => {
    const pod = { metadata: { name: 'p', namespace: 'ci', resourceVersion: '7', labels: { 'fleetwright.dev/leased-to': 'old' } } };
    const { rest, patches } = recorder(pod);
    await leasePod(rest, pod, { ...lease, kind: 'Tunnel', holder: 'gw/1' });
    expect(patches[0]?.metadata.labels['fleetwright.dev/leased-to']).toBeNull();
  });
});
