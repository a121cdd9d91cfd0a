// The report store's dependency cache over real HTTP on loopback, with a real
// filesystem backend in a temporary folder and the cluster's state as values.
import { utimesSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../../src/reports/auth.ts';
import { cacheObjectKey, expiredCacheEntries, parseCacheRequest } from '../../../src/reports/cache-paths.ts';
import { dependencyCachePath } from '../../../src/contracts/report-store.ts';
import type { FilesystemStorage } from '../../../src/reports/filesystem.ts';
import type { ReportMetrics } from '../../../src/reports/metrics.ts';
import { Retention } from '../../../src/reports/retention.ts';
import type { StoreState } from '../../../src/reports/server.ts';
import { startTestStore, type TestStore } from './store-server.ts';

const uid = '5d1e0c3a-7b2f-4e8d-9c6a-1f2e3d4c5b6a';
const key = `npm-node24-linux-x64-${'ab'.repeat(32)}`;
const runs: Record<string, RunView> = {
  checkout: { namespace: 'ci', name: 'checkout', uid, shards: 2, phase: 'Running' },
  done: { namespace: 'ci', name: 'done', uid, shards: 1, phase: 'Succeeded' },
};
const state: StoreState = {
  ready: true,
  run: (namespace, name) => (namespace === 'ci' ? runs[name] : undefined),
  tokenSecret: (_ns, name) => ({ namespace: 'ci', name: `${name}-report`, ownerLabel: name, ownerUids: [uid], token: 'upload' }),
  isTokenOfOtherRun: () => false,
  // No Tunnels: the session routes are not what this exercises.
  tunnel: () => undefined,
  sessionSecret: () => undefined,
  isTokenOfOtherTunnel: () => false,
  readerToken: () => undefined,
};

let store: TestStore;
let root: string;
let storage: FilesystemStorage;
let metrics: ReportMetrics;
let port: number;

function send(method: string, path: string, token: string, body?: Buffer) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, ...(body ? { 'content-length': String(body.length) } : {}) };
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The stored size under `objectKey`, undefined when there is nothing (listed, so no file is left open). */
async function storedSize(objectKey: string): Promise<number | undefined> {
  return (await storage.list('_dependencies/')).find((o) => o.key === objectKey)?.size;
}

const counted = async (result: string) =>
  (await metrics.dependencyCacheRequests.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

beforeAll(async () => {
  store = await startTestStore({ state, publicUrl: 'http://127.0.0.1', maxUploadBytes: 10_000 });
  ({ root, storage, metrics, port } = store);
});

afterAll(() => store.close());

describe('the dependency cache', () => {
  const path = dependencyCachePath('ci', 'checkout', key);
  const entry = gzipSync(Buffer.from('node_modules as a tar'));

  it('answers a miss with 404, stores a gzip PUT with the run\'s token, and then serves it as a hit', async () => {
    expect((await send('GET', path, 'upload')).status).toBe(404);
    expect((await send('PUT', path, 'upload', entry)).status).toBe(201);
    const hit = await send('GET', path, 'upload');
    expect(hit.status).toBe(200);
    expect(hit.body.equals(entry)).toBe(true);
    expect(await counted('miss')).toBe(1);
    expect(await counted('stored')).toBe(1);
    expect(await counted('hit')).toBe(1);
  });

  it('keeps one entry per namespace and key, whatever run stored it', async () => {
    expect(await storedSize(cacheObjectKey('ci', key))).toBe(entry.length);
  });

  it('refuses a wrong token, a finished run, a body that is not gzip and a key that is not one', async () => {
    const before = await counted('refused');
    expect((await send('GET', path, 'wrong')).status).toBe(401);
    expect((await send('GET', dependencyCachePath('ci', 'done', key), 'upload')).status).toBe(409);
    expect((await send('PUT', path, 'upload', Buffer.from('not gzip'))).status).toBe(400);
    expect((await send('GET', dependencyCachePath('ci', 'checkout', '..'), 'upload')).status).toBe(400);
    expect(await counted('refused')).toBe(before + 4);
    expect((await send('GET', path, 'upload')).body.equals(entry)).toBe(true);
  });
});

describe('cache paths', () => {
  it('parses only /dependencies/<namespace>/<testrun>/<key>', () => {
    expect(parseCacheRequest(`/dependencies/ci/checkout/${key}`)).toEqual({ kind: 'entry', run: { namespace: 'ci', name: 'checkout' }, key });
    expect(parseCacheRequest('/dependencies/ci/checkout/%2e%2e')).toMatchObject({ kind: 'invalid' });
    expect(parseCacheRequest(`/dependencies/ci/${key}`)).toMatchObject({ kind: 'invalid' });
    expect(parseCacheRequest('/reports/ci/x/')).toEqual({ kind: 'unknown' });
  });

  it('expires entries stored longer ago than --max-age', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const stored = [
      { key: cacheObjectKey('ci', key), size: 1, modified: new Date('2026-11-01T00:00:00Z') },
      { key: cacheObjectKey('qa', key), size: 1, modified: new Date('2026-11-30T00:00:00Z') },
      { key: `ci/checkout/${uid}/blobs/1.zip`, size: 1, modified: new Date('2026-01-01T00:00:00Z') },
    ];
    expect(expiredCacheEntries(stored, now, 7 * 24 * 3600_000)).toEqual([`_dependencies/ci/${key}/`]);
  });
});

describe('the retention sweep', () => {
  it('deletes cache entries older than --max-age, keeps newer ones, and never takes them for a deleted run\'s report', async () => {
    const day = 24 * 3600_000;
    const old = `npm-node24-linux-x64-${'cd'.repeat(32)}`;
    const fresh = `npm-node24-linux-x64-${'ef'.repeat(32)}`;
    await storage.put(cacheObjectKey('qa', old), Readable.from([gzipSync('old')]));
    await storage.put(cacheObjectKey('qa', fresh), Readable.from([gzipSync('fresh')]));
    const tenDaysAgo = new Date(Date.now() - 10 * day);
    utimesSync(join(root, ...cacheObjectKey('qa', old).split('/')), tenDaysAgo, tenDaysAgo);
    const retention = new Retention({
      storage, runs: () => [], tunnels: () => [], maxAgeMs: 7 * day, intervalMs: day, log: pino({ level: 'silent' }),
    });
    await retention.sweep();
    expect(await storedSize(cacheObjectKey('qa', old))).toBeUndefined();
    expect(await storedSize(cacheObjectKey('qa', fresh))).toBeDefined();
    expect(await storedSize(cacheObjectKey('ci', key))).toBeDefined();
  });
});
