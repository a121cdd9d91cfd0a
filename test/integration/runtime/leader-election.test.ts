import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { collectionPath, objectPath } from '../../../src/runtime/resource.ts';
import { configMaps, secrets } from '../../fixtures/runtime/toy.ts';
import { useNamespace } from '../helpers.ts';
import { ControllerProcess, eventually, inParallel, listAll, rest } from './support.ts';

const ns = useNamespace('rt-leader');
const leases = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true };

let running: ControllerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
  running = [];
});

/** A replica of the toy controller electing on its own Lease in the test namespace. */
function replica(leaseId: string, timings: string[], env?: Record<string, string>): ControllerProcess {
  const p = new ControllerProcess([
    '--metrics-bind-address=127.0.0.1:0',
    '--health-probe-bind-address=127.0.0.1:0',
    `--watch-namespace=${ns.name}`,
    '--leader-elect',
    `--leader-election-id=${leaseId}`,
    `--leader-election-namespace=${ns.name}`,
    ...timings,
  ], env);
  running.push(p);
  return p;
}

const leading = (p: ControllerProcess) => p.logged('became leader');

async function leaderGauge(p: ControllerProcess): Promise<number> {
  const text = await (await fetch(`${await p.url('metrics')}/metrics`)).text();
  return Number(/^fleetwright_leader (\d)$/m.exec(text)?.[1]);
}

async function holder(leaseId: string): Promise<string | undefined> {
  const lease = await rest().get<{ spec?: { holderIdentity?: string } }>(
    objectPath(leases, { namespace: ns.name, name: leaseId }),
  );
  return lease.spec?.holderIdentity;
}

async function createSources(prefix: string, count: number): Promise<void> {
  const api = rest();
  await inParallel(10, Array.from({ length: count }, (_, i) => () => api.create(collectionPath(configMaps, ns.name), {
    metadata: { name: `${prefix}-${i}`, labels: { toy: 'source' } },
    data: { i: String(i) },
  })));
}

async function allCopied(): Promise<boolean> {
  const sources = (await listAll<KubeObject>(configMaps, ns.name)).filter((c) => c.metadata.labels?.toy === 'source');
  const copies = new Set((await listAll<KubeObject>(secrets, ns.name)).map((s) => s.metadata.name));
  return sources.length > 0 && sources.every((s) => copies.has(s.metadata.name));
}

const short = ['--leader-elect-lease-duration=3s', '--leader-elect-renew-deadline=2s', '--leader-elect-retry-period=500ms'];

describe('leader election between two controller processes', () => {
  it('lets exactly one lead, hands over within the lease duration when the leader dies, and the new one converges', async () => {
    const id = `toy-${randomBytes(3).toString('hex')}`;
    const a = replica(id, short);
    const b = replica(id, short);
    const first = await eventually('a leader', () => [a, b].find(leading));
    const follower = first === a ? b : a;
    await follower.url('health probes');
    // Several retry periods pass: the follower keeps following.
    await createSources('before', 10);
    await eventually('the leader to copy every ConfigMap', allCopied);
    expect(leading(follower)).toBe(false);
    expect(await leaderGauge(first)).toBe(1);
    expect(await leaderGauge(follower)).toBe(0);
    expect(follower.lines.filter((l) => l.msg === 'created Secret')).toEqual([]);
    const firstIdentity = await holder(id);

    const killedAt = Date.now();
    await first.kill('SIGKILL');
    await createSources('during', 10);
    await eventually('the follower to take over', () => leading(follower), 10_000);
    const handover = Date.now() - killedAt;
    // Expiry counts from the follower's last sight of a renewal, plus at most one retry period to notice.
    expect(handover).toBeLessThan(3000 + 500 + 1000);
    expect(await holder(id)).not.toBe(firstIdentity);
    await eventually('the new leader to copy every ConfigMap', allCopied);
    expect(await leaderGauge(follower)).toBe(1);
  });

  it('on SIGTERM finishes the reconciles in flight, releases the lease, exits 0, and the other takes over at once', async () => {
    const id = `toy-${randomBytes(3).toString('hex')}`;
    // A 15 s lease: a takeover in far less proves the lease was released, not left to expire.
    const timings = ['--leader-elect-lease-duration=15s', '--leader-elect-renew-deadline=10s',
      '--leader-elect-retry-period=500ms'];
    const slow = { TOY_RECONCILE_MS: '300' };
    const a = replica(id, timings, slow);
    await eventually('the first replica to lead', () => leading(a));
    const b = replica(id, timings, slow);
    await b.url('health probes');
    await createSources('term', 6);
    await eventually('a reconcile in flight', () => a.lines.some((l) => l.msg === 'created Secret'));

    const termAt = Date.now();
    expect(await a.kill('SIGTERM')).toBe(0);
    expect(a.logged('released the lease')).toBe(true);
    expect(a.logged('reconciles still running after the graceful shutdown timeout')).toBe(false);
    const order = (msg: string) => a.lines.findIndex((l) => l.msg === msg);
    const finishedWhileStopping = a.lines.slice(order('shutting down'), order('stopped'))
      .filter((l) => l.msg === 'slow pass done');
    expect(finishedWhileStopping.length).toBeGreaterThan(0);
    await eventually('the second replica to lead', () => leading(b), 10_000);
    expect(Date.now() - termAt).toBeLessThan(5000);
    await eventually('the second replica to copy every ConfigMap', allCopied);
  });

  it('stops at once, exiting 1, when it finds the lease taken by another holder', async () => {
    const id = `toy-${randomBytes(3).toString('hex')}`;
    const a = replica(id, short);
    await eventually('the replica to lead', () => leading(a));
    const api = rest();
    const path = objectPath(leases, { namespace: ns.name, name: id });
    const lease = await api.get<KubeObject & { spec: Record<string, unknown> }>(path);
    const stolenAt = Date.now();
    await api.replace(path, { ...lease, spec: { ...lease.spec, holderIdentity: 'someone-else' } });
    expect(await a.exited).toBe(1);
    expect(Date.now() - stolenAt).toBeLessThan(2000);
    expect(a.logged('leader election lost')).toBe(true);
  });
});
