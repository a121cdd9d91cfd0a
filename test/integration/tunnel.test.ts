import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL, TUNNEL } from '../../src/api/resources.ts';
import type { TunnelStatus } from '../../src/api/v1alpha1/index.ts';
import type { TunnelCounts } from '../../src/contracts/gateway-heartbeat.ts';
import { replicaLease } from '../../src/leasing/gateways.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { statusCode } from '../../src/runtime/rest.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, rest, tunnelControllerOnly } from './runtime/support.ts';

const ns = useNamespace('tunnel');
const GATEWAY_URL = 'wss://browsers.example.test';

type TunnelObject = KubeObject & { status?: TunnelStatus & { conditions?: Condition[] } };

let controller: ControllerProcess;
const startController = () =>
  new ControllerProcess(
    [`--watch-namespace=${ns.name}`, `--gateway-url=${GATEWAY_URL}`, '--metrics-bind-address=0', '--health-probe-bind-address=0'],
    {},
    tunnelControllerOnly,
  );

beforeAll(() => {
  controller = startController();
  apply(`
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: s3cret }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: chromium }
spec: { replicas: 0 }
`);
});

afterAll(async () => {
  await controller.kill('SIGTERM');
});

function apply(manifest: string): void {
  const result = kubectl(['apply', '-n', ns.name, '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

const tunnelManifest = (name: string, spec: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec: ${spec}
`;

const ready = (t: TunnelObject | undefined) => t?.status?.conditions?.find((c) => c.type === 'Ready');

/** Polls the Tunnel until `done` holds; on timeout says what its status was last. */
async function waitForTunnel(name: string, what: string, done: (t: TunnelObject) => boolean): Promise<TunnelObject> {
  let last: TunnelObject | undefined;
  try {
    return await eventually(`Tunnel ${name}: ${what}`, async () => {
      last = await rest().get<TunnelObject>(objectPath(TUNNEL, { namespace: ns.name, name }));
      return done(last) && last;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; its status was ${JSON.stringify(last?.status)}`, { cause: err });
  }
}

const waitForReason = (name: string, reason: string) =>
  waitForTunnel(name, `Ready reason ${reason}`, (t) => ready(t)?.reason === reason);

/** A gateway replica's heartbeat, renewed `secondsAgo` ago, as the gateway writes it. */
async function heartbeat(lease: string, identity: string, tunnels: Record<string, TunnelCounts>, secondsAgo = 0) {
  const ref = { namespace: ns.name, name: lease };
  const report = { tunnels: Object.fromEntries(Object.entries(tunnels).map(([t, c]) => [`${ns.name}/${t}`, c])), pools: [] };
  const body = replicaLease(ref, identity, report, new Date(Date.now() - secondsAgo * 1000));
  await rest().apply(objectPath(LEASE, ref), body, 'test-gateway');
}

const setPlaywrightVersion = (pool: string, playwrightVersion: string) =>
  rest().mergePatch(objectPath(BROWSER_POOL, { namespace: ns.name, name: pool }, 'status'), { status: { playwrightVersion } });

describe('the Tunnel controller', () => {
  it('says what is missing until pools, Secret and a gateway replica are there, then serves at the gateway URL', async () => {
    apply(tunnelManifest('remote', '{ poolRefs: [{ name: webkit }, { name: firefox }], auth: { secretRef: { name: remote-token } } }'));
    const noPools = await waitForReason('remote', 'PoolNotFound');
    expect(ready(noPools)).toMatchObject({
      status: 'False',
      message: `BrowserPools webkit, firefox do not exist in namespace ${ns.name}: create them or fix spec.poolRefs`,
      observedGeneration: noPools.metadata.generation,
    });
    await eventually('a PoolNotFound Event with the condition\'s message', async () => {
      const events = await rest().get<{ items: { reason: string; note: string }[] }>(
        `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
      return events.items.some((e) => e.reason === 'PoolNotFound' && e.note === ready(noPools)?.message);
    });

    apply('{ apiVersion: fleetwright.dev/v1alpha1, kind: BrowserPool, metadata: { name: webkit }, spec: { replicas: 0 } }');
    await waitForTunnel('remote', 'only firefox missing', (t) =>
      ready(t)?.message === `BrowserPool firefox does not exist in namespace ${ns.name}: create it or fix spec.poolRefs`);

    apply('{ apiVersion: fleetwright.dev/v1alpha1, kind: BrowserPool, metadata: { name: firefox }, spec: { replicas: 0 } }');
    const noSecret = await waitForReason('remote', 'SecretNotFound');
    expect(ready(noSecret)?.message).toMatch(/^Secret remote-token does not exist in namespace tunnel-\w+: create it/);

    apply('{ apiVersion: v1, kind: Secret, metadata: { name: remote-token }, stringData: { password: not-it } }');
    const noKey = await waitForReason('remote', 'SecretKeyMissing');
    expect(ready(noKey)?.message).toBe('Secret remote-token has no token under key token (missing or empty): ' +
      'add it, or fix spec.auth.secretRef.key');

    apply('{ apiVersion: v1, kind: Secret, metadata: { name: remote-token }, stringData: { token: s3cret } }');
    const noGateway = await waitForReason('remote', 'NoGateway');
    expect(ready(noGateway)?.message).toBe('no gateway replica serves this Tunnel: is the fleetwright gateway running?');

    await heartbeat('gateway-0', 'gateway-0-first', { remote: { active: 0, accepted: 0 } });
    const serving = await waitForReason('remote', 'Serving');
    const url = `${GATEWAY_URL}/tunnels/${ns.name}/remote`;
    expect(serving.status?.url).toBe(url);
    expect(ready(serving)).toMatchObject({ status: 'True', message: `serving at ${url} through 1 gateway replica(s)` });
  });

  it('adds the replicas\' counts up, and keeps a dead replica\'s accepted connections but not its open ones', async () => {
    apply(tunnelManifest('counted', '{ poolRefs: [{ name: chromium }], auth: { secretRef: { name: token } } }'));
    await heartbeat('gateway-a', 'gateway-a-1', { counted: { active: 2, accepted: 5 } });
    await heartbeat('gateway-b', 'gateway-b-1', { counted: { active: 1, accepted: 3 } });
    const both = await waitForTunnel('counted', '3 active of 8', (t) =>
      t.status?.activeConnections === 3 && t.status.totalConnections === 8);
    expect(both.status?.gateways).toEqual([
      { identity: 'gateway-a-1', active: 2, accepted: 5 },
      { identity: 'gateway-b-1', active: 1, accepted: 3 },
    ]);
    expect(ready(both)?.message).toMatch(/through 2 gateway replica\(s\)$/);

    await heartbeat('gateway-a', 'gateway-a-1', { counted: { active: 3, accepted: 7 } });
    await waitForTunnel('counted', '4 active of 10', (t) => t.status?.activeConnections === 4 && t.status.totalConnections === 10);

    // gateway-b's last heartbeat: it stops renewing, and its Lease runs out 5 s from now.
    await heartbeat('gateway-b', 'gateway-b-1', { counted: { active: 1, accepted: 4 } }, 25);
    const afterB = await waitForTunnel('counted', 'gateway-b folded: 3 active of 11', (t) =>
      t.status?.activeConnections === 3 && t.status.totalConnections === 11);
    expect(afterB.status?.gateways).toEqual([{ identity: 'gateway-a-1', active: 3, accepted: 7 }]);
    expect(ready(afterB)?.message).toMatch(/through 1 gateway replica\(s\)$/);
    await eventually('the dead replica\'s Lease to be deleted', async () => {
      const got = await rest().get(objectPath(LEASE, { namespace: ns.name, name: 'gateway-b' })).catch((e: unknown) => e);
      return statusCode(got) === 404;
    });
    await rest().get(objectPath(LEASE, { namespace: ns.name, name: 'gateway-a' }));

    // One more connection on gateway-a adds exactly one: gateway-b is not counted again.
    await heartbeat('gateway-a', 'gateway-a-1', { counted: { active: 3, accepted: 8 } });
    await waitForTunnel('counted', '3 active of 12', (t) => t.status?.activeConnections === 3 && t.status.totalConnections === 12);

    // A restarted controller carries on from the recorded counts, and a restarted replica counts from zero.
    await controller.kill('SIGTERM');
    controller = startController();
    await heartbeat('gateway-a', 'gateway-a-2', { counted: { active: 1, accepted: 2 } });
    const restarted = await waitForTunnel('counted', '1 active of 14', (t) =>
      t.status?.activeConnections === 1 && t.status.totalConnections === 14);
    expect(restarted.status?.gateways).toEqual([{ identity: 'gateway-a-2', active: 1, accepted: 2 }]);
  });

  it('reports the Playwright major.minor versions of its pools, in poolRefs order', async () => {
    apply('{ apiVersion: fleetwright.dev/v1alpha1, kind: BrowserPool, metadata: { name: next }, spec: { replicas: 0 } }');
    apply(tunnelManifest('versioned', '{ poolRefs: [{ name: next }, { name: chromium }], auth: { secretRef: { name: token } } }'));
    await heartbeat('gateway-v', 'gateway-v-1', { versioned: { active: 0, accepted: 0 } });
    const unversioned = await waitForReason('versioned', 'Serving');
    expect(unversioned.status?.versions).toEqual([]);

    await setPlaywrightVersion('chromium', '1.56.1');
    await setPlaywrightVersion('next', '1.57.0');
    await waitForTunnel('versioned', 'versions 1.57, 1.56', (t) => JSON.stringify(t.status?.versions) === '["1.57","1.56"]');
    await setPlaywrightVersion('chromium', '1.57.2');
    await waitForTunnel('versioned', 'versions 1.57', (t) => JSON.stringify(t.status?.versions) === '["1.57"]');
  });

  it('leaves a path two Tunnels claim to the first, and hands it on when that one goes', async () => {
    const spec = '{ path: /shared, poolRefs: [{ name: chromium }], auth: { secretRef: { name: token } } }';
    apply(tunnelManifest('first', spec));
    await waitForReason('first', 'NoGateway');
    apply(tunnelManifest('second', spec));
    const conflict = await waitForReason('second', 'PathConflict');
    expect(ready(conflict)?.message).toBe(`path /shared is also claimed by Tunnel ${ns.name}/first, which was created ` +
      'first and keeps it: set a different spec.path on this one');
    expect(conflict.status?.url).toBe(`${GATEWAY_URL}/shared`);

    const deleted = kubectl(['delete', 'tunnel', 'first', '-n', ns.name]);
    expect(deleted.status).toBe(0);
    await waitForReason('second', 'NoGateway');
  });

  it('says that a Tunnel asking for recordings gets none without a report store, and serves it all the same', async () => {
    const spec = '{ poolRefs: [{ name: chromium }], auth: { secretRef: { name: token } }, recording: { video: OnAbnormalClose } }';
    apply(tunnelManifest('recorded', spec));
    const recorded = await waitForTunnel('recorded', 'the Recording condition', (t) =>
      Boolean(t.status?.conditions?.some((c) => c.type === 'Recording')));
    expect(recorded.status?.conditions?.find((c) => c.type === 'Recording')).toMatchObject({
      status: 'False',
      reason: 'NoReportStore',
      message: expect.stringContaining('Set --report-store-url on the controller') as string,
    });
    // Nothing about recording keeps it from being served.
    expect(ready(recorded)?.reason).toBe('NoGateway');
    // This controller has no report store: it makes no session token.
    const token = await rest().get(`/api/v1/namespaces/${ns.name}/secrets/recorded-sessions`).catch((e: unknown) => e);
    expect(statusCode(token)).toBe(404);
  });
});
