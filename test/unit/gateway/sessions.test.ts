// Tunnel sessions at the gateway: the id each accepted WebSocket gets, what
// the gateway tells the browser's agent, the record it stores at the start and
// the end, and the live view it proxies. The gateway's front runs in this
// process with a stand-in for the cluster (stand-in.ts); the browser's agent
// and the report store are plain servers here that keep what they were sent.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  isAbnormalEnd,
  keepsRecording,
  RecordingOrder,
  SESSION_ID,
  SessionRecord,
} from '../../../src/contracts/tunnel-session.ts';
import { authorizeLive, liveTarget } from '../../../src/gateway/live.ts';
import type { Gateway } from '../../../src/gateway/server.ts';
import { endedRecord, recordingOrder } from '../../../src/gateway/sessions.ts';
import { READER_TOKEN, SESSION_TOKEN, standInGateway, TOKEN, TUNNEL_PATH } from './stand-in.ts';

describe('how a session ended', () => {
  it('is clean only when the client closed with 1000 or no code; OnAbnormalClose keeps the rest', () => {
    expect(isAbnormalEnd({ by: 'client', code: 1000, reason: '' })).toBe(false);
    expect(isAbnormalEnd({ by: 'client', code: 1005, reason: '' })).toBe(false);
    expect(isAbnormalEnd({ by: 'client', code: 1001, reason: 'the client went away' })).toBe(true);
    expect(isAbnormalEnd({ by: 'gateway', code: 1008, reason: 'idle timeout' })).toBe(true);
    expect(isAbnormalEnd({ by: 'browser', code: 1000, reason: '' })).toBe(true);
    const idle = { by: 'gateway' as const, code: 1008, reason: 'idle timeout' };
    const clean = { by: 'client' as const, code: 1000, reason: '' };
    expect([keepsRecording('Never', idle), keepsRecording('OnAbnormalClose', clean)]).toEqual([false, false]);
    expect([keepsRecording('OnAbnormalClose', idle), keepsRecording('Always', clean)]).toEqual([true, true]);
  });
});

describe('the recording order and the record', () => {
  const tunnel = (video: 'Never' | 'Always', log: 'Never' | 'OnAbnormalClose') =>
    ({ metadata: { namespace: 'team-a', name: 'ci' }, spec: { recording: { video, log } } }) as never;
  const store = new URL('http://store.fleetwright-system.svc:8082/');

  it('is given only when the Tunnel records something and there is a store and a session token', () => {
    expect(recordingOrder(tunnel('Never', 'Never'), 'abcdef012345', store, 't')).toBeUndefined();
    expect(recordingOrder(tunnel('Always', 'Never'), 'abcdef012345', undefined, 't')).toBeUndefined();
    expect(recordingOrder(tunnel('Always', 'Never'), 'abcdef012345', store, undefined)).toBeUndefined();
    expect(recordingOrder(tunnel('Always', 'OnAbnormalClose'), 'abcdef012345', store, 't')).toEqual({
      video: 'Always',
      log: 'OnAbnormalClose',
      uploadUrl: 'http://store.fleetwright-system.svc:8082/sessions/team-a/ci/abcdef012345/',
      token: 't',
    });
  });

  it('ends with the duration, the bytes each way and whether the end was abnormal', () => {
    const started = {
      id: 'abcdef012345', namespace: 'team-a', tunnel: 'ci', pool: 'chromium', pod: 'chromium-1',
      protocol: 'cdp' as const, client: 'cdp', start: '2026-12-06T10:00:00.000Z',
    };
    const ended = endedRecord(
      started,
      { by: 'gateway', code: 1008, reason: 'idle timeout: no messages for 5 s' },
      { to_browser: 120, to_client: 4000 },
      new Date('2026-12-06T10:00:07.500Z'),
    );
    expect(SessionRecord.parse(ended)).toEqual({
      ...started,
      end: '2026-12-06T10:00:07.500Z',
      durationMs: 7500,
      bytesFromClient: 120,
      bytesToClient: 4000,
      close: { by: 'gateway', code: 1008, reason: 'idle timeout: no messages for 5 s', abnormal: true },
    });
  });
});

