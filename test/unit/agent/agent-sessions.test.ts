// Tunnel sessions on the browser agent for real (`fleetwright agent` on
// loopback, Debian's chromium and ffmpeg): a Playwright client on the warm
// browser and a Puppeteer client on a CDP session's Chromium, recorded while
// the agent observes them, uploaded to a report store double that checks the
// session token; the live view's frames, state and input. The gateway's part
// (the session headers, the SessionEnd POST) is played by the test.
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpegSize } from '../../../src/agent/live-input.ts';
import {
  agentSessionPath,
  LIVE_PATHS,
  type RecordingOrder,
  SESSION_ID_HEADER,
  SESSION_RECORDING_HEADER,
  SESSION_TUNNEL_HEADER,
  type SessionEnd,
  TAKEOVER_HEADER,
} from '../../../src/contracts/tunnel-session.ts';
import { type RunningAgent, startAgent } from './run-agent.ts';

const WS_PATH = '/pw-sessions-test';
const TOKEN = 'session-token-for-the-test';
const CLEAN: SessionEnd = { by: 'client', code: 1000, reason: '' };

let agent: RunningAgent;
let site: Server;
let siteUrl = '';
let store: Server;
let storeUrl = '';
/** What the store answers to a PUT: 'store', or an error status. */
let storeMode: 'store' | 500 = 'store';
const stored = new Map<string, { type: string | undefined; body: Buffer }>();

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Pages of a site the sessions browse: three plain ones (two logs to the console), an animated one, a form. */
const PAGES: Record<string, string> = {
  '/one': '<title>one</title><body style="background:#c00">one</body>',
  '/two': '<title>two</title><body style="background:#00c">two<script>console.log("hello from two", 2)</script></body>',
  '/three': '<title>three</title><body style="background:#0c0">three</body>',
  '/animated': '<title>animated</title><canvas id="c" width="1280" height="720"></canvas><script>' +
    'const c = document.getElementById("c").getContext("2d"); let n = 0;' +
    'const draw = () => { c.fillStyle = `hsl(${n++ * 7 % 360} 80% 50%)`; c.fillRect(0, 0, 1280, 720);' +
    ' requestAnimationFrame(draw); }; draw();</script>',
  '/form': '<title>form</title><body style="margin:0"><button id="b" style="position:absolute;left:100px;top:100px;' +
    'width:200px;height:100px">click</button><input id="i" style="position:absolute;left:100px;top:300px">' +
    '<script>window.clicks = 0; document.getElementById("b").onclick = () => { window.clicks++; ' +
    'document.getElementById("i").focus(); };</script></body>',
};

beforeAll(async () => {
  site = createServer((req, res) => {
    const page = PAGES[req.url ?? ''];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html' }).end(page ?? 'not found');
  });
  siteUrl = await listen(site);
  store = createServer(async (req, res) => {
    const body = await read(req);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    if (storeMode !== 'store') return void res.writeHead(storeMode).end();
    stored.set(req.url ?? '', { type: req.headers['content-type'], body });
    res.writeHead(201).end();
  });
  storeUrl = await listen(store);
  agent = await startAgent({ FLEETWRIGHT_WS_PATH: WS_PATH, FLEETWRIGHT_FFMPEG_PATH: '/usr/bin/ffmpeg' });
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  site?.close();
  store?.close();
}, 30_000);

let lastId = 0;
const newId = () => (++lastId).toString(16).padStart(12, '0');
const folder = (id: string) => `/sessions/default/t/${id}/`;
const order = (id: string, video: RecordingOrder['video'], log: RecordingOrder['log']): RecordingOrder =>
  ({ video, log, uploadUrl: `${storeUrl}${folder(id)}`, token: TOKEN });
/** The headers the gateway sends the agent for session `id`. */
const gatewayHeaders = (id: string, recording?: RecordingOrder) => ({
  [SESSION_ID_HEADER]: id,
  [SESSION_TUNNEL_HEADER]: 'default/t',
  ...(recording ? { [SESSION_RECORDING_HEADER]: JSON.stringify(recording) } : {}),
});
const playwrightUrl = () => `${agent.origin.replace('http:', 'ws:')}${WS_PATH}`;
const sessionUrl = (id: string, path: string) => `${agent.origin}${agentSessionPath(WS_PATH, id)}/${path}`;
const postEnd = (id: string, end: unknown) =>
  fetch(sessionUrl(id, 'end'), { method: 'POST', body: JSON.stringify(end) }).then((r) => r.status);
