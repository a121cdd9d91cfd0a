// Two real nodes: the second (hack/controlplane.ts upSecondNode) joins the
// cluster of the other node tests for this file only, and leaves with it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downSecondNode, upSecondNode } from '../../hack/controlplane.ts';
import { FIRST_NODE, SECOND_NODE, SECOND_NODE_LINK } from '../../hack/lib/node-layout.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { core, isReady, pod, SERVER, waitForPod } from './pods.ts';
import { apply, poolManifest, useController, waitForPool } from './pools.ts';

const ns = useNamespace('nodes');
useController(() => ns.name);

beforeAll(async () => {
  await upSecondNode((line) => console.log(`[cluster] ${line}`));
}, 300_000);

afterAll(async () => {
  await downSecondNode();
}, 120_000);

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
