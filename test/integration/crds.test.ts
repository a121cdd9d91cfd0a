import { join } from 'node:path';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import { kubeConfig, kubectl, useNamespace } from './helpers.ts';

const ns = useNamespace('crds');

describe('the generated CRDs on a real API server', () => {
  it.each(['browserpools', 'testruns', 'tunnels'])('%s.fleetwright.dev is Established', async (plural) => {
    const crd = await kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: `${plural}.fleetwright.dev` });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    expect(established?.status).toBe('True');
  });

  it('kubectl explain prints the field descriptions', () => {
    const result = kubectl(['explain', 'browserpool.spec.autoscaling']);
    expect(result.stderr).toBe('');
    // kubectl wraps descriptions at 80 columns.
    const text = result.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('desired = clamp(busy + waiting + idleBuffer, minReplicas, maxReplicas)');
    expect(text).toContain('maxReplicas <integer> -required-');
    expect(text).toContain('Idle browsers kept ready on top of busy ones and waiting lease requests.');
  });

  it('accepts every sample in config/samples, the git one in its folder included, with a server-side dry run', () => {
    const result = kubectl([
      'apply',
      '--dry-run=server',
      '--recursive',
      '-n',
      ns.name,
      '-f',
      join(repoRoot, 'config', 'samples'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').sort()).toEqual([
      'browserpool.fleetwright.dev/chromium created (server dry run)',
      'configmap/smoke-suite created (server dry run)',
      'secret/dev-tunnel-token created (server dry run)',
      'secret/e2e-git created (server dry run)',
      'testrun.fleetwright.dev/smoke created (server dry run)',
      'testrun.fleetwright.dev/smoke-from-git created (server dry run)',
      'tunnel.fleetwright.dev/dev created (server dry run)',
    ]);
  });

  it('lists all three kinds under the fleetwright category with their printer columns', () => {
    const applied = kubectl(['apply', '-n', ns.name, '-f', join(repoRoot, 'config', 'samples')]);
    expect(applied.status, applied.stderr).toBe(0);
    const all = kubectl(['get', 'fleetwright', '-n', ns.name]);
    expect(all.stdout, all.stderr).toContain('browserpool.fleetwright.dev/chromium');
    expect(all.stdout).toContain('testrun.fleetwright.dev/smoke');
    expect(all.stdout).toContain('tunnel.fleetwright.dev/dev');

    const header = (resource: string) =>
      kubectl(['get', resource, '-n', ns.name]).stdout.split('\n')[0]?.split(/\s+/);
    expect(header('bp')).toEqual(['NAME', 'BROWSER', 'DESIRED', 'READY', 'IDLE', 'BUSY', 'AGE']);
    expect(header('tr')).toEqual(['NAME', 'PHASE', 'POOL', 'SHARDS', 'PASSED', 'FAILED', 'DURATION', 'AGE']);
    expect(header('tun')).toEqual(['NAME', 'POOL', 'URL', 'ACTIVE', 'AGE']);
  });
});
