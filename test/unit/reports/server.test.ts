// The server's mechanics over real HTTP on loopback, with the cluster's
// state given as plain values and a real filesystem backend in a temporary
// folder. (The integration test runs the same against the API server.)
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../../src/reports/auth.ts';
import { FilesystemStorage } from '../../../src/reports/filesystem.ts';
import { ReportMetrics } from '../../../src/reports/metrics.ts';
import { ReportServer, type StoreState } from '../../../src/reports/server.ts';
import { UploadsInFlight } from '../../../src/reports/uploads.ts';
import type { ReportStorage } from '../../../src/reports/storage.ts';

const uid = '5d1e0c3a-7b2f-4e8d-9c6a-1f2e3d4c5b6a';
const run: RunView = { namespace: 'ci', name: 'checkout', uid, shards: 2, phase: 'Running' };
const zip = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100, 1)]);

const state: StoreState & { ready: boolean } = {
  ready: true,
  run: (namespace, name) => (namespace === 'ci' && name === 'checkout' ? run : undefined),
  tokenSecret: () => ({ namespace: 'ci', name: 'checkout-report', ownerLabel: 'checkout', ownerUids: [uid], token: 'upload' }),
  isTokenOfOtherRun: () => false,
  // No Tunnels: sessions-server.test.ts exercises the session routes.
  tunnel: () => undefined,
  sessionSecret: () => undefined,
  isTokenOfOtherTunnel: () => false,
  readerToken: (namespace) => (namespace === 'ci' ? 'read' : undefined),
};

type Headers = Record<string, string>;
interface Answer { status: number; headers: IncomingHttpHeaders; text: string; continued: boolean }

let root: string;
let storage: FilesystemStorage;
let metrics: ReportMetrics;
const idle: string[] = [];
let server: ReportServer;
let port: number;

/** One request; `body` chunks are written one by one, and `abortAfter` of them the connection is cut. */
function send(method: string, path: string, headers: Headers = {}, body: Buffer[] = [], abortAfter?: number) {
  return new Promise<Answer>((resolve, reject) => {
    let continued = false;
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, continued }));
    });
    req.on('error', (err) => (abortAfter === undefined ? reject(err) : resolve({ status: 0, headers: {}, text: '', continued })));
    const write = () => {
      body.forEach((chunk, i) => {
        if (abortAfter !== undefined && i === abortAfter) return void setTimeout(() => req.destroy(), 100);
        req.write(chunk);
      });
      if (abortAfter === undefined) req.end();
    };
    if (headers.expect) req.on('continue', () => {
      continued = true;
      write();
    });
    else write();
  });
}

const serveOn = async (store: ReportStorage) => {
  const s = new ReportServer({
    state,
    storage: store,
    metrics,
    uploads: new UploadsInFlight((key) => idle.push(key)),
    publicUrl: 'http://127.0.0.1:8082',
    maxUploadBytes: 1000,
    log: pino({ level: 'silent' }),
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  return s;
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fw-report-server-'));
  storage = new FilesystemStorage(root);
  await storage.init();
  metrics = new ReportMetrics();
  server = await serveOn(storage);
  port = (server.server.address() as AddressInfo).port;
  await storage.put(`ci/checkout/${uid}/html/index.html`, Readable.from([Buffer.from('<html>report</html>')]));
  await storage.put(`ci/checkout/${uid}/html/data/a.png`, Readable.from([Buffer.from('png')]));
});

afterAll(async () => {
  server.server.close();
  server.server.closeAllConnections();
  rmSync(root, { recursive: true, force: true });
});

const failures = async (reason: string) =>
  (await metrics.uploadFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('uploads', () => {
  it('refuses a client that waits for 100 Continue before it sends a byte', async () => {
    const answer = await send('PUT', '/reports/ci/checkout/shards/1', {
      'authorization': 'Bearer wrong',
      'expect': '100-continue',
      'content-length': String(zip.length),
    }, [zip]);
    expect(answer).toMatchObject({ status: 401, continued: false });
    expect(await storage.get(`ci/checkout/${uid}/blobs/1.zip`)).toBeUndefined();
  });

  it('tells a client that waits for 100 Continue to go on, then stores what it sends', async () => {
    const answer = await send('PUT', '/reports/ci/checkout/shards/1', {
      'authorization': 'Bearer upload',
      'expect': '100-continue',
      'content-length': String(zip.length),
    }, [zip]);
    expect(answer).toMatchObject({ status: 201, continued: true });
    expect((await storage.get(`ci/checkout/${uid}/blobs/1.zip`))?.size).toBe(zip.length);
    expect(idle).toContain('ci/checkout');
  });

  it('keeps nothing of an upload whose client went away, and counts it as aborted', async () => {
    const before = await failures('aborted');
    await send('PUT', '/reports/ci/checkout/shards/2', { authorization: 'Bearer upload' }, [zip.subarray(0, 50), zip.subarray(50)], 1);
    await expect.poll(() => failures('aborted')).toBe(before + 1);
    expect(await storage.get(`ci/checkout/${uid}/blobs/2.zip`)).toBeUndefined();
    expect(await storage.list(`ci/`)).not.toContainEqual(expect.objectContaining({ key: expect.stringContaining('blobs/2') }));
  });

  it('answers 503 with Retry-After when the backend fails, so the runner retries', async () => {
    const broken: ReportStorage = {
      description: 'broken',
      put: async (_key, body) => {
        body.resume();
        throw new Error('disk full');
      },
      get: async () => undefined,
      list: async () => [],
      deletePrefix: async () => 0,
    };
    const other = await serveOn(broken);
    const answer = await new Promise<{ status?: number; retryAfter?: string | string[] }>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port: (other.server.address() as AddressInfo).port,
        method: 'PUT',
        path: '/reports/ci/checkout/shards/1',
        headers: { authorization: 'Bearer upload' },
      }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] });
      });
      req.end(zip);
    });
    other.server.close();
    expect(answer).toEqual({ status: 503, retryAfter: '5' });
    expect(await failures('storage_error')).toBe(1);
  });
});

