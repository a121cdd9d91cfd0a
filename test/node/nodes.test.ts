// Two real nodes: the second (hack/controlplane.ts upSecondNode) joins the
// cluster of the other node tests for this file only, and leaves with it.
// Pools spread over both; the second is killed mid-run as a power loss would
// (crashSecondNode) and comes back; and it is drained with kubectl while some
// of its browsers are leased.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { crashSecondNode, downSecondNode, upSecondNode } from '../../hack/controlplane.ts';
import { FIRST_NODE, SECOND_NODE, SECOND_NODE_LINK } from '../../hack/lib/node-layout.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { PodObject } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { collectionPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { type ControllerProcess, eventually, rest } from '../integration/runtime/support.ts';
import { type Counts, runDirectly } from './direct-run.ts';
import { core, isReady, pod, SERVER, waitForPod } from './pods.ts';
import {
  apply, poolManifest, poolPods, startGateway, testRunManifest, tunnelManifest, useController, waitForPool,
} from './pools.ts';

const ns = useNamespace('nodes');
useController(() => ns.name);
const TOKEN = randomBytes(16).toString('hex');
let gateway: ControllerProcess;
const opened: Browser[] = [];

beforeAll(async () => {
  await upSecondNode((line) => console.log(`[cluster] ${line}`));
  gateway = startGateway(ns.name, 'gw');
}, 300_000);

afterAll(async () => {
  await Promise.all(opened.map((b) => b.close().catch(() => undefined)));
  await gateway?.kill('SIGTERM');
  await downSecondNode();
}, 120_000);

/** A Tunnel over `pool` with the file's token. */
const poolTunnel = (name: string, pool: string) =>
  tunnelManifest(name, `poolRefs: [{ name: ${pool} }]\nauth: { secretRef: { name: token } }`);
async function openSession(tunnel: string): Promise<Browser> {
  const url = `${(await gateway.url('Tunnels')).replace('http', 'ws')}/tunnels/${ns.name}/${tunnel}`;
  const browser = await chromium.connect(url, { headers: { Authorization: `Bearer ${TOKEN}` }, timeout: 120_000 });
  opened.push(browser);
  const page = await browser.newPage();
  await page.setContent('<title>session</title>');
  return browser;
}
const alive = async (b: Browser) =>
  (await b.contexts()[0]?.pages()[0]?.evaluate(() => 6 * 7).catch(() => undefined)) === 42;
const podNode = (p: PodObject) => (p.spec as { nodeName?: string } | undefined)?.nodeName;

/** What `url` answers inside pod `name`: status and body, or the error code. */
function fetchIn(name: string, url: string): string {
  const script = `fetch('${url}', { signal: AbortSignal.timeout(3000) })` +
    '.then(async (r) => console.log(r.status, await r.text()), (e) => console.log(\'error\', e.cause?.code ?? e.name))';
  return kubectl(['exec', '-n', ns.name, name, '--', 'node', '-e', script]).stdout.trim();
}

async function podOn(name: string, node: string): Promise<V1Pod> {
  await core().createNamespacedPod({ namespace: ns.name, body: pod(name, ['node', '-e', SERVER], { nodeName: node }, { app: name }) });
  kubectl(['expose', 'pod', name, '-n', ns.name, '--port=80', '--target-port=8080']);
  return waitForPod(ns.name, name, isReady);
}

