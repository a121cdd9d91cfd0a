// A BrowserPool across nodes, on the real API server. No kubelet runs here: the
// nodes are Node objects this file writes, Ready or NotReady through their
// status subresource and kept alive by their heartbeat Leases as a kubelet
// keeps them (the node lifecycle controller of hack/ watches both); they are
// unschedulable, so the scheduler leaves them to this file, which binds the
// pool's pods to them (the binding subresource, as the scheduler does) and
// makes them Running and Ready (their status, as a kubelet does). The
// disruption controller of hack/'s kube-controller-manager fills the
// PodDisruptionBudgets' status, as on a real cluster.
//
// What it shows: browsers spread by hostname; a NotReady node's browsers are
// deleted and replaced at once and never leased, idle or queued; a holder is
// told its browser is gone; the pool's budget makes the Eviction API refuse a
// leased browser (429) and evict an idle one, which the pool replaces.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { LEASE, POD, type PodObject } from '../../src/api/builtin.ts';
import { type KubeObject, microTime } from '../../src/api/meta.ts';
import { BROWSER_POOL, TUNNEL } from '../../src/api/resources.ts';
import { leasePod, releaseBrowser } from '../../src/leasing/acquire.ts';
import { BrowserLeaser, LeaseTimeoutError } from '../../src/leasing/leaser.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { statusCode } from '../../src/runtime/rest.ts';
import { useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, rest } from './runtime/support.ts';

const ns = useNamespace('nodes');
const suffix = randomBytes(3).toString('hex');
const nodeA = `fw-it-${suffix}-a`;
const nodeB = `fw-it-${suffix}-b`;
const TUNNEL_NAME = 'holder';

let controller: ControllerProcess;
let heartbeats: NodeJS.Timeout;
let leaser: BrowserLeaser;
const alive = new Set<string>();

type Pod = PodObject & { metadata: { deletionGracePeriodSeconds?: number } };
type Budget = KubeObject & {
  spec?: { selector?: unknown; minAvailable?: number };
  status?: { observedGeneration?: number; disruptionsAllowed?: number; currentHealthy?: number; expectedPods?: number };
};

const podPath = (name: string) => objectPath(POD, { namespace: ns.name, name });
const podsOf = async (pool: string) =>
  (await rest().get<{ items: Pod[] }>(collectionPath(POD, ns.name), { labelSelector: `fleetwright.dev/pool=${pool}` })).items;
const live = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const onNode = (pods: Pod[], node: string) => pods.filter((p) => p.spec?.nodeName === node);
const state = (pod: Pod) => pod.metadata.labels?.['fleetwright.dev/state'];

/** A node's Ready condition as a kubelet (True) or the node lifecycle controller (Unknown) writes it. */
async function setReady(node: string, status: 'True' | 'Unknown'): Promise<void> {
  const now = new Date().toISOString();
  const reason = status === 'True' ? 'KubeletReady' : 'NodeStatusUnknown';
  await rest().mergePatch(`/api/v1/nodes/${node}/status`, {
    status: { conditions: [{ type: 'Ready', status, reason, message: reason, lastHeartbeatTime: now, lastTransitionTime: now }] },
  });
  if (status === 'True') alive.add(node);
  else alive.delete(node);
}

/** Renews the heartbeat Lease of every node that is up, as its kubelet would every 10 s. */
async function beat(): Promise<void> {
  for (const node of alive) {
    const path = objectPath(LEASE, { namespace: 'kube-node-lease', name: node });
    const lease = {
      apiVersion: LEASE.apiVersion,
      kind: LEASE.kind,
      metadata: { name: node, namespace: 'kube-node-lease' },
      spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime(new Date()) },
    };
    await rest().apply(path, lease, 'fleetwright-test-kubelet').catch(() => undefined);
  }
}

async function createNode(name: string): Promise<void> {
  await rest().create('/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { unschedulable: true },
  });
  await setReady(name, 'True');
  await beat();
}

const createPool = (name: string, replicas: number) => rest().create(collectionPath(BROWSER_POOL, ns.name), {
  apiVersion: BROWSER_POOL.apiVersion,
  kind: BROWSER_POOL.kind,
  metadata: { name },
  spec: { replicas, maxSessionSeconds: 600 },
});