describe('live view paths and access', () => {
  it('knows the live paths of a session and refuses anything else under sessions/', () => {
    expect(liveTarget('/sessions/abcdef012345/live')).toEqual({ id: 'abcdef012345', path: 'live' });
    expect(liveTarget('/sessions/abcdef012345/live/frames')).toEqual({ id: 'abcdef012345', path: 'live/frames' });
    expect(liveTarget('/sessions/abcdef012345/live/input')).toEqual({ id: 'abcdef012345', path: 'live/input' });
    expect(liveTarget('/sessions/../live')).toHaveProperty('notFound');
    expect(liveTarget('/sessions/abcdef012345/video.webm')).toHaveProperty('notFound');
    expect(liveTarget('/json')).toBeUndefined();
  });

  const access = { namespace: 'team-a', readerToken: 'r', tunnelToken: 't', takeoverAllowed: true, input: false };
  it('lets the read token watch and the Tunnel token take over, only where takeover is on', () => {
    expect(authorizeLive({ ...access })).toMatchObject({ ok: false, status: 401 });
    expect(authorizeLive({ ...access, token: 'x' })).toMatchObject({ ok: false, status: 401 });
    expect(authorizeLive({ ...access, readerToken: undefined, token: 'r' })).toMatchObject({ ok: false, status: 401 });
    expect(authorizeLive({ ...access, token: 'r' })).toEqual({ ok: true, takeover: false });
    expect(authorizeLive({ ...access, token: 'r', takeover: 't' })).toEqual({ ok: true, takeover: true });
    expect(authorizeLive({ ...access, token: 'r', takeover: 'x', input: true })).toMatchObject({ ok: false, status: 401 });
    expect(authorizeLive({ ...access, token: 'r', input: true })).toMatchObject({ ok: false, status: 401 });
    expect(authorizeLive({ ...access, token: 'r', takeover: 't', input: true })).toEqual({ ok: true, takeover: true });
    const off = authorizeLive({ ...access, takeoverAllowed: false, token: 'r', takeover: 't', input: true });
    expect(off).toMatchObject({ ok: false, status: 403 });
    expect(off.ok || off.reason).toContain('spec.liveView.takeover');
    expect(authorizeLive({ ...access, takeoverAllowed: false, token: 'r', takeover: 't' })).toEqual({ ok: true, takeover: false });
  });
});

/** What the stand-in browser agent and report store were sent. */
interface Seen {
  upgrade?: IncomingHttpHeaders;
  records: SessionRecord[];
  storeAuth: (string | undefined)[];
  ends: { url: string; body: unknown }[];
  live: { url: string; headers: IncomingHttpHeaders }[];
}

