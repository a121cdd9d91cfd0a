import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { nextLookMs, queueChanged } from '../../../src/controllers/testrun/requeue.ts';

const run = (namespace: string, name: string, pool: string, phase?: string): KubeObject & { spec: unknown } => ({
  metadata: { namespace, name },
  spec: { poolRef: { name: pool } },
  ...(phase ? { status: { phase } } : {}),
});
const request = (namespace: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace, name: 'r', labels },
});
const poolRequest = (namespace: string, pool: string) =>
  request(namespace, { 'fleetwright.dev/pool': pool, 'fleetwright.dev/lease-request': 'true' });

describe('TestRun requeue', () => {
  it('looks at a queued run again only at its deadline: no timer while it waits', () => {
    expect(nextLookMs(0, 3_600_000, 2_500)).toBe(3_600_000);
  });

  it('looks at running shards every progress interval, or at the deadline when sooner', () => {
    expect(nextLookMs(2, 3_600_000, 2_500)).toBe(2_500);
    expect(nextLookMs(2, 1_000, 2_500)).toBe(1_000);
  });

  it('wakes the queued runs of a request\'s pool in its namespace when the queue changes', () => {
    const runs = [
      run('a', 'queued', 'p', 'Queued'),
      run('a', 'running', 'p', 'Running'),
      run('a', 'new', 'p'),
      run('a', 'other-pool', 'q', 'Queued'),
      run('b', 'other-namespace', 'p', 'Queued'),
    ];
    expect(queueChanged(poolRequest('a', 'p'), runs)).toEqual([{ namespace: 'a', name: 'queued' }]);
  });

  it('ignores Leases that are not lease requests, such as leader election', () => {
    const runs = [run('a', 'queued', 'p', 'Queued')];
    expect(queueChanged(request('a', { 'fleetwright.dev/pool': 'p' }), runs)).toEqual([]);
    expect(queueChanged(request('a', {}), runs)).toEqual([]);
  });
});
