import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import { Informer } from '../../../src/runtime/informer.ts';
import { RestClient } from '../../../src/runtime/rest.ts';

// A scripted API server: the informer's side of list, watch, bookmarks and 410 Gone,
// in an order a real server only produces by chance (see the integration tests for that).

const configMaps: ResourceType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const cm = (name: string, rv: string): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv },
});
const list = (rv: string, items: KubeObject[]) => ({ kind: 'ConfigMapList', metadata: { resourceVersion: rv }, items });
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

type Handler = (url: URL, res: ServerResponse) => void;

let server: Server | undefined;
let informer: Informer | undefined;
afterEach(async () => {
  await informer?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

async function fakeApiServer(lists: Handler[], watches: Handler[]): Promise<{ rest: RestClient; seen: URL[] }> {
  const seen: URL[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(url);
    const next = url.searchParams.get('watch') === 'true' ? watches.shift() : lists.shift();
    if (next) next(url, res);
    // Out of script: hold the watch open, as a quiet real one.
    else res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders();
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node allows plain HTTP only with skipTLSVerify.
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return { rest: new RestClient(kc), seen };
}

const json = (body: unknown, status = 200) => (_: URL, res: ServerResponse) =>
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
const stream = (...events: string[]) => (_: URL, res: ServerResponse) =>
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(events.join(''));

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Informer', () => {
  it('resumes from the last bookmark, lists again on 410 Gone and turns what vanished into deletes', async () => {
    const { rest, seen } = await fakeApiServer(
      [json(list('11', [cm('a', '10'), cm('b', '11')])), json(list('20', [cm('a', '20')]))],
      [
        stream(line('MODIFIED', cm('a', '12')), line('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '15' } })),
        stream(line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' })),
      ],
    );
    informer = new Informer(rest, configMaps, pino({ level: 'silent' }));
    const events: string[] = [];
    informer.addHandler({
      onAdd: (o) => events.push(`add ${o.metadata.name} ${o.metadata.resourceVersion}`),
      onUpdate: (_, o) => events.push(`update ${o.metadata.name} ${o.metadata.resourceVersion}`),
      onDelete: (o) => events.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    await informer.waitForSync();
    await until(() => seen.filter((u) => u.searchParams.get('watch')).length === 3);

    expect(events).toEqual(['add a 10', 'add b 11', 'update a 12', 'update a 20', 'delete b']);
    const watches = seen.filter((u) => u.searchParams.get('watch'));
    expect(watches.map((u) => u.searchParams.get('resourceVersion'))).toEqual(['11', '15', '20']);
    expect(watches.every((u) => u.searchParams.get('allowWatchBookmarks') === 'true')).toBe(true);
    expect(informer.stats).toMatchObject({ lists: 2, bookmarks: 1, relistsAfterGone: 1 });
    expect(informer.store.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(informer.store.get('ns/a')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
  });

  it('keeps no managedFields, from lists or watches: no reader of a cache needs them', async () => {
    const managed = (name: string, rv: string): KubeObject => {
      const obj = cm(name, rv);
      return { ...obj, metadata: { ...obj.metadata, labels: { app: 'x' }, managedFields: [{ manager: 'kubectl' }] } };
    };
    const { rest } = await fakeApiServer([json(list('1', [managed('a', '1')]))], [stream(line('ADDED', managed('b', '2')))]);
    informer = new Informer(rest, configMaps, pino({ level: 'silent' }));
    const handed: KubeObject[] = [];
    informer.addHandler({ onAdd: (o) => handed.push(o) });
    informer.start();
    await until(() => informer?.store.size === 2);
    for (const obj of [...informer.store.list(), ...handed]) {
      expect(obj.metadata).not.toHaveProperty('managedFields');
      expect(obj.metadata.labels).toEqual({ app: 'x' });
    }
    expect(handed).toHaveLength(2);
  });

  it('keeps what its transform keeps of each listed and watched object, and resumes from the server\'s versions', async () => {
    const big = (name: string, rv: string) => ({ ...cm(name, rv), data: { payload: 'x'.repeat(10_000) } });
    const { rest, seen } = await fakeApiServer(
      [json(list('11', [big('a', '10')]))],
      [stream(line('MODIFIED', big('a', '12'))), stream()],
    );
    const slim = ({ metadata: { name, namespace, resourceVersion } }: KubeObject): KubeObject =>
      ({ metadata: { name, namespace, resourceVersion } });
    informer = new Informer(rest, configMaps, pino({ level: 'silent' }), { transform: slim });
    const updated: KubeObject[] = [];
    informer.addHandler({ onUpdate: (_, o) => updated.push(o) });
    informer.start();
    await informer.waitForSync();
    await until(() => seen.filter((u) => u.searchParams.get('watch')).length === 2);
    expect(informer.store.get('ns/a')).toEqual({ metadata: { name: 'a', namespace: 'ns', resourceVersion: '12' } });
    expect(updated).toEqual([{ metadata: { name: 'a', namespace: 'ns', resourceVersion: '12' } }]);
    expect(seen.filter((u) => u.searchParams.get('watch')).map((u) => u.searchParams.get('resourceVersion'))).toEqual(['11', '12']);
  });

  it('keeps retrying a failing list with backoff and syncs once the server answers', async () => {
    const unavailable = json({ kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: 'starting' }, 503);
    const { rest, seen } = await fakeApiServer([unavailable, unavailable, json(list('5', [cm('a', '5')]))], []);
    const warnings: unknown[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => warnings.push(JSON.parse(l)) });
    informer = new Informer(rest, configMaps, log);
    informer.start();
    await informer.waitForSync();
    expect(informer.store.size).toBe(1);
    expect(seen.filter((u) => !u.searchParams.get('watch'))).toHaveLength(3);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ msg: 'list/watch failed; retrying' });
    expect(String((warnings[0] as { err: string }).err)).toContain('503 ServiceUnavailable starting');
  });
});