describe('a session through the gateway', () => {
  const seen: Seen = { records: [], storeAuth: [], ends: [], live: [] };
  let agent: Server;
  let store: Server;
  let gateway: Gateway;
  let base: string;

  const listen = async (server: Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const body = async (req: import('node:http').IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };

  beforeAll(async () => {
    agent = createServer(async (req, res) => {
      if (req.method === 'POST') seen.ends.push({ url: req.url ?? '', body: JSON.parse(await body(req)) });
      else seen.live.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(req.method === 'POST' ? 204 : 200).end();
    });
    const sockets = new WebSocketServer({ server: agent });
    sockets.on('connection', (ws, req) => {
      seen.upgrade = req.headers;
      ws.on('message', (data) => ws.send(data));
    });
    store = createServer(async (req, res) => {
      seen.storeAuth.push(req.headers.authorization);
      seen.records.push(SessionRecord.parse(JSON.parse(await body(req))));
      expect(req.url).toMatch(/^\/sessions\/team-a\/ci\/[0-9a-f]{12}\/session\.json$/);
      res.writeHead(201).end();
    });
    const agentHost = await listen(agent);
    ({ gateway } = standInGateway({
      endpoint: `ws://${agentHost}/pw-secret`,
      maxMessageBytes: 1 << 20,
      onRelease: () => undefined,
      sessions: { store: new URL(`http://${await listen(store)}`), recording: { video: 'Always', log: 'Never' }, takeover: false },
    }));
    base = await listen(gateway.server);
  });

  afterAll(async () => {
    await gateway.drain(1_000);
    agent.close();
    store.close();
  });

  it('gets an id on its 101, which the agent hears with the Tunnel and what to record', async () => {
    const client = new WebSocket(`ws://${base}${TUNNEL_PATH}?token=${TOKEN}`);
    const upgrade = new Promise<IncomingHttpHeaders>((resolve) => client.once('upgrade', (res) => resolve(res.headers)));
    await new Promise((resolve) => client.once('open', resolve));
    const id = (await upgrade)['x-fleetwright-session'] as string;
    expect(id).toMatch(SESSION_ID);
    client.send('hello');
    await new Promise((resolve) => client.once('message', resolve));

    expect(seen.upgrade?.['x-fleetwright-session']).toBe(id);
    expect(seen.upgrade?.['x-fleetwright-tunnel']).toBe('team-a/ci');
    const order = RecordingOrder.parse(JSON.parse(seen.upgrade?.['x-fleetwright-recording'] as string));
    expect(order).toEqual({ video: 'Always', log: 'Never', uploadUrl: `http://${storeHost()}/sessions/team-a/ci/${id}/`, token: SESSION_TOKEN });

    // The live view of the running session: proxied to the agent's path for it, without the viewer's tokens.
    const state = await fetch(`http://${base}${TUNNEL_PATH}/sessions/${id}/live/state?token=${READER_TOKEN}`);
    expect(state.status).toBe(200);
    expect(seen.live.at(-1)?.url).toBe(`/pw-secret/sessions/${id}/live/state`);
    expect(seen.live.at(-1)?.headers['x-fleetwright-takeover']).toBeUndefined();
    expect((await fetch(`http://${base}${TUNNEL_PATH}/sessions/${id}/live`)).status).toBe(401);
    const input = await fetch(`http://${base}${TUNNEL_PATH}/sessions/${id}/live/input?token=${READER_TOKEN}&takeover=${TOKEN}`, {
      method: 'POST',
      body: '{"type":"text","text":"hi"}',
    });
    expect([input.status, await input.text()]).toEqual([403, expect.stringContaining('spec.liveView.takeover is false')]);
    expect((await fetch(`http://${base}${TUNNEL_PATH}/sessions/0123456789ab/live?token=${READER_TOKEN}`)).status).toBe(404);

    client.close(1000);
    await expect.poll(() => seen.ends.length).toBe(1);
    expect(seen.ends[0]).toEqual({ url: `/pw-secret/sessions/${id}/end`, body: { by: 'client', code: 1000, reason: '' } });
    await expect.poll(() => seen.records.length).toBe(2);
    expect(seen.storeAuth).toEqual([`Bearer ${SESSION_TOKEN}`, `Bearer ${SESSION_TOKEN}`]);
    const [started, ended] = seen.records;
    expect(started).toMatchObject({ id, namespace: 'team-a', tunnel: 'ci', pool: 'chromium', pod: 'chromium-1', protocol: 'playwright' });
    expect(started?.end).toBeUndefined();
    expect(ended).toMatchObject({ id, close: { by: 'client', code: 1000, abnormal: false } });
    expect(ended?.bytesFromClient).toBeGreaterThan(5);
    expect(ended?.bytesToClient).toBeGreaterThan(5);
    // Once the session is over, its live view is gone with its lease.
    expect((await fetch(`http://${base}${TUNNEL_PATH}/sessions/${id}/live?token=${READER_TOKEN}`)).status).toBe(404);
  });

  const storeHost = () => `127.0.0.1:${(store.address() as AddressInfo).port}`;
});
