import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kill, up } from '../../hack/controlplane.ts';
import { kubeConfig, useNamespace } from './helpers.ts';

const ns = useNamespace('controlplane');

describe('hack/controlplane', () => {
  it('starts nothing when it is already up', async () => {
    const lines: string[] = [];
    await up((line) => lines.push(line));
    expect(lines.join('\n')).toContain('already running');
  });

  it('brings back a killed API server with its data', async () => {
    await kill('kube-apiserver');
    const lines: string[] = [];
    await up((line) => lines.push(line));
    expect(lines.join('\n')).toContain('started kube-apiserver');
    const namespace = await kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: ns.name });
    expect(namespace.status?.phase).toBe('Active');
  });
});