/** Binds the pool's unbound pods to `nodes` in turn, then runs them: Running, Ready, an IP. */
async function place(pool: string, nodes: string[]): Promise<Pod[]> {
  const pods = await eventually(`${nodes.length} unbound pods of ${pool}`, async () => {
    const unbound = live(await podsOf(pool)).filter((p) => !p.spec?.nodeName);
    return unbound.length >= nodes.length && unbound.slice(0, nodes.length);
  });
  for (const [i, pod] of pods.entries()) {
    const name = pod.metadata.name ?? '';
    await rest().create(`${podPath(name)}/binding`, {
      apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: nodes[i] },
    });
    await rest().mergePatch(`${podPath(name)}/status`, {
      status: { phase: 'Running', podIP: `127.0.0.${20 + i}`, conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
  const names = new Set(pods.map((p) => p.metadata.name));
  return eventually(`the placed pods of ${pool} idle`, async () => {
    const placed = (await podsOf(pool)).filter((p) => names.has(p.metadata.name));
    return placed.every((p) => state(p) === 'idle') && placed;
  });
}

/** Leases `pod` to a holder of the Tunnel, as a gateway connection would. */
async function lease(pod: Pod, holder: string): Promise<Pod> {
  const since = new Date().toISOString();
  const leased = await leasePod(rest(), pod, { holder, kind: 'Tunnel', ref: `${ns.name}/${TUNNEL_NAME}`, since });
  expect(leased, `lease of ${pod.metadata.name}`).toBeDefined();
  return leased as Pod;
}

const evict = async (name: string): Promise<{ code: number; message: string }> => {
  try {
    await rest().create(`${podPath(name)}/eviction`, {
      apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns.name },
    });
    return { code: 201, message: '' };
  } catch (err) {
    return { code: statusCode(err) ?? 0, message: (err as Error).message };
  }
};

beforeAll(async () => {
  await createNode(nodeA);
  await createNode(nodeB);
  heartbeats = setInterval(() => void beat(), 5_000);
  await rest().create(`/api/v1/namespaces/${ns.name}/secrets`, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token' }, stringData: { token: randomBytes(16).toString('hex') },
  });
  await rest().create(collectionPath(TUNNEL, ns.name), {
    apiVersion: TUNNEL.apiVersion,
    kind: TUNNEL.kind,
    metadata: { name: TUNNEL_NAME },
    spec: { poolRefs: [{ name: 'lost' }, { name: 'drain' }], auth: { secretRef: { name: 'token', key: 'token' } } },
  });
  controller = new ControllerProcess([
    `--watch-namespace=${ns.name}`, '--metrics-bind-address=0', '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
  leaser = new BrowserLeaser(rest(), pino({ level: 'silent' }), { namespace: ns.name });
  await leaser.start();
}, 120_000);

afterAll(async () => {
  clearInterval(heartbeats);
  await leaser?.stop();
  await controller?.kill('SIGTERM');
  // No kubelet confirms a deletion here: the namespace could not go while its pods wait for one.
  for (const pod of await podsOf('lost').then((a) => podsOf('drain').then((b) => [...a, ...b]))) {
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };
    await rest().request('DELETE', podPath(pod.metadata.name ?? ''), { body }).catch(() => undefined);
  }
  for (const node of [nodeA, nodeB]) {
    await rest().delete(`/api/v1/nodes/${node}`).catch(() => undefined);
    await rest().delete(objectPath(LEASE, { namespace: 'kube-node-lease', name: node })).catch(() => undefined);
  }
});

describe('a pool over nodes', () => {
  it('asks the scheduler to spread its browsers over nodes by hostname', async () => {
    await createPool('lost', 4);
    const pods = await eventually('4 pods', async () => {
      const pods = live(await podsOf('lost'));
      return pods.length === 4 && pods;
    });
    for (const pod of pods) {
      expect((pod.spec as { topologySpreadConstraints?: unknown }).topologySpreadConstraints).toEqual([{
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'fleetwright.dev/pool': 'lost' } },
      }]);
    }
  });

  it('replaces the browsers of a NotReady node at once, leased ones too, and its holder hears the browser is gone',
    async () => {
      const placed = await place('lost', [nodeA, nodeB, nodeA, nodeB]);
      const [leasedOnB, idleOnB] = onNode(placed, nodeB);
      const leased = await lease(leasedOnB as Pod, 'it/holder-lost');
      let toldGone = 0;
      const unwatch = leaser.onLost({ namespace: ns.name, name: leased.metadata.name ?? '' }, () => toldGone++);

      const lostAt = Date.now();
      await setReady(nodeB, 'Unknown');
      const pods = await eventually('the pool back to 4 live pods, none on the lost node', async () => {
        const pods = await podsOf('lost');
        const gone = onNode(pods, nodeB);
        return gone.every((p) => p.metadata.deletionTimestamp) && live(pods).length === 4 && pods;
      }, 15_000);
      expect(Date.now() - lostAt).toBeLessThan(10_000);
      // Deleted with a 1 s grace period (no kubelet will stop them), and they stay Terminating until one does.
      for (const pod of onNode(pods, nodeB)) expect(pod.metadata.deletionGracePeriodSeconds).toBe(1);
      expect(onNode(pods, nodeB).map((p) => p.metadata.name).sort())
        .toEqual([leased.metadata.name, idleOnB?.metadata.name].sort());
      // The replacements wait for a node; the lost node's browsers are not counted.
      await eventually('status without the lost browsers', async () => {
        const pool = await rest().get<KubeObject & { status?: Record<string, unknown> }>(
          objectPath(BROWSER_POOL, { namespace: ns.name, name: 'lost' }),
        );
        const { replicas, idle, busy, starting } = pool.status ?? {};
        return replicas === 4 && idle === 2 && busy === 0 && starting === 2;
      });
      await eventually('the holder told its browser is gone', () => toldGone === 1, 5_000);
      unwatch();

      const events = await rest().get<{ items: { reason?: string; note?: string }[] }>(
        `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`,
      );
      const notes = events.items.filter((e) => e.reason === 'NodeLost').map((e) => e.note ?? '');
      expect(notes).toContainEqual(expect.stringContaining(`browser pod ${leased.metadata.name} was leased on a lost node: ` +
        `node ${nodeB} is NotReady (Ready=Unknown, NodeStatusUnknown)`));
    }, 60_000);

  it('leases none of the lost node\'s browsers, and none again when the node comes back', async () => {
    // The two idle browsers of node A go first; the next taker waits, though the lost node's pods still say Ready.
    const holders = ['it/a1', 'it/a2'];
    const taken = await Promise.all(holders.map((holder) =>
      leaser.lease({ namespace: ns.name, name: 'lost' }, { holder, kind: 'Tunnel', ref: `${ns.name}/${TUNNEL_NAME}` }, {
        timeoutMs: 5_000,
      })));
    const pods = await podsOf('lost');
    const nodeOf = (name: string) => pods.find((p) => p.metadata.name === name)?.spec?.nodeName;
    expect(taken.map((b) => nodeOf(b.pod.name))).toEqual([nodeA, nodeA]);

    await setReady(nodeB, 'True');
    const late = leaser.lease({ namespace: ns.name, name: 'lost' }, { holder: 'it/late', kind: 'Tunnel', ref: `${ns.name}/${TUNNEL_NAME}` }, {
      timeoutMs: 3_000,
    });
    await expect(late).rejects.toBeInstanceOf(LeaseTimeoutError);
    for (const pod of onNode(await podsOf('lost'), nodeB)) {
      expect(pod.metadata.deletionTimestamp).toBeDefined();
      // Only the lease the test gave before the node was lost; no second holder.
      expect(pod.metadata.annotations?.['fleetwright.dev/lease'] ?? '').not.toMatch(/it\/a|it\/late/);
    }
    for (const b of taken) await b.release();
  }, 30_000);

  it('never takes an idle browser on a NotReady node, even one its pool has not deleted yet', async () => {
    // A browser no pool controls (no controller deletes it): the leaser's own Node check is all that stands.
    const name = `stray-${suffix}`;
    await rest().create(collectionPath(POD, ns.name), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { 'fleetwright.dev/pool': 'stray', 'fleetwright.dev/state': 'idle' },
        annotations: { 'fleetwright.dev/ws-path': '/pw-stray' },
      },
      spec: { nodeName: nodeB, containers: [{ name: 'agent', image: 'example.invalid/agent' }] },
    });
    // Running and Ready as its kubelet said last: the node lifecycle controller marks the pods of a NotReady
    // node not ready within its 5 s period, so the pod says Ready again right before each try.
    const ready = () => rest().mergePatch(`${podPath(name)}/status`, {
      status: { phase: 'Running', podIP: '127.0.0.40', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    await setReady(nodeB, 'Unknown');
    // The leaser's Node cache follows a watch: let it hear of the node first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await ready();
    const want = { holder: 'it/stray', kind: 'Tunnel' as const, ref: `${ns.name}/${TUNNEL_NAME}` };
    await expect(leaser.lease({ namespace: ns.name, name: 'stray' }, want, { timeoutMs: 2_000 }))
      .rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(state(await rest().get<Pod>(podPath(name)))).toBe('idle');

    await setReady(nodeB, 'True');
    const browser = await eventually('the stray browser leased once its node is Ready', async () => {
      await ready();
      return leaser.lease({ namespace: ns.name, name: 'stray' }, want, { timeoutMs: 1_000 }).catch(() => undefined);
    });
    expect(browser.pod.name).toBe(name);
    await rest().request('DELETE', podPath(name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } });
  }, 30_000);
});

