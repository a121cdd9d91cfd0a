import { describe, expect, it } from 'vitest';
import { connectionHolder, gatewayOfHolder } from '../../src/contracts/gateway-heartbeat.ts';
import type { PodObject } from '../../src/api/builtin.ts';
import { gatewayHolderLiveness, poolsOfReplica, replicaLease, type ReplicaLease } from '../../src/leasing/gateways.ts';

const replica = { namespace: 'fleetwright-system', name: 'gateway-7d9f-abcde' };
const now = new Date('2026-12-05T10:00:00Z');
const heartbeat = (identity: string, renewed: string): ReplicaLease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: replica.name, namespace: replica.namespace },
  spec: { holderIdentity: identity, renewTime: renewed, leaseDurationSeconds: 30 },
});

describe('gateway connection holders', () => {
  const holder = connectionHolder(replica, 'gateway-7d9f-abcde_1111', 'c0ffee');

  it('name the replica and the process that took the browser', () => {
    expect(gatewayOfHolder(holder)).toEqual({ replica, identity: 'gateway-7d9f-abcde_1111' });
    expect(gatewayOfHolder('run-uid/0/1')).toBeUndefined();
    expect(gatewayOfHolder('gateway/ns/name/connection')).toBeUndefined();
  });

  it('live while their process renews its replica\'s Lease', () => {
    const liveness = gatewayHolderLiveness(holder, () => heartbeat('gateway-7d9f-abcde_1111', '2026-12-05T09:59:50.000000Z'), now);
    expect(liveness).toEqual({ until: Date.parse('2026-12-05T10:00:20Z') });
  });

  it('are gone when the Lease expired or is missing', () => {
    expect(gatewayHolderLiveness(holder, () => heartbeat('gateway-7d9f-abcde_1111', '2026-12-05T09:59:00.000000Z'), now))
      .toEqual({ gone: 'gateway replica fleetwright-system/gateway-7d9f-abcde stopped renewing its Lease' });
    expect(gatewayHolderLiveness(holder, () => undefined, now))
      .toEqual({ gone: 'gateway replica fleetwright-system/gateway-7d9f-abcde stopped renewing its Lease' });
  });

  // A container restarted in its pod keeps the replica name and renews the same Lease at once: before
  // holders named the process, the dead process's browsers stayed leased until maxSessionSeconds.
  it('are gone when the replica restarted under the same name, though its Lease is fresh', () => {
    const liveness = gatewayHolderLiveness(holder, () => heartbeat('gateway-7d9f-abcde_2222', '2026-12-05T09:59:59.000000Z'), now);
    expect(liveness).toEqual({ gone: 'gateway replica fleetwright-system/gateway-7d9f-abcde restarted: the process holding it is gone' });
  });

  it('say nothing of holders that are not gateway connections', () => {
    expect(gatewayHolderLiveness('run-uid/0/1', () => undefined, now)).toBeUndefined();
  });
});

describe('the pools a replica\'s heartbeat wakes', () => {
  const leasedTo = (namespace: string, pool: string, holder: string): PodObject => ({
    metadata: {
      namespace,
      name: `${pool}-x`,
      labels: { 'fleetwright.dev/pool': pool, 'fleetwright.dev/state': 'leased' },
      annotations: { 'fleetwright.dev/lease': JSON.stringify({ holder, kind: 'Tunnel', ref: `${namespace}/t`, since: now.toISOString() }) },
    },
  });
  const mine = connectionHolder(replica, 'gateway-7d9f-abcde_1111', 'c0ffee');
  const other = connectionHolder({ ...replica, name: 'gateway-7d9f-fghij' }, 'gateway-7d9f-fghij_1111', 'c0ffee');

  it('are those it reports, and those with a browser leased to it that its last report no longer names', () => {
    const report = { tunnels: {}, pools: ['team-a/chromium'] };
    const lease = replicaLease(replica, 'gateway-7d9f-abcde_1111', report, now, 1);
    const pods = [leasedTo('team-b', 'chrome', mine), leasedTo('team-c', 'edge', other), leasedTo('team-d', 'x', 'run-uid/0/1')];
    expect(poolsOfReplica(lease, pods)).toEqual(['team-a/chromium', 'team-b/chrome']);
    expect(poolsOfReplica(replicaLease(replica, 'gateway-7d9f-abcde_1111', { tunnels: {}, pools: [] }, now), pods))
      .toEqual(['team-b/chrome']);
  });

  it('are none for a Lease that is not a replica\'s heartbeat', () => {
    expect(poolsOfReplica(heartbeat('gateway-7d9f-abcde_1111', now.toISOString()), [leasedTo('team-b', 'chrome', mine)])).toEqual([]);
  });
});
