import { describe, expect, it } from 'vitest';
import { BrowserPoolResource } from '../../src/api/v1alpha1/index.ts';
import { customObjects, kubectl, useNamespace } from './helpers.ts';

const ns = useNamespace('scale');
const pools = { group: 'fleetwright.dev', version: 'v1alpha1', plural: 'browserpools' };

describe('BrowserPool on the API server', () => {
  it('kubectl scale changes spec.replicas through the scale subresource', async () => {
    const created = kubectl(
      ['create', '-n', ns.name, '-f', '-'],
      JSON.stringify({
        apiVersion: 'fleetwright.dev/v1alpha1',
        kind: 'BrowserPool',
        metadata: { name: 'p' },
        spec: {},
      }),
    );
    expect(created.status, created.stderr).toBe(0);

    const scaled = kubectl(['scale', '-n', ns.name, 'bp/p', '--replicas=3']);
    expect(scaled.stdout.trim()).toBe('browserpool.fleetwright.dev/p scaled');
    const pool = (await customObjects().getNamespacedCustomObject({
      ...pools,
      namespace: ns.name,
      name: 'p',
    })) as {
      spec: { replicas: number };
    };
    expect(pool.spec.replicas).toBe(3);

    const scale = JSON.parse(
      kubectl(['get', '-n', ns.name, 'bp/p', '--subresource=scale', '-o', 'json']).stdout,
    );
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
  });

  it('stores the same defaults that the controller parses', async () => {
    const minimal = {
      apiVersion: 'fleetwright.dev/v1alpha1',
      kind: 'BrowserPool',
      metadata: { name: 'defaults' },
      spec: { autoscaling: { maxReplicas: 4 }, launch: { env: [{ name: 'A' }] } },
    };
    const stored = (await customObjects().createNamespacedCustomObject({
      ...pools,
      namespace: ns.name,
      body: minimal,
    })) as { spec: unknown };
    expect(stored.spec).toEqual(BrowserPoolResource.parse(minimal).spec);
  });
});