describe('a drain of a node with leased and idle browsers', () => {
  const budgetPath = objectPath(
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
    { namespace: ns.name, name: 'fleetwright-pool-drain-leased' },
  );

  it('finds a PodDisruptionBudget over the pool\'s leased browsers that allows no eviction', async () => {
    await createPool('drain', 2);
    const placed = await place('drain', [nodeA, nodeA]);
    await lease(placed[0] as Pod, 'it/holder-drain');
    const budget = await eventually('the budget, processed', async () => {
      const budget = await rest().get<Budget>(budgetPath).catch(() => undefined);
      return budget?.status?.observedGeneration === budget?.metadata.generation && budget?.status?.expectedPods === 1 &&
        budget;
    }, 30_000);
    expect(budget.metadata.ownerReferences).toMatchObject([{ kind: 'BrowserPool', name: 'drain', controller: true }]);
    expect(budget.spec?.selector).toEqual({ matchLabels: { 'fleetwright.dev/pool': 'drain', 'fleetwright.dev/state': 'leased' } });
    expect(budget.status).toMatchObject({ currentHealthy: 1, expectedPods: 1, disruptionsAllowed: 0 });
  }, 60_000);

  it('is refused (429) for a leased browser, which carries safe-to-evict "false", and evicts an idle one, ' +
    'which the pool replaces', async () => {
    const pods = live(await podsOf('drain'));
    const leased = pods.find((p) => state(p) === 'leased') as Pod;
    const idle = pods.find((p) => state(p) === 'idle') as Pod;
    expect(leased.metadata.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBe('false');
    expect(idle.metadata.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBeUndefined();

    const refused = await evict(leased.metadata.name ?? '');
    expect(refused.code).toBe(429);
    expect(refused.message).toContain('disruption budget');
    expect((await rest().get<Pod>(podPath(leased.metadata.name ?? ''))).metadata.deletionTimestamp).toBeUndefined();

    expect(await evict(idle.metadata.name ?? '')).toEqual({ code: 201, message: '' });
    await eventually('the evicted browser replaced', async () => {
      const now = await podsOf('drain');
      const evicted = now.find((p) => p.metadata.name === idle.metadata.name);
      return (!evicted || evicted.metadata.deletionTimestamp) && live(now).length === 2;
    });
  }, 30_000);

  it('evicts the browser once its lease ends, and it has lost safe-to-evict "false"', async () => {
    const leased = live(await podsOf('drain')).find((p) => state(p) === 'leased') as Pod;
    expect(await releaseBrowser(rest(), { namespace: ns.name, name: leased.metadata.name ?? '' }, 'it/holder-drain'))
      .toBe(true);
    const returned = await rest().get<Pod>(podPath(leased.metadata.name ?? ''));
    expect(returned.metadata.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBeUndefined();
    const evicted = await eventually('the eviction allowed', async () => {
      const result = await evict(leased.metadata.name ?? '');
      return result.code === 201 && result;
    }, 10_000);
    expect(evicted.code).toBe(201);
  }, 30_000);
});