const metrics = async () => (await fetch(`${agent.health}/metrics`)).text();
const counted = async (kind: string, result: string) =>
  Number(new RegExp(`fleetwright_session_recordings_total\\{tunnel="default/t",kind="${kind}",result="${result}"\\} (\\d+)`)
    .exec(await metrics())?.[1] ?? 0);

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The stored log's entries, without their times. */
const logOf = (id: string) => stored.get(`${folder(id)}log.jsonl`)?.body.toString().trim().split('\n')
  .map((line) => {
    const { time, ...entry } = JSON.parse(line) as { time: string };
    expect(new Date(time).toISOString()).toBe(time);
    return entry;
  });

/** What ffprobe says of the stored video: frames decoded and duration in seconds. */
function probe(id: string): { frames: number; seconds: number } {
  const video = stored.get(`${folder(id)}video.webm`)?.body ?? Buffer.alloc(0);
  const out = execFileSync('/usr/bin/ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames:format=duration', '-of', 'json', '-i', 'pipe:0'], { input: video });
  const json = JSON.parse(out.toString()) as { streams: { nb_read_frames: string }[]; format: { duration: string } };
  return { frames: Number(json.streams[0]?.nb_read_frames), seconds: Number(json.format.duration) };
}

/** Browses the three pages, a second on each. */
async function browse(goto: (url: string) => Promise<unknown>) {
  for (const page of ['/one', '/two', '/three']) {
    await goto(`${siteUrl}${page}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Checks the recordings of a session of `ms` that browsed the three pages, once uploaded. */
async function expectRecorded(id: string, ms: number) {
  const log = await until('the log upload', () => logOf(id));
  await until('the video upload', () => stored.get(`${folder(id)}video.webm`));
  expect(log.filter((e) => 'type' in e && e.type === 'navigation')).toEqual(
    ['/one', '/two', '/three'].map((page) => ({ type: 'navigation', url: `${siteUrl}${page}` })));
  expect(log).toContainEqual({ type: 'console', level: 'log', text: 'hello from two 2' });
  expect(log).toContainEqual({ type: 'response', method: 'GET', url: `${siteUrl}/two`, status: 200 });
  expect(stored.get(`${folder(id)}log.jsonl`)?.type).toBe('application/jsonl');
  expect(stored.get(`${folder(id)}video.webm`)?.type).toBe('video/webm');
  const { frames, seconds } = probe(id);
  expect(frames).toBeGreaterThan(0);
  expect(Math.abs(seconds * 1000 - ms) / ms).toBeLessThan(0.2);
  return { frames, seconds };
}

interface Client {
  goto(url: string): Promise<unknown>;
  close(): Promise<void>;
}

/** A session of `connect`'s client browsing the three pages, video and log recorded, ended cleanly; once uploaded. */
async function recordedSession(connect: (headers: Record<string, string>) => Promise<Client>) {
  const id = newId();
  const client = await connect(gatewayHeaders(id, order(id, 'Always', 'Always')));
  await browse((url) => client.goto(url));
  await client.close();
  expect(await postEnd(id, CLEAN)).toBe(204);
  // The session as the agent served it, from its start (once the browser was there) to its end.
  const line = (msg: string) => until(msg, () => agent.lines.find((l) => l.msg === msg && l.session === id));
  const ms = Date.parse(String((await line('session ended')).time)) - Date.parse(String((await line('session started')).time));
  return { id, ms, ...await expectRecorded(id, ms) };
}

describe('a recorded Tunnel session', () => {
  it('of a Playwright client on the warm browser: its log and video are uploaded with the session token', async () => {
    const { id, ms, frames, seconds } = await recordedSession(async (headers) => {
      const browser = await chromium.connect(playwrightUrl(), { headers });
      const page = await browser.newPage();
      return { goto: (url) => page.goto(url), close: () => browser.close() };
    });
    const started = agent.lines.find((l) => l.msg === 'session started' && l.session === id);
    expect(started).toMatchObject({ tunnel: 'default/t', mode: 'warm' });
    expect(JSON.stringify(agent.lines)).not.toContain(TOKEN);
    const uploads = agent.lines.filter((l) => l.msg === 'recording uploaded' && l.session === id).map((l) => `${l.kind} ${l.bytes} B in ${l.ms} ms`);
    console.log(`playwright session: ${ms} ms, video ${seconds} s with ${frames} frames; uploaded ${uploads.join(', ')}`);
  }, 90_000);

  it('of a Puppeteer client on a CDP session\'s Chromium: the same', async () => {
    const { id, ms, frames, seconds } = await recordedSession(async (headers) => {
      const browser = await puppeteer.connect({ browserWSEndpoint: `${playwrightUrl()}/cdp`, headers });
      const page = await browser.newPage();
      return { goto: (url) => page.goto(url), close: () => browser.disconnect() };
    });
    expect(agent.lines.find((l) => l.msg === 'session started' && l.session === id)).toMatchObject({ mode: 'cdp' });
    console.log(`puppeteer session: ${ms} ms, video ${seconds} s with ${frames} frames`);
  }, 90_000);

  it('keeps nothing OnAbnormalClose when the gateway says the client closed cleanly, and counts it discarded', async () => {
    const id = newId();
    const before = await counted('log', 'discarded');
    const browser = await chromium.connect(playwrightUrl(), {
      headers: gatewayHeaders(id, order(id, 'OnAbnormalClose', 'OnAbnormalClose')),
    });
    await (await browser.newPage()).goto(`${siteUrl}/one`);
    await browser.close();
    expect(await postEnd(id, CLEAN)).toBe(204);
    await until('the discard', async () => (await counted('log', 'discarded')) > before || undefined);
    expect([...stored.keys()].filter((key) => key.startsWith(folder(id)))).toEqual([]);
  }, 60_000);

  it('loses the recording when the store refuses it, and serves the next session all the same', async () => {
    const id = newId();
    const before = await counted('log', 'failed');
    storeMode = 500;
    try {
      const browser = await chromium.connect(playwrightUrl(), {
        headers: gatewayHeaders(id, order(id, 'Never', 'Always')),
      });
      await (await browser.newPage()).goto(`${siteUrl}/one`);
      await browser.close();
      expect(await postEnd(id, { by: 'browser', code: 1011, reason: 'crashed' })).toBe(204);
      // The next session is served while the upload is still retrying.
      const next = await chromium.connect(playwrightUrl());
      const page = await next.newPage();
      await page.goto(`${siteUrl}/two`);
      expect(await page.title()).toBe('two');
      await next.close();
      await until('the failed upload', async () => (await counted('log', 'failed')) > before || undefined);
    } finally {
      storeMode = 'store';
    }
    expect(stored.has(`${folder(id)}log.jsonl`)).toBe(false);
  }, 60_000);

  it('answers the end of an unknown session with 404 and a malformed one with 400', async () => {
    expect(await postEnd('0123456789ab', CLEAN)).toBe(404);
    const id = newId();
    const browser = await chromium.connect(playwrightUrl(), { headers: gatewayHeaders(id) });
    expect(await postEnd(id, { by: 'nobody' })).toBe(400);
    await browser.close();
    expect(await postEnd(id, CLEAN)).toBe(204);
  }, 30_000);
});

/** Reads JPEG parts of a live/frames stream until `stop` says so. */
async function frames(id: string, stop: (count: number, last: Buffer) => boolean): Promise<Buffer[]> {
  const response = await fetch(sessionUrl(id, LIVE_PATHS.frames));
  expect(response.headers.get('content-type')).toBe('multipart/x-mixed-replace; boundary=frame');
  const reader = response.body?.getReader();
  const parts: Buffer[] = [];
  let buffer = Buffer.alloc(0);
  try {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) return parts;
      buffer = Buffer.concat([buffer, chunk.value]);
      for (;;) {
        const header = /--frame\r\ncontent-type: image\/jpeg\r\ncontent-length: (\d+)\r\n\r\n/.exec(buffer.toString('latin1'));
        const length = Number(header?.[1]);
        if (!header || buffer.length < header.index + header[0].length + length) break;
        const start = header.index + header[0].length;
        parts.push(buffer.subarray(start, start + length));
        buffer = buffer.subarray(start + length);
        if (stop(parts.length, parts.at(-1) as Buffer)) return parts;
      }
    }
  } finally {
    await reader?.cancel();
  }
}

describe('the live view of a session', () => {
  it('streams the current page as it changes, at ≥ 2 frames/s at 1280×720 on an animated page', async () => {
    const id = newId();
    const browser = await chromium.connect(playwrightUrl(), { headers: gatewayHeaders(id) });
    try {
      const page = await browser.newPage();
      await page.goto(`${siteUrl}/one`);
      // The state is the browser's as the request comes; the session's first page may still be loading.
      const state = await until('the title', async () => {
        const json = await (await fetch(sessionUrl(id, LIVE_PATHS.state))).json() as { title?: string };
        return json.title === 'one' ? json : undefined;
      });
      expect(state).toEqual({ url: `${siteUrl}/one`, title: 'one', takeover: false });
      const html = await (await fetch(sessionUrl(id, LIVE_PATHS.page))).text();
      expect(html).toContain('live/frames');
      expect(html).not.toMatch(/(src|href)="https?:/);

      // The page has stood still for a while: Chromium's screencast alone would send nothing when it starts.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const [first] = await frames(id, () => true);
      await page.goto(`${siteUrl}/three`);
      const [after] = await frames(id, () => true);
      expect(after?.equals(first as Buffer)).toBe(false);

      await page.goto(`${siteUrl}/animated`);
      const start = Date.now();
      const animated = await frames(id, () => Date.now() - start > 3_000);
      const perSecond = animated.length / ((Date.now() - start) / 1000);
      expect(jpegSize(animated.at(-1) as Buffer)).toEqual({ width: 1280, height: 720 });
      expect(perSecond).toBeGreaterThanOrEqual(2);
      console.log(`live frames: ${perSecond.toFixed(1)}/s at 1280x720 on an animated page`);
      expect(await metrics()).toMatch(/fleetwright_session_live_viewers\{tunnel="default\/t"\} 0/);
    } finally {
      await browser.close();
    }
    const gone = await until('the end of the live view', async () => {
      const response = await fetch(sessionUrl(id, LIVE_PATHS.state));
      return response.status === 404 ? response : undefined;
    });
    expect(await gone.text()).toMatch(new RegExp(`no session ${id} runs on this browser pod`));
  }, 60_000);

  it('takes input only from a viewer the gateway allowed to take over, and the page sees it', async () => {
    const id = newId();
    const browser = await chromium.connect(playwrightUrl(), { headers: gatewayHeaders(id) });
    try {
      const page = await browser.newPage();
      await page.goto(`${siteUrl}/form`);
      const input = (body: unknown, allowed: boolean) => fetch(sessionUrl(id, LIVE_PATHS.input), {
        method: 'POST',
        headers: allowed ? { [TAKEOVER_HEADER]: 'allowed' } : {},
        body: JSON.stringify(body),
      }).then((r) => r.status);
      // A frame must have been shown before input makes sense.
      await frames(id, () => true);
      expect(await input({ type: 'click', x: 200, y: 150 }, false)).toBe(403);
      expect(await input({ type: 'drag' }, true)).toBe(400);
      expect((await (await fetch(sessionUrl(id, LIVE_PATHS.state), { headers: { [TAKEOVER_HEADER]: 'allowed' } })).json()))
        .toMatchObject({ takeover: true });
      expect(await input({ type: 'click', x: 200, y: 150 }, true)).toBe(204);
      expect(await page.evaluate(() => (globalThis as unknown as { clicks: number }).clicks)).toBe(1);
      expect(await input({ type: 'text', text: 'hello' }, true)).toBe(204);
      expect(await input({ type: 'key', key: 'Backspace' }, true)).toBe(204);
      expect(await page.inputValue('#i')).toBe('hell');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
