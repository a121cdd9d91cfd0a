// A browser pod whose warm browser several sessions share
// (FLEETWRIGHT_SESSIONS > 1): a Tunnel session gets a browser of the default
// version's run-server instead, launched with a DevTools port the agent
// observes, so it is recorded all the same; a TestRun runner (no session id)
// keeps the warm browser.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_ID_HEADER, SESSION_RECORDING_HEADER, SESSION_TUNNEL_HEADER } from '../../../src/contracts/tunnel-session.ts';
import { type RunningAgent, startAgent } from './run-agent.ts';

const WS_PATH = '/pw-shared-test';
let agent: RunningAgent;
let server: Server;
let origin = '';
const uploads = new Map<string, string>();

beforeAll(async () => {
  // One server plays the site and the report store.
  server = createServer(async (req, res) => {
    if (req.method === 'PUT') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      uploads.set(req.url ?? '', body);
      return void res.writeHead(201).end();
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${req.url}</title><script>console.warn("at", location.pathname)</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = await startAgent({ FLEETWRIGHT_WS_PATH: WS_PATH, FLEETWRIGHT_SESSIONS: '2' });
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  server?.close();
}, 30_000);

describe('a browser pod of shared sessions', () => {
  it('serves a Tunnel session from a run-server browser it observes, and records it', async () => {
    const id = 'abcdef012345';
    const browser = await chromium.connect(`${agent.origin.replace('http:', 'ws:')}${WS_PATH}`, {
      headers: {
        [SESSION_ID_HEADER]: id,
        [SESSION_TUNNEL_HEADER]: 'default/shared',
        [SESSION_RECORDING_HEADER]: JSON.stringify({ video: 'Never', log: 'Always', uploadUrl: `${origin}/s/${id}/`, token: 't' }),
      },
    });
    const page = await browser.newPage();
    // The run-server launches the browser once the client came, so the observer attaches a moment after:
    // its live view answering says it did. What the client did before that is not in the log.
    const state = `${agent.origin}${WS_PATH}/sessions/${id}/live/state`;
    for (let ok = false; !ok; ok = (await fetch(state)).ok) await new Promise((r) => setTimeout(r, 50));
    for (const path of ['/a', '/b']) await page.goto(`${origin}${path}`);
    // A run-server browser ends with the client's connection, and Chromium sends the observer's events on
    // their own, a moment after the client's: what the page did in the last moment may never reach the log.
    await new Promise((r) => setTimeout(r, 500));
    await browser.close();
    await fetch(`${agent.origin}${WS_PATH}/sessions/${id}/end`, {
      method: 'POST',
      body: JSON.stringify({ by: 'client', code: 1000, reason: '' }),
    });
    const deadline = Date.now() + 20_000;
    while (!uploads.has(`/s/${id}/log.jsonl`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const log = (uploads.get(`/s/${id}/log.jsonl`) ?? '').trim().split('\n').map((line) => JSON.parse(line) as object);
    expect(log).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'navigation', url: `${origin}/a` }),
      expect.objectContaining({ type: 'navigation', url: `${origin}/b` }),
      expect.objectContaining({ type: 'console', level: 'warning', text: 'at /b' }),
    ]));
    expect(agent.lines.find((l) => l.msg === 'session started' && l.session === id)).toMatchObject({ mode: 'fresh' });
  }, 60_000);

  it('keeps a client without a session id on the shared warm browser', async () => {
    const browser = await chromium.connect(`${agent.origin.replace('http:', 'ws:')}${WS_PATH}`);
    await browser.close();
    expect(agent.lines.filter((l) => l.msg === 'session started').at(-1)).toMatchObject({ mode: 'warm' });
  }, 30_000);
});