describe('a second node', () => {
  let first: V1Pod;
  let second: V1Pod;

  it('is Ready at its own address, and runs pods on its own range that the host reaches', async () => {
    const node = await core().readNode({ name: SECOND_NODE.name });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: SECOND_NODE.ip });
    [first, second] = await Promise.all([podOn('one', FIRST_NODE.name), podOn('two', SECOND_NODE.name)]);
    expect(first.status?.podIP).toMatch(/^10\.244\.0\.\d+$/);
    expect(second.status?.podIP).toMatch(/^10\.244\.1\.\d+$/);
    expect(await (await fetch(`http://${second.status?.podIP}:8080/`)).text()).toBe('hello from 0.0.0.0:8080');
    // kubectl logs and exec reach its kubelet.
    expect(kubectl(['logs', '-n', ns.name, 'two']).stdout).toContain('listening on 8080');
  });

  it('lets pods of both nodes reach each other, by pod IP and by Service, and the API server; nothing else', () => {
    expect(fetchIn('one', `http://${second.status?.podIP}:8080/`)).toBe('200 hello from 0.0.0.0:8080');
    expect(fetchIn('two', `http://${first.status?.podIP}:8080/`)).toBe('200 hello from 0.0.0.0:8080');
    expect(fetchIn('one', `http://two.${ns.name}.svc.cluster.local/`)).toBe('200 hello from 0.0.0.0:8080');
    expect(fetchIn('two', `http://one.${ns.name}.svc.cluster.local/`)).toBe('200 hello from 0.0.0.0:8080');
    // The API server answers through the kubernetes Service (400: plain HTTP to its TLS port).
    expect(fetchIn('two', 'http://kubernetes.default.svc:443/')).toMatch(/^400 /);
    // No route off the cluster, from either node.
    expect(fetchIn('two', 'http://192.0.2.1/')).toMatch(/^error (ENETUNREACH|EHOSTUNREACH)$/);
    expect(fetchIn('two', `http://${SECOND_NODE_LINK.hostIp}:16443/`)).toMatch(/^error (ENETUNREACH|EHOSTUNREACH)$/);
  });

  it('is gone with its network and Node after downSecondNode, and comes back', async () => {
    await downSecondNode();
    expect(existsSync(`/run/netns/${SECOND_NODE.netns}`)).toBe(false);
    expect(spawnSync('ip', ['link', 'show', SECOND_NODE_LINK.hostIf]).status).not.toBe(0);
    expect(spawnSync('iptables', ['-t', 'mangle', '-S', 'FORWARD'], { encoding: 'utf8' }).stdout).not.toContain(SECOND_NODE_LINK.hostIf);
    await expect(core().readNode({ name: SECOND_NODE.name })).rejects.toMatchObject({ code: 404 });
    expect((await core().listNamespacedPod({ namespace: ns.name, fieldSelector: `spec.nodeName=${SECOND_NODE.name}` })).items).toEqual([]);
    const started = Date.now();
    await upSecondNode(() => {});
    // Warm: its containerd kept the images.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('a BrowserPool over two nodes', () => {
  it('spreads its browsers evenly over them by default', async () => {
    apply(ns.name, poolManifest('spread', 'replicas: 4'));
    await waitForPool(ns.name, 'spread', '4 idle', (p) => p.status?.idle === 4, 120_000);
    const pods = await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'fleetwright.dev/pool=spread' });
    const nodes = pods.items.map((p) => p.spec?.nodeName ?? 'none');
    expect(Object.groupBy(nodes, (n) => n)).toEqual({ [FIRST_NODE.name]: [FIRST_NODE.name, FIRST_NODE.name],
      [SECOND_NODE.name]: [SECOND_NODE.name, SECOND_NODE.name] });
  });
});

/** Four tests of about 1.5 s each, one failing: long enough for the node to go while shards run. */
const suiteDir = join(repoRoot, 'test', 'fixtures', 'load-suite');
type Shard = { index: number; phase: string; attempts?: number; browserPod?: string; runnerPod?: string };
interface RunObject extends KubeObject {
  status?: { phase?: string; shards?: Shard[]; summary?: Counts };
}

/** When a runner pod's containers had all ended (to the second, rounded down); Infinity while one runs. */
async function runnerFinishedAt(name: string | undefined): Promise<number> {
  if (!name) return Infinity;
  const runner = await core().readNamespacedPod({ namespace: ns.name, name }).catch(() => undefined);
  const containers = runner?.status?.containerStatuses ?? [];
  const ends = containers.flatMap((c) => c.state?.terminated?.finishedAt?.getTime() ?? []);
  return ends.length > 0 && ends.length === containers.length ? Math.max(...ends) : Infinity;
}

