// The session routes over real HTTP on loopback, with the cluster's state
// given as plain values and a real filesystem backend in a temporary folder.
// (test/integration/sessions.test.ts runs them against the API server.)
import { readdirSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionListing, SessionRecord } from '../../../src/contracts/tunnel-session.ts';
import type { TunnelView } from '../../../src/reports/auth.ts';
import type { StoreState } from '../../../src/reports/server.ts';
import { startTestStore, type TestStore } from './store-server.ts';

const uid = '5d1e0c3a-7b2f-4e8d-9c6a-1f2e3d4c5b6a';
const tunnels: Record<string, TunnelView> = {
  dev: { namespace: 'team', name: 'dev', uid },
  prod: { namespace: 'team', name: 'prod', uid: uid.replace('5d', '6e') },
};
const secret = (name: string) => ({ namespace: 'team', name: `${name}-sessions`, ownerLabel: name, ownerUids: [tunnels[name]!.uid], token: `${name}-token` });

const state: StoreState = {
  ready: true,
  run: () => undefined,
  tokenSecret: () => undefined,
  isTokenOfOtherRun: () => false,
  tunnel: (ns, name) => (ns === 'team' ? tunnels[name] : undefined),
  sessionSecret: (ns, name) => (ns === 'team' && tunnels[name] ? secret(name) : undefined),
  isTokenOfOtherTunnel: (token, _ns, name) => Object.keys(tunnels).some((t) => t !== name && token === `${t}-token`),
  readerToken: (ns) => (ns === 'team' ? 'read' : undefined),
};

const PUBLIC = 'http://127.0.0.1:8082';
const webm = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(200, 7)]);
const record = (id: string, start: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  id, namespace: 'team', tunnel: 'dev', pool: 'chromium', pod: 'chromium-abc', protocol: 'cdp', client: 'cdp', start, ...extra,
});

let store: TestStore;
let root: string;
let port: number;
const metrics = () => store.metrics;

interface Answer { status: number; headers: IncomingHttpHeaders; text: string }
function send(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const put = (path: string, token: string | undefined, body: Buffer) =>
  send('PUT', `/sessions/team/${path}`, token ? { authorization: `Bearer ${token}` } : {}, body);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
async function counted(file: string, result: string): Promise<number> {
  const { values } = await metrics().sessionUploads.get();
  return values.find((v) => v.labels.file === file && v.labels.result === result)?.value ?? 0;
}

beforeAll(async () => {
  store = await startTestStore({ state, publicUrl: PUBLIC, maxUploadBytes: 1000 });
  ({ root, port } = store);
});

afterAll(() => store.close());

describe('session uploads', () => {
  it('stores a record and the recordings with the Tunnel\'s session token, under the Tunnel\'s uid', async () => {
    expect((await put('dev/aaaaaaaaaaaa/session.json', 'dev-token', json(record('aaaaaaaaaaaa', '2026-12-06T10:00:00Z')))).status).toBe(201);
    const ended = record('aaaaaaaaaaaa', '2026-12-06T10:00:00Z', {
      end: '2026-12-06T10:05:00Z', durationMs: 300_000, bytesFromClient: 10, bytesToClient: 20,
      close: { by: 'browser', code: 1006, reason: 'lost', abnormal: true },
    });
    expect((await put('dev/aaaaaaaaaaaa/session.json', 'dev-token', json(ended))).status).toBe(201);
    expect((await put('dev/aaaaaaaaaaaa/video.webm', 'dev-token', webm)).status).toBe(201);
    expect((await put('dev/aaaaaaaaaaaa/log.jsonl', 'dev-token', Buffer.from('{"type":"console"}\n'))).status).toBe(201);
    expect((await put('dev/bbbbbbbbbbbb/session.json', 'dev-token', json(record('bbbbbbbbbbbb', '2026-12-06T11:00:00Z')))).status).toBe(201);
    expect(readdirSync(join(root, '_sessions', 'team', 'dev', uid, 'aaaaaaaaaaaa')).sort()).toEqual(['log.jsonl', 'session.json', 'video.webm']);
    expect(await counted('record', 'stored')).toBe(3);
    expect(await counted('video', 'stored')).toBe(1);
  });

  it('refuses an unknown Tunnel, a missing, wrong or other Tunnel\'s token, a bad path, record or video, and too much', async () => {
    const ok = json(record('cccccccccccc', '2026-12-06T10:00:00Z'));
    const answers = {
      unknownTunnel: await put('nobody/cccccccccccc/session.json', 'dev-token', ok),
      noToken: await put('dev/cccccccccccc/session.json', undefined, ok),
      wrongToken: await put('dev/cccccccccccc/session.json', 'nope', ok),
      otherTunnelsToken: await put('dev/cccccccccccc/session.json', 'prod-token', ok),
      badId: await put('dev/CCCCCCCCCCCC/session.json', 'dev-token', ok),
      badFile: await put('dev/cccccccccccc/trace.zip', 'dev-token', ok),
      list: await put('dev/', 'dev-token', ok),
      recordOfAnother: await put('dev/dddddddddddd/session.json', 'dev-token', ok),
      notAVideo: await put('dev/cccccccccccc/video.webm', 'dev-token', Buffer.from('not a webm at all')),
      tooLarge: await put('dev/cccccccccccc/log.jsonl', 'dev-token', Buffer.alloc(1001, 0x61)),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, v.status]))).toEqual({
      unknownTunnel: 404, noToken: 401, wrongToken: 401, otherTunnelsToken: 403, badId: 400, badFile: 400, list: 400,
      recordOfAnother: 400, notAVideo: 400, tooLarge: 413,
    });
    expect(answers.otherTunnelsToken.text).toMatch(/another Tunnel's/);
    expect(answers.recordOfAnother.text).toMatch(/which the path names/);
    expect(readdirSync(join(root, '_sessions', 'team', 'dev', uid)).sort()).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    expect(await counted('record', 'forbidden')).toBe(1);
    expect(await counted('log', 'too_large')).toBe(1);
  });
});