describe('reading', () => {
  const reader = { authorization: 'Bearer read' };

  it('serves a file with its length, HEAD without a body, and counts the bytes served', async () => {
    const before = (await metrics.bytes.get()).values.find((v) => v.labels.direction === 'serve')?.value ?? 0;
    const page = await send('GET', '/reports/ci/checkout/', reader);
    expect(page).toMatchObject({ status: 200, text: '<html>report</html>' });
    expect(page.headers['content-length']).toBe('19');
    const head = await send('HEAD', '/reports/ci/checkout/data/a.png', reader);
    expect(head).toMatchObject({ status: 200, text: '' });
    expect(head.headers).toMatchObject({ 'content-type': 'image/png', 'content-length': '3' });
    const after = (await metrics.bytes.get()).values.find((v) => v.labels.direction === 'serve')?.value ?? 0;
    expect(after - before).toBe(19);
  });

  it('sends /reports/<ns>/<run> on to its folder, where index.html\'s relative URLs work', async () => {
    const answer = await send('GET', '/reports/ci/checkout?token=read', {});
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe('checkout/?token=read');
  });

  it('swaps ?token= for a cookie and sends the reader on to the same URL without it', async () => {
    const answer = await send('GET', '/reports/ci/checkout/index.html?token=read&x=1', {});
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('./index.html?x=1');
    expect(answer.headers['set-cookie']).toEqual(['fleetwright-report-token=read; Path=/reports/ci/; HttpOnly; SameSite=Strict']);
    const withCookie = await send('GET', '/reports/ci/checkout/index.html?x=1', { cookie: 'fleetwright-report-token=read' });
    expect(withCookie.status).toBe(200);
  });

  it('answers a link from another site with a page that moves on by itself, so the strict cookie is sent', async () => {
    const answer = await send('GET', '/reports/ci/checkout/?token=read', { 'sec-fetch-site': 'cross-site' });
    expect(answer.status).toBe(200);
    expect(answer.headers['set-cookie']?.[0]).toMatch(/^fleetwright-report-token=read;/);
    expect(answer.text).toContain('<meta http-equiv="refresh" content="0; url=./">');
  });

  it('refuses readers without the token, files that do not exist, other methods; answers probes', async () => {
    expect((await send('GET', '/reports/ci/checkout/', {})).status).toBe(401);
    expect((await send('GET', '/reports/ci/checkout/?token=wrong', {})).status).toBe(401);
    expect((await send('GET', '/reports/other/checkout/', reader)).status).toBe(401);
    expect((await send('GET', '/reports/ci/checkout/nothing.html', reader)).status).toBe(404);
    expect((await send('GET', '/reports/ci/unknown/', reader)).status).toBe(404);
    expect((await send('DELETE', '/reports/ci/checkout/', reader)).status).toBe(405);
    expect((await send('GET', '/', {})).status).toBe(404);
    expect((await send('GET', '/healthz', {})).status).toBe(200);
    state.ready = false;
    expect((await send('GET', '/readyz', {})).status).toBe(503);
    state.ready = true;
    expect((await send('GET', '/readyz', {})).status).toBe(200);
  });
});
