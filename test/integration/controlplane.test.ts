import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
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

  it('refuses to start where another cluster\'s etcd port is taken, naming the port and the fix', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const { port } = taken.address() as { port: number };
    const state = mkdtempSync(join(tmpdir(), 'fleetwright-taken-'));
    try {
      const result = spawnSync(process.execPath, [join(repoRoot, 'hack', 'controlplane.ts'), 'up', '--api-only'], {
        encoding: 'utf8',
        env: {
          ...process.env, FLEETWRIGHT_STATE_DIR: state, FLEETWRIGHT_ETCD_PORT: String(port),
          FLEETWRIGHT_ETCD_PEER_PORT: '0', FLEETWRIGHT_APISERVER_PORT: '0',
        },
        timeout: 60_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`etcd of ${state} cannot start: 127.0.0.1:${port} is taken`);
      expect(result.stderr).toContain('FLEETWRIGHT_ETCD_PORT');
    } finally {
      taken.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
