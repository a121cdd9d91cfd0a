import { describe, expect, it } from 'vitest';
import { endpointOf, isLeasable, type Lease, leaseOf, reclaimReason } from '../../src/leasing/lease.ts';

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