describe('reading sessions', () => {
  const read = { authorization: 'Bearer read' };

  it('lists a Tunnel\'s sessions newest first, with the URLs of their recordings', async () => {
    const answer = await send('GET', '/sessions/team/dev/', read);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    const listing = JSON.parse(answer.text) as SessionListing;
    expect(listing.sessions.map((s) => s.id)).toEqual(['bbbbbbbbbbbb', 'aaaaaaaaaaaa']);
    expect(listing.sessions[1]).toMatchObject({
      close: { code: 1006, abnormal: true },
      video: `${PUBLIC}/sessions/team/dev/aaaaaaaaaaaa/video.webm`,
      log: `${PUBLIC}/sessions/team/dev/aaaaaaaaaaaa/log.jsonl`,
    });
    expect(listing.sessions[0]).not.toHaveProperty('video');
    const one = JSON.parse((await send('GET', '/sessions/team/dev/?limit=1', read)).text) as SessionListing;
    expect(one.sessions.map((s) => s.id)).toEqual(['bbbbbbbbbbbb']);
    expect((await send('GET', '/sessions/team/dev/?limit=0', read)).status).toBe(400);
  });

  it('serves a file with its type, to the read token only', async () => {
    const video = await send('GET', '/sessions/team/dev/aaaaaaaaaaaa/video.webm', read);
    expect(video.status).toBe(200);
    expect(video.headers).toMatchObject({ 'content-type': 'video/webm', 'content-length': String(webm.length), 'x-content-type-options': 'nosniff' });
    expect(Buffer.from(video.text, 'latin1').equals(webm)).toBe(true);
    expect((await send('GET', '/sessions/team/dev/aaaaaaaaaaaa/log.jsonl', read)).headers['content-type']).toBe('application/jsonl');
    expect((await send('GET', '/sessions/team/dev/bbbbbbbbbbbb/video.webm', read)).status).toBe(404);
    expect((await send('GET', '/sessions/team/dev/aaaaaaaaaaaa/video.webm')).status).toBe(401);
    expect((await send('GET', '/sessions/team/dev/', { authorization: 'Bearer dev-token' })).status).toBe(401);
    expect((await send('GET', '/sessions/team/nobody/', read)).status).toBe(404);
  });

  it('turns ?token= into a cookie for the namespace\'s sessions, and takes the cookie', async () => {
    const answer = await send('GET', '/sessions/team/dev/aaaaaaaaaaaa/video.webm?token=read');
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('./video.webm');
    expect(answer.headers['set-cookie']?.[0]).toBe('fleetwright-report-token=read; Path=/sessions/team/; HttpOnly; SameSite=Strict');
    expect((await send('GET', '/sessions/team/dev/', { cookie: 'fleetwright-report-token=read' })).status).toBe(200);
  });
});
