// Tunnel sessions on the real node: a Playwright client and a Puppeteer
// client each walk through three pages of a site on this host's bridge
// address, through a Tunnel that records video and log. The agent in the
// browser pod records and uploads to `fleetwright report-store` (on this host,
// where pods reach it), the gateway stores each session's record there, and
// `fleetwright sessions` lists them; ffprobe decodes the videos. Then what
// OnAbnormalClose keeps, and the live view of a running session.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_IP } from '../../hack/lib/node.ts';
import { SECRET } from '../../src/api/builtin.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../../src/contracts/report-store.ts';
import { type ListedSession, SessionListing } from '../../src/contracts/tunnel-session.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { useNamespace } from '../integration/helpers.ts';
import { type ControllerProcess, eventually, rest, startReportStore } from '../integration/runtime/support.ts';
import { fleetwright } from './fleetwright-cli.ts';
import { apply, poolManifest, poolPods, startGateway, useController, waitForPool } from './pools.ts';

const ns = useNamespace('sessions');
const TOKEN = 'sessions-test-token-3c91f0';

let storeDir = '';
let store: ControllerProcess;
let storeUrl = '';
let gateway: ControllerProcess;
let base = '';
let site: Server;
let siteUrl = '';
let readToken = '';
let work = '';

const tunnelManifest = (name: string, spec: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec:
  poolRefs: [{ name: chromium }]
  auth: { secretRef: { name: tunnel-token } }
  queueTimeoutSeconds: 60
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

const tunnelWs = (tunnel: string) => `${base.replace('http', 'ws')}/tunnels/${ns.name}/${tunnel}?token=${TOKEN}`;
const cdpWs = (tunnel: string) => `${base.replace('http', 'ws')}/tunnels/${ns.name}/${tunnel}/cdp?token=${TOKEN}`;

const leased = async () => (await poolPods(ns.name, 'chromium')).filter((p) => leaseOf(p)).length;
const waitUntilReturned = () => eventually('the browser is given back', async () => ((await leased()) === 0 ? true : undefined), 30_000);

/** The Tunnel's sessions as the store lists them, with the read token. */
async function listSessions(tunnel: string): Promise<ListedSession[]> {
  const res = await fetch(`${storeUrl}/sessions/${ns.name}/${tunnel}/`, { headers: { authorization: `Bearer ${readToken}` } });
  expect(res.status).toBe(200);
  return SessionListing.parse(await res.json()).sessions;
}

/** The ended session `id` of `tunnel` once its recordings are in (as many as `files` says). */
const endedSession = (tunnel: string, id: (s: ListedSession) => boolean, files: number) =>
  eventually(`the session of ${tunnel} is listed with ${files} recordings`, async () => {
    const session = (await listSessions(tunnel)).find(id);
    return session?.end && [session.video, session.log].filter(Boolean).length === files ? session : undefined;
  }, 60_000);

const download = async (url: string) => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${readToken}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
};

/** ffprobe's decoded frame count and duration of a webm. */
function probe(video: Buffer): { frames: number; seconds: number } {
  const file = join(work, `video-${Date.now()}.webm`);
  writeFileSync(file, video);
  const out = execFileSync('ffprobe', [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames:format=duration', '-of', 'json', file,
  ], { encoding: 'utf8' });
  const parsed = JSON.parse(out) as { streams: { nb_read_frames: string }[]; format: { duration: string } };
  return { frames: Number(parsed.streams[0]?.nb_read_frames), seconds: Number(parsed.format.duration) };
}

type LogLine = { type: string; url?: string; text?: string };
const logLines = async (url: string) =>
  (await download(url)).toString().trim().split('\n').map((l) => JSON.parse(l) as LogLine);

// The store first: the controller and the gateway are told its URL.
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fleetwright-sessions-'));
  storeDir = join(work, 'store');
  // Browser pods upload to this host at the bridge address, as they would reach the store's Service.
  ({ store, url: storeUrl } = await startReportStore(NODE_IP, [
    '--metrics-bind-address=0',
    `--watch-namespace=${ns.name}`,
    '--backend=filesystem',
    `--path=${storeDir}`,
  ]));
});
useController(() => ns.name, () => [`--report-store-url=${storeUrl}`]);

