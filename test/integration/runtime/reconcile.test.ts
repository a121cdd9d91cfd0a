import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { collectionPath, objectPath, type Request } from '../../../src/runtime/resource.ts';
import { configMaps, desiredSecret, secrets, toyController } from '../../fixtures/runtime/toy.ts';
import { useNamespace } from '../helpers.ts';
import { eventually, inParallel, listAll, rest, startManager } from './support.ts';

const ns = useNamespace('rt-reconcile');

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const source = (name: string, data: Record<string, string>, annotations: Record<string, string> = {}): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels: { toy: 'source' }, annotations },
  data,
});

/** Every source has its Secret with the same data, and no Secret is left without a source. */
async function converged(): Promise<boolean> {
  const sources = await listAll<ConfigMap>(configMaps, ns.name);
  const copies = await listAll<KubeObject>(secrets, ns.name);
  const toyCopies = copies.filter((s) => s.metadata.labels?.toy === 'copy');
  const want = sources.filter((s) => s.metadata.labels?.toy === 'source');
  if (toyCopies.length !== want.length) return false;
  return want.every((s) => {
    const copy = toyCopies.find((c) => c.metadata.name === s.metadata.name);
    return JSON.stringify(copy?.data) === JSON.stringify(desiredSecret(s).data);
  });
}

describe('a toy reconciler on the runtime', () => {
  const deleted: Request[] = [];
  let env: Awaited<ReturnType<typeof startManager>>;

  beforeAll(async () => {
    env = await startManager([toyController({ sawDeleted: (r) => deleted.push(r) }, 4)], ns.name);
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(true);
  });

  it('converges on create, update and delete', async () => {
    const api = rest();
    await api.create(collectionPath(configMaps, ns.name), source('app', { url: 'http://a' }));
    await eventually('the Secret of a new ConfigMap', converged);

    await api.mergePatch(objectPath(configMaps, { namespace: ns.name, name: 'app' }), { data: { url: 'http://b' } });
    await eventually('the Secret to follow the update', converged);
    const secret = await api.get<KubeObject & { data: Record<string, string> }>(
      objectPath(secrets, { namespace: ns.name, name: 'app' }),
    );
    expect(Buffer.from(secret.data.url as string, 'base64').toString()).toBe('http://b');

    await api.delete(objectPath(configMaps, { namespace: ns.name, name: 'app' }));
    await eventually('the Secret to go with its ConfigMap', converged);
    expect(deleted).toContainEqual({ namespace: ns.name, name: 'app' });
  });

  it('puts back an owned object that someone changed: its event maps to the owner', async () => {
    const api = rest();
    await api.create(collectionPath(configMaps, ns.name), source('owned', { k: 'v' }));
    await eventually('the Secret', converged);
    await api.mergePatch(objectPath(secrets, { namespace: ns.name, name: 'owned' }), { data: { k: 'dGFtcGVyZWQ=' } });
    await eventually('the Secret to be restored', converged);
  });

  it('holds exactly what the API server holds after 500 rapid updates', async () => {
    const api = rest();
    const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    await inParallel(10, names.map((name) => () => api.create(collectionPath(configMaps, ns.name), source(name, { n: '0' }))));
    // 50 creates + 450 updates, in rounds so that the last write of each object is n=9; the
    // controller sees each object change again before it has finished with its last change.
    for (let n = 1; n <= 9; n++) {
      await inParallel(20, names.map((name) => () =>
        api.mergePatch(objectPath(configMaps, { namespace: ns.name, name }), { data: { n: String(n) } })));
    }

    await eventually('every Secret at n=9', converged, 30_000);
    const cache = env.manager.informer(configMaps).store;
    await eventually('the cache to match a fresh list', async () => {
      const live = await listAll<ConfigMap>(configMaps, ns.name);
      const cached = cache.list({ namespace: ns.name });
      return live.length === cached.length && live.every((o) => {
        const c = cache.get(`${ns.name}/${o.metadata.name}`) as ConfigMap | undefined;
        return c !== undefined && c.metadata.resourceVersion === o.metadata.resourceVersion && c.data?.n === o.data?.n;
      });
    });
    expect(cache.list({ namespace: ns.name, labels: { toy: 'source' } }).filter((o) => (o as ConfigMap).data?.n === '9'))
      .toHaveLength(50);
    expect(env.manager.informer(secrets).store.list({ namespace: ns.name, labels: { toy: 'copy' } })).toHaveLength(51);
  });
});
