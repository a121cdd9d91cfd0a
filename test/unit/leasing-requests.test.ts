import { describe, expect, it } from 'vitest';
import { microTime } from '../../src/api/meta.ts';
import { isExpired, leaseRequest, queueOrder, requestedLease } from '../../src/leasing/requests.ts';

const t0 = new Date('2026-11-23T12:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const request = (name: string, priority: number, queued: Date, ttlSeconds?: number) => {
  const r = leaseRequest({
    pool: { namespace: 'ci', name: 'chromium' },
    lease: { holder: `h-${name}`, kind: 'Tunnel', ref: 'ci/remote' },
    priority,
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    now: queued,
  });
  r.metadata.name = name;
  return r;
};

describe('lease requests', () => {
  it('are Lease objects labelled with their pool, carrying the lease they ask for', () => {
    const r = request('a', 5, t0, 30);
    expect(r).toMatchObject({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        namespace: 'ci',
        generateName: 'chromium-waiting-',
        labels: { 'fleetwright.dev/pool': 'chromium', 'fleetwright.dev/lease-request': 'true' },
        annotations: { 'fleetwright.dev/priority': '5' },
      },
      spec: { holderIdentity: 'h-a', acquireTime: '2026-11-23T12:00:00.000000Z', leaseDurationSeconds: 30 },
    });
    expect(requestedLease(r)).toEqual({ holder: 'h-a', kind: 'Tunnel', ref: 'ci/remote' });
    expect(microTime(new Date('2026-11-23T12:00:00.123Z'))).toBe('2026-11-23T12:00:00.123000Z');
  });

  it('are served by priority, then first come, first served', () => {
    const queue = [request('late-low', 0, at(3)), request('high', 10, at(5)), request('early-low', 0, at(1)), request('neg', -5, at(0))];
    expect(queueOrder(queue).map((r) => r.metadata.name)).toEqual(['high', 'early-low', 'late-low', 'neg']);
  });

  it('expire when their taker stops renewing them; those without a TTL never do', () => {
    expect(isExpired(request('a', 0, t0, 30), at(29))).toBe(false);
    expect(isExpired(request('a', 0, t0, 30), at(31))).toBe(true);
    expect(isExpired(request('b', 0, t0), at(100_000))).toBe(false);
  });

  it('with an unreadable lease annotation yield nothing to grant', () => {
    const r = request('a', 0, t0);
    r.metadata.annotations = { 'fleetwright.dev/request': '{"holder":' };
    expect(requestedLease(r)).toBeUndefined();
  });
});