beforeAll(async () => {
  site = createServer((req, res) => {
    const page = (req.url ?? '/').slice(1) || 'home';
    res.writeHead(200, { 'content-type': 'text/html' });
    // Each page a different colour, so that frames of different pages differ.
    const colour = { one: '#c33', two: '#3c3', three: '#33c' }[page] ?? '#999';
    res.end(`<title>${page}</title><script>console.log('on ${page}')</script>` +
      `<body style="background:${colour}"><h1>page ${page}</h1></body>`);
  });
  await new Promise<void>((resolve) => site.listen(0, NODE_IP, resolve));
  siteUrl = `http://${NODE_IP}:${(site.address() as AddressInfo).port}`;
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: tunnel-token }
stringData: { token: ${TOKEN} }
---
${poolManifest('chromium', 'replicas: 1')}
---
${tunnelManifest('recorded', 'recording: { video: Always, log: Always }')}
---
${tunnelManifest('on-trouble', 'recording: { video: OnAbnormalClose, log: OnAbnormalClose }\nidleTimeoutSeconds: 3')}
`);
  gateway = startGateway(ns.name, 'one', [`--report-store-url=${storeUrl}`]);
  base = await gateway.url('Tunnels');
  await waitForPool(ns.name, 'chromium', '1 idle', (p) => p.status?.idle === 1, 120_000);
  readToken = await eventually('the namespace\'s read token', async () => {
    const secret = await rest().get<{ data?: Record<string, string> }>(
      objectPath(SECRET, { namespace: ns.name, name: REPORT_READER_SECRET }),
    ).catch(() => undefined);
    const value = secret?.data?.[REPORT_TOKEN_KEY];
    return value ? Buffer.from(value, 'base64').toString() : undefined;
  }, 30_000);
}, 180_000);

afterAll(async () => {
  site?.close();
  await gateway?.kill('SIGTERM');
  await store?.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Three pages, a second apart, so that the video has something to show for a while. */
async function walk(goto: (url: string) => Promise<unknown>): Promise<void> {
  for (const page of ['one', 'two', 'three']) {
    await goto(`${siteUrl}/${page}`);
    await sleep(1_000);
  }
}

describe('recorded Tunnel sessions', () => {
  const walked: { client: string; startedAt: number; endedAt: number }[] = [];

  it('records a Playwright client\'s and a Puppeteer client\'s session, lists both, with a playable video and a log', async () => {
    let startedAt = Date.now();
    const browser = await chromium.connect(tunnelWs('recorded'), { timeout: 60_000 });
    const page = await (await browser.newContext()).newPage();
    await walk((url) => page.goto(url));
    await browser.close();
    walked.push({ client: 'playwright', startedAt, endedAt: Date.now() });
    await waitUntilReturned();

    startedAt = Date.now();
    const cdp = await puppeteer.connect({ browserWSEndpoint: cdpWs('recorded'), protocolTimeout: 60_000 });
    const tab = await cdp.newPage();
    await walk((url) => tab.goto(url));
    await cdp.disconnect();
    walked.push({ client: 'cdp', startedAt, endedAt: Date.now() });
    await waitUntilReturned();

    const playwright = await endedSession('recorded', (s) => s.protocol === 'playwright', 2);
    const cdpSession = await endedSession('recorded', (s) => s.protocol === 'cdp', 2);
    for (const session of [playwright, cdpSession]) {
      expect(session.close).toMatchObject({ by: 'client', abnormal: false });
      expect(session.bytesFromClient).toBeGreaterThan(0);
      expect(session.bytesToClient).toBeGreaterThan(0);
      const video = probe(await download(session.video ?? ''));
      expect(video.frames).toBeGreaterThan(0);
      const seconds = (session.durationMs ?? 0) / 1000;
      expect(Math.abs(video.seconds - seconds) / seconds).toBeLessThan(0.2);
      const log = await logLines(session.log ?? '');
      const navigations = log.filter((l) => l.type === 'navigation').map((l) => l.url);
      expect(navigations).toEqual(expect.arrayContaining(['one', 'two', 'three'].map((p) => `${siteUrl}/${p}`)));
      expect(log).toContainEqual(expect.objectContaining({ type: 'console', text: 'on two' }));
    }

    const listed = await fleetwright(['sessions', 'recorded', '-n', ns.name]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(playwright.id);
    expect(listed.stdout).toContain(cdpSession.id);
    expect(listed.stdout).toContain(playwright.video);
  }, 240_000);
});

describe('OnAbnormalClose', () => {
  it('keeps nothing of a session closed cleanly, and the video and log of one cut by the idle timeout', async () => {
    const clean = await chromium.connect(tunnelWs('on-trouble'), { timeout: 60_000 });
    const page = await (await clean.newContext()).newPage();
    await page.goto(`${siteUrl}/one`);
    await clean.close();

    const idle = await chromium.connect(tunnelWs('on-trouble'), { timeout: 60_000 });
    const closed = new Promise((resolve) => idle.once('disconnected', resolve));
    const idlePage = await (await idle.newContext()).newPage();
    await idlePage.goto(`${siteUrl}/two`);
    await closed;
    await waitUntilReturned();

    const cut = await endedSession('on-trouble', (s) => s.close?.abnormal === true, 2);
    expect(cut.close?.reason).toContain('idle timeout');
    const kept = await logLines(cut.log ?? '');
    expect(kept).toContainEqual(expect.objectContaining({ type: 'navigation', url: `${siteUrl}/two` }));
    // The clean one is listed with nothing kept, also once the cut one's recordings are in.
    const sessions = await listSessions('on-trouble');
    const cleanOne = sessions.find((s) => s.close?.abnormal === false);
    expect(cleanOne).toBeDefined();
    expect([cleanOne?.video, cleanOne?.log]).toEqual([undefined, undefined]);
  }, 120_000);
});

/** JPEG frames of a multipart/x-mixed-replace stream, as they come, each read by its part's content-length. */
async function* frames(url: string, signal: AbortSignal): AsyncGenerator<Buffer> {
  const res = await fetch(url, { signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^multipart\/x-mixed-replace; boundary=/);
  let buffered = Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const headersEnd = buffered.indexOf('\r\n\r\n');
      if (headersEnd < 0) break;
      const length = Number(/content-length: (\d+)/i.exec(buffered.subarray(0, headersEnd).toString())?.[1]);
      const start = headersEnd + 4;
      if (buffered.length < start + length) break;
      yield buffered.subarray(start, start + length);
      buffered = buffered.subarray(start + length);
    }
  }
}

/** The colour of a frame's pixel at its left edge half way down, below the heading: the page's background. */
function dominant(jpeg: Buffer): 'red' | 'green' | 'blue' | 'other' {
  const file = join(work, `frame-${Date.now()}.jpg`);
  writeFileSync(file, jpeg);
  const rgb = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-vf', 'scale=64:36,crop=1:1:1:18', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const [r = 0, g = 0, b = 0] = rgb;
  if (r > 150 && g < 100 && b < 100) return 'red';
  if (g > 150 && r < 100 && b < 100) return 'green';
  if (b > 150 && r < 100 && g < 100) return 'blue';
  return 'other';
}

describe('the live view', () => {
  it('shows frames of the running session that change after a navigation; 401 without the token; no input without takeover', async () => {
    const browser = await chromium.connect(tunnelWs('recorded'), { timeout: 60_000 });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${siteUrl}/one`);
      const running = await eventually('the running session is listed', async () =>
        (await listSessions('recorded')).find((s) => !s.end), 30_000);
      const live = `${base}/tunnels/${ns.name}/recorded/sessions/${running.id}/live`;

      expect((await fetch(live)).status).toBe(401);
      const pageHtml = await fetch(`${live}?token=${readToken}`);
      expect(pageHtml.status).toBe(200);
      expect(pageHtml.headers.get('content-type')).toContain('text/html');
      const state = await (await fetch(`${live}/state?token=${readToken}`)).json() as { url?: string; takeover: boolean };
      expect(state).toMatchObject({ url: `${siteUrl}/one`, takeover: false });
      const input = await fetch(`${live}/input?token=${readToken}&takeover=${TOKEN}`, {
        method: 'POST',
        body: JSON.stringify({ type: 'text', text: 'hello' }),
      });
      expect(input.status).toBe(403);

      const abort = new AbortController();
      const stream = frames(`${live}/frames?token=${readToken}`, abort.signal);
      // next() rather than for await: leaving a for await loop would end the stream.
      const until = async (colour: ReturnType<typeof dominant>) => {
        for (let frame = await stream.next(); !frame.done; frame = await stream.next()) {
          if (dominant(frame.value) === colour) return true;
        }
        return false;
      };
      expect(await until('red')).toBe(true);
      await page.goto(`${siteUrl}/two`);
      expect(await until('green')).toBe(true);
      abort.abort();
    } finally {
      await browser.close();
    }
    await waitUntilReturned();
  }, 120_000);
});