const listRuns = async (names: string[]) =>
  (await rest().get<{ items: RunObject[] }>(collectionPath(TEST_RUN, ns.name))).items.filter((r) => names.includes(r.metadata.name ?? ''));

describe('a node lost mid-run', () => {
  it('leaves every run with a direct run\'s counts and every session finished or closed; the pool is whole again within 60 s', async () => {
    await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, {
      metadata: { name: 'load' },
      data: Object.fromEntries(readdirSync(suiteDir).map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')])),
    });
    apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: ${TOKEN} }
---
${poolTunnel('spread', 'spread')}`);
    const direct = await runDirectly(suiteDir);
    const sessions = [await openSession('spread'), await openSession('spread')];
    const runs = ['lost-a', 'lost-b'];
    apply(ns.name, runs.map((name) => testRunManifest(name, 'poolRef: { name: spread }\nshards: 2\nsource: { configMap: { name: load } }')).join('\n---\n'));
    // Every browser leased (two sessions, two shards): two of them are on the second node.
    await eventually('every browser leased', async () =>
      (await poolPods(ns.name, 'spread')).filter((p) => leaseOf(p)).length === 4, 120_000, 250);
    const second = (await poolPods(ns.name, 'spread')).filter((p) => podNode(p) === SECOND_NODE.name);
    const onSecond = new Set(second.map((p) => p.metadata.name));
    const sessionsOnSecond = second.filter((p) => leaseOf(p)?.kind === 'Tunnel').length;
    // The shards the crash cuts: those running on a browser, or in a runner pod, of the second node.
    const runnersOnSecond = (await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'fleetwright.dev/testrun' }))
      .items.filter((p) => p.spec?.nodeName === SECOND_NODE.name && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''))
      .map((p) => `${p.metadata?.labels?.['fleetwright.dev/testrun']}/${p.metadata?.labels?.['fleetwright.dev/shard']}`);
    const cut = new Set([...runnersOnSecond, ...(await listRuns(runs)).flatMap((r) => (r.status?.shards ?? [])
      .filter((s) => s.phase === 'Running' && onSecond.has(s.browserPod)).map((s) => `${r.metadata.name}/${s.index}`))]);
    expect(cut.size).toBeGreaterThan(0);

    const crashedAt = Date.now();
    crashSecondNode();
    const notReadyAt = await eventually('the second node to be NotReady', async () => {
      const node = await core().readNode({ name: SECOND_NODE.name });
      return node.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True' && Date.now();
    }, 120_000, 500);
    await eventually('4 Ready browsers on the first node', async () => {
      const live = (await poolPods(ns.name, 'spread')).filter((p) => !p.metadata.deletionTimestamp);
      return live.length === 4 && live.every((p) => podNode(p) === FIRST_NODE.name &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000, 500);
    expect(Date.now() - notReadyAt).toBeLessThan(60_000);

    const finished = await eventually('both runs to finish', async () => {
      const items = await listRuns(runs);
      return items.every((r) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '')) && items;
    }, 240_000, 1_000);
    for (const run of finished) {
      expect({ name: run.metadata.name, phase: run.status?.phase, summary: run.status?.summary })
        .toMatchObject({ name: run.metadata.name, phase: 'Failed', summary: direct });
      // Each cut shard ran again, on a browser of the first node, unless its runner had already finished when
      // the node went: its status said Running only until the controller's next pass recorded the result.
      for (const shard of (run.status?.shards ?? []).filter((s) => cut.has(`${run.metadata.name}/${s.index}`))) {
        let outcome = 'ran once, finishing after the crash';
        if ((shard.attempts ?? 0) >= 2) outcome = onSecond.has(shard.browserPod) ? 'ran again on the lost node' : 'ran again';
        else if ((await runnerFinishedAt(shard.runnerPod)) <= crashedAt) outcome = 'had finished';
        expect(`${run.metadata.name}/${shard.index} ${outcome}`).toMatch(/ (ran again|had finished)$/);
      }
    }
    // Sessions on the lost node's browsers were closed; the others live on.
    const states = await Promise.all(sessions.map(async (b) => (b.isConnected() && (await alive(b)) ? 'alive' : 'closed')));
    expect(states.filter((s) => s === 'closed')).toHaveLength(sessionsOnSecond);
    expect(states.filter((s) => s === 'alive')).toHaveLength(2 - sessionsOnSecond);
    await Promise.all(sessions.map((b) => b.close().catch(() => undefined)));

    // Back as a rebooted machine: the lost browsers go for good, none is leased, the pool stays at 4.
    await upSecondNode(() => {});
    await eventually('the lost browsers to be gone', async () =>
      (await poolPods(ns.name, 'spread')).every((p) => !onSecond.has(p.metadata.name)), 120_000, 1_000);
    const pods = await poolPods(ns.name, 'spread');
    expect(pods).toHaveLength(4);
    expect(pods.filter((p) => podNode(p) === SECOND_NODE.name && leaseOf(p))).toEqual([]);
  }, 600_000);
});

describe('kubectl drain of a node', () => {
  it('evicts its idle browsers at once and its leased ones only once their leases end, cutting no session', async () => {
    // Whatever the test before left it as (it crashes the node and brings it back last).
    await upSecondNode(() => {});
    apply(ns.name, `${poolManifest('pinned', `replicas: 4\ntemplate: { nodeSelector: { kubernetes.io/hostname: ${SECOND_NODE.name} } }`)}
---
${poolTunnel('pinned', 'pinned')}`);
    await waitForPool(ns.name, 'pinned', '4 idle', (p) => p.status?.idle === 4, 120_000);
    const sessions = [await openSession('pinned'), await openSession('pinned')];
    const before = await poolPods(ns.name, 'pinned');
    const leased = before.filter((p) => leaseOf(p)).map((p) => p.metadata.name);
    const idle = before.filter((p) => !leaseOf(p)).map((p) => p.metadata.name);
    expect([leased.length, idle.length]).toEqual([2, 2]);
    // Cluster autoscalers leave the leased ones alone too.
    for (const p of before) {
      expect(p.metadata.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBe(leaseOf(p) ? 'false' : undefined);
    }

    let output = '';
    const drain = spawn(inject('kubectl'), ['drain', SECOND_NODE.name, '--pod-selector=fleetwright.dev/pool=pinned', '--timeout=180s'],
      { env: { ...process.env, KUBECONFIG: inject('kubeconfig') } });
    drain.stdout.on('data', (c: Buffer) => (output += c.toString()));
    drain.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => drain.on('close', resolve));
    const gone = async (names: (string | undefined)[]) => {
      const pods = await poolPods(ns.name, 'pinned');
      return names.every((n) => pods.find((p) => p.metadata.name === n)?.metadata.deletionTimestamp !== undefined ||
        !pods.some((p) => p.metadata.name === n));
    };
    await eventually('the idle browsers to be evicted', () => gone(idle), 30_000, 250);
    // Drain keeps asking while the sessions run: their browsers stay, and the sessions with them.
    await new Promise((r) => setTimeout(r, 10_000));
    const still = await poolPods(ns.name, 'pinned');
    for (const name of leased) {
      expect(still.find((p) => p.metadata.name === name)?.metadata.deletionTimestamp).toBeUndefined();
    }
    for (const b of sessions) expect(await alive(b)).toBe(true);
    expect(output).toContain('disruption budget');

    await Promise.all(sessions.map((b) => b.close()));
    expect(await exited).toBe(0);
    expect(await gone(leased)).toBe(true);
    expect(kubectl(['uncordon', SECOND_NODE.name]).status).toBe(0);
  }, 300_000);
});
