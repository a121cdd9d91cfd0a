import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, up } from '../../../hack/controlplane.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { collectionPath, objectPath } from '../../../src/runtime/resource.ts';
import { configMaps, desiredSecret, secrets, toyController } from '../../fixtures/runtime/toy.ts';
import { useNamespace } from '../helpers.ts';
import { eventually, inParallel, listAll, rest, startManager } from './support.ts';

const ns = useNamespace('rt-restart');

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

async function converged(): Promise<boolean> {
  const sources = (await listAll<ConfigMap>(configMaps, ns.name)).filter((c) => c.metadata.labels?.toy === 'source');
  const copies = await listAll<KubeObject & { data?: unknown }>(secrets, ns.name);
  return copies.length === sources.length && sources.every((s) => JSON.stringify(
    copies.find((c) => c.metadata.name === s.metadata.name)?.data,
  ) === JSON.stringify(desiredSecret(s).data));
}

describe('when the API server goes away and comes back', () => {
  let env: Awaited<ReturnType<typeof startManager>>;

  beforeAll(async () => {
    env = await startManager([toyController()], ns.name);
  });
  afterAll(async () => {
    await env.stop();
  });

  it('resumes its watches and converges on every change made around the restart', async () => {
    const api = rest();
    const path = (name: string) => objectPath(configMaps, { namespace: ns.name, name });
    const names = Array.from({ length: 20 }, (_, i) => `cm-${i}`);
    await inParallel(10, names.map((name) => () => api.create(collectionPath(configMaps, ns.name), {
      metadata: { name, labels: { toy: 'source' } },
      data: { v: 'before' },
    })));
    await eventually('the first convergence', converged);
    const informer = env.manager.informer(configMaps);
    const watchesBefore = informer.stats.watches;

    await kill('kube-apiserver');
    await eventually('the informers to notice', () => env.lines.some((l) => l.msg === 'list/watch failed; retrying'));
    await up(() => undefined);

    // Right after the restart, while the informers may still be backing off: updates, deletes, creates.
    await inParallel(10, [
      ...names.slice(0, 10).map((name) => () => api.mergePatch(path(name), { data: { v: 'after' } })),
      ...names.slice(10, 15).map((name) => () => api.delete(path(name))),
      ...['new-0', 'new-1'].map((name) => () => api.create(collectionPath(configMaps, ns.name), {
        metadata: { name, labels: { toy: 'source' } },
        data: { v: 'new' },
      })),
    ]);

    await eventually('convergence after the restart', converged, 30_000);
    expect(informer.stats.watches).toBeGreaterThan(watchesBefore);
    await eventually('the cache to match the API server', async () => {
      const live = await listAll<ConfigMap>(configMaps, ns.name);
      const cached = informer.store.list({ namespace: ns.name });
      return live.length === cached.length &&
        live.every((o) => informer.store.get(`${ns.name}/${o.metadata.name}`)?.metadata.resourceVersion ===
          o.metadata.resourceVersion);
    });
    expect(informer.store.get(`${ns.name}/cm-12`)).toBeUndefined();
    expect((informer.store.get(`${ns.name}/cm-3`) as ConfigMap | undefined)?.data?.v).toBe('after');
  }, 90_000);
});
