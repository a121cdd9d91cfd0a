import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { down, up } from '../../hack/controlplane.ts';
import { NODE_IP, NODE_NAME } from '../../hack/lib/node.ts';
import { repoRoot, stateDir } from '../../hack/lib/paths.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { core, isReady, pod, SERVER, waitForPod } from './pods.ts';

const ns = useNamespace('node');
const waitFor = (name: string, done: (p: V1Pod) => boolean) => waitForPod(ns.name, name, done);

async function exec(name: string, script: string): Promise<string> {
  const result = kubectl(['exec', '-n', ns.name, name, '--', 'node', '-e', script]);
  expect(result.stderr).toBe('');
  return result.stdout.trim();
}

describe('the real node', () => {
  it('is Ready and schedulable at its bridge address', async () => {
    const node = await core().readNode({ name: NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.spec?.taints ?? []).toEqual([]);
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: NODE_IP });
  });

  it('runs a restricted pod of the project\'s image until it is Ready', async () => {
    const started = Date.now();
    await core().createNamespacedPod({ namespace: ns.name, body: pod('web', ['node', '-e', SERVER]) });
    const running = await waitFor('web', isReady);
    expect(running.spec?.nodeName).toBe(NODE_NAME);
    expect(running.status?.podIP).toMatch(/^10\.244\.0\.\d+$/);
    expect(Date.now() - started).toBeLessThan(30_000);
    // The host reaches the pod through the bridge.
    const response = await fetch(`http://${running.status?.podIP}:8080/`);
    expect(await response.text()).toBe('hello from 0.0.0.0:8080');
  });

  it('serves kubectl logs and kubectl exec through the kubelet', async () => {
    expect(kubectl(['logs', '-n', ns.name, 'web']).stdout).toContain('listening on 8080 and 127.0.0.1:9000');
    expect(await exec('web', 'console.log(process.getuid(), process.version)')).toMatch(/^10001 v24\./);
  });

  it('keeps each pod\'s 127.0.0.1 its own, and lets pods reach each other\'s pod IP', async () => {
    await core().createNamespacedPod({ namespace: ns.name, body: pod('peer', ['node', '-e', SERVER]) });
    await waitFor('peer', isReady);
    const web = await core().readNamespacedPod({ name: 'web', namespace: ns.name });
    const get = (url: string) =>
      `fetch('${url}').then(async (r) => console.log(await r.text()), (e) => console.log('error', e.cause?.code))`;
    // peer's own 127.0.0.1:9000 answers, never web's.
    expect(await exec('peer', get('http://127.0.0.1:9000/'))).toBe('hello from 127.0.0.1:9000');
    expect(await exec('peer', get(`http://${web.status?.podIP}:8080/`))).toBe('hello from 0.0.0.0:8080');
    // web's loopback-only server is out of reach from another pod.
    expect(await exec('peer', get(`http://${web.status?.podIP}:9000/`))).toBe('error ECONNREFUSED');
  });

  it('reports an exit code and the termination message in the pod status', async () => {
    const script = 'require(\'node:fs\').writeFileSync(\'/dev/termination-log\', \'summary: 3 failed\'); process.exit(3)';
    const body = pod('exits', ['node', '-e', script], { restartPolicy: 'Never' });
    delete body.spec?.containers[0]?.readinessProbe;
    await core().createNamespacedPod({ namespace: ns.name, body });
    const done = await waitFor('exits', (p) => p.status?.phase === 'Failed');
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      message: 'summary: 3 failed',
    });
  });

  it('deletes a pod whose PID 1 handles SIGTERM well within its 30 s grace period', async () => {
    const started = Date.now();
    await core().deleteNamespacedPod({ name: 'web', namespace: ns.name });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const pods = await core().listNamespacedPod({ namespace: ns.name, fieldSelector: 'metadata.name=web' });
      if (pods.items.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('hack/controlplane up', () => {
  it('starts nothing when the cluster is already up', async () => {
    const lines: string[] = [];
    await up((line) => lines.push(line), { node: true });
    expect(lines).toEqual([expect.stringContaining('already running')]);
  });

  it('comes up after an up that was killed half way', async () => {
    await down(() => {});
    const half = spawn(process.execPath, [join(repoRoot, 'hack', 'controlplane.ts'), 'up'], { stdio: 'ignore' });
    // Kill it once the node has begun: containerd's config is written before containerd starts.
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(stateDir, 'node', 'containerd', 'config.toml')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    half.kill('SIGKILL');

    const started = Date.now();
    await up(() => {}, { node: true });
    const node = await core().readNode({ name: NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // Warm: every binary and image is cached.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
