// A BrowserPool controller whose pod watch lags behind its own writes, as on a
// busy API server: it reaches the real API server through a proxy that holds
// every chunk of a pod watch for LAG_MS and passes everything else at once.
// Its passes then run on a cache that lacks the pods they just created, or
// still shows the ones they just deleted; the pool must still create and
// delete each pod once. A watch of the test's own, without the proxy, sees
// every pod that ever existed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProxyServer } from 'http-proxy-3';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { POD, type PodObject } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL } from '../../src/api/resources.ts';
import { POOL_LABEL } from '../../src/contracts/browser-lease.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, rest } from './runtime/support.ts';

const ns = useNamespace('lagging');
const LAG_MS = 1_500;

type Kubeconfig = {
  clusters: { cluster: Record<string, string | boolean> }[];
  users: { user: Record<string, string> }[];
};
type Pool = KubeObject & { status?: { replicas?: number; observedGeneration?: number } };

let proxy: Server;
let controller: ControllerProcess;
const created = new Set<string>();
const deleted = new Set<string>();
let pods: Informer<PodObject>;

/** Serves the API server on a local port, each chunk of a pod watch LAG_MS late and in order. */
async function laggingProxy(apiserver: string, ca: string): Promise<Server> {
  const target = new URL(apiserver);
  const upstream = createProxyServer({
    target: { protocol: target.protocol, host: target.hostname, port: Number(target.port), ca },
    selfHandleResponse: true,
  });
  upstream.on('proxyRes', (res, req, out) => {
    out.writeHead(res.statusCode ?? 502, res.headers);
    const url = new URL(req.url ?? '/', 'http://x');
    if (!(url.searchParams.get('watch') === 'true' && url.pathname.endsWith('/pods'))) {
      res.pipe(out);
      return;
    }
    let sent = Promise.resolve();
    res.on('data', (chunk: Buffer) => {
      const due = Date.now() + LAG_MS;
      sent = sent.then(() => sleep(Math.max(0, due - Date.now()))).then(() => void out.write(chunk));
    });
    res.on('end', () => void sent.then(() => out.end()));
  });
  upstream.on('error', (_err, _req, out) => {
    if ('writeHead' in out && !out.headersSent) out.writeHead(502);
    out.end();
  });
  const server = createServer((req, res) => upstream.web(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const getPool = () => rest().get<Pool>(objectPath(BROWSER_POOL, { namespace: ns.name, name: 'burst' }));
const settled = (replicas: number) => eventually(`pool burst at ${replicas} pods`, async () => {
  const pool = await getPool();
  return pool.status?.observedGeneration === pool.metadata.generation && pool.status?.replicas === replicas;
}, 30_000);

beforeAll(async () => {
  const admin = JSON.parse(readFileSync(inject('kubeconfig'), 'utf8')) as Kubeconfig;
  const cluster = admin.clusters[0]?.cluster ?? {};
  const ca = Buffer.from(String(cluster['certificate-authority-data']), 'base64').toString();
  proxy = await laggingProxy(String(cluster.server), ca);
  // The controller's own identity (the chart's ServiceAccount), through the proxy. Plain HTTP on loopback:
  // client-node allows it only with insecure-skip-tls-verify, which has nothing to verify here.
  const config = JSON.parse(readFileSync(inject('controllerKubeconfig'), 'utf8')) as Kubeconfig;
  config.clusters = [{ ...config.clusters[0], cluster: {
    'server': `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    'insecure-skip-tls-verify': true,
  } }];
  const path = join(mkdtempSync(join(tmpdir(), 'fw-lagging-')), 'kubeconfig');
  writeFileSync(path, JSON.stringify(config));

  pods = new Informer<PodObject>(rest(), POD, pino({ level: 'silent' }), {
    namespace: ns.name, labelSelector: `${POOL_LABEL}=burst`,
  });
  pods.addHandler({
    onAdd: (pod) => created.add(pod.metadata.name ?? ''),
    onDelete: (pod) => deleted.add(pod.metadata.name ?? ''),
  });
  pods.start();
  await pods.waitForSync();
  controller = new ControllerProcess([
    `--kubeconfig=${path}`, `--watch-namespace=${ns.name}`, '--metrics-bind-address=0', '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
});

afterAll(async () => {
  await controller?.kill('SIGTERM');
  await pods?.stop();
  proxy?.closeAllConnections();
  proxy?.close();
});

it('creates and deletes each browser pod once, though its cache lags its own writes', async () => {
  await rest().create(collectionPath(BROWSER_POOL, ns.name), {
    apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind, metadata: { name: 'burst' }, spec: { replicas: 20 },
  });
  await settled(20);
  // Long enough for a pass on the late watch events to act on them, had it a reason to.
  await sleep(3 * LAG_MS);
  expect({ created: created.size, deleted: deleted.size }).toEqual({ created: 20, deleted: 0 });

  expect(kubectl(['scale', '-n', ns.name, 'bp/burst', '--replicas=5']).status).toBe(0);
  await settled(5);
  await sleep(3 * LAG_MS);
  expect({ created: created.size, deleted: deleted.size }).toEqual({ created: 20, deleted: 15 });

  expect(kubectl(['scale', '-n', ns.name, 'bp/burst', '--replicas=12']).status).toBe(0);
  await settled(12);
  await sleep(3 * LAG_MS);
  expect({ created: created.size, deleted: deleted.size }).toEqual({ created: 27, deleted: 15 });
}, 60_000);
