// The browser agent (`fleetwright agent`, as a browser pod runs it) on
// loopback with Debian's chromium, and a client of each Playwright version
// the image carries: the pinned one gets the warm browser, the others a
// browser of their own version's run-server, started on their first client.
// What a pod adds (the pool, the gateway, a Tunnel) is for test/node/.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { chromium as chromium163 } from 'playwright-core-1-63';
import { chromium as chromium164 } from 'playwright-core-1-64';
import { chromium as chromium166 } from 'playwright-core-1-66';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedPlaywrights } from '../../../src/agent/versions.ts';
import { type LogLine, type RunningAgent, startAgent } from './run-agent.ts';

const WS_PATH = '/pw-versions-test';
const installed = installedPlaywrights().map((p) => p.version);
const [pinned] = installed;
const minor = (version: string | undefined) => version?.split('.').slice(0, 2).join('.');

let agent: RunningAgent | undefined;
let lines: LogLine[] = [];
let endpoint = '';
let health = '';

const status = async () => (await fetch(`${health}/status`)).json() as Promise<Record<string, unknown>>;
const sessionsStarted = () => lines.filter((l) => l.msg === 'session started');

/** What this test uses of a BrowserType, in any of the Playwright versions. */
interface Connectable {
  connect(endpoint: string, options?: { timeout?: number; exposeNetwork?: string }): Promise<{
    version(): string;
    newPage(): Promise<{
      setContent(html: string): Promise<void>;
      goto(url: string): Promise<unknown>;
      title(): Promise<string>;
      locator(selector: string): { textContent(): Promise<string | null> };
      evaluate(fn: () => number): Promise<number>;
    }>;
    close(): Promise<void>;
  }>;
}

/** Connects, opens a page, reads it back and closes; what the browser and the agent said. */
async function session(type: Connectable, options: { exposeNetwork?: string } = {}) {
  const before = sessionsStarted().length;
  const browser = await type.connect(endpoint, { timeout: 30_000, ...options });
  try {
    const page = await browser.newPage();
    await page.setContent('<title>versions</title><p id="answer">42</p>');
    return {
      browserVersion: browser.version(),
      answer: await page.locator('#answer').textContent(),
      sum: await page.evaluate(() => [1, 2, 3].reduce((a, b) => a + b)),
      agent: sessionsStarted()[before],
    };
  } finally {
    await browser.close();
  }
}

/** A WebSocket upgrade by hand, as a client of `userAgent` sends it: the status and body of a refusal. */
function upgrade(userAgent: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint.replace('ws:', 'http:')}`, {
      headers: {
        'connection': 'Upgrade',
        'upgrade': 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'user-agent': userAgent,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  agent = await startAgent({ FLEETWRIGHT_WS_PATH: WS_PATH, FLEETWRIGHT_SESSIONS: '4' });
  lines = agent.lines;
  endpoint = `${agent.origin.replace('http:', 'ws:')}${WS_PATH}`;
  health = agent.health;
}, 90_000);

afterAll(() => agent?.stop(), 30_000);

describe('a browser agent of several Playwright versions', () => {
  it('reports every version it serves, the pinned one first, and runs only the pinned one\'s servers until asked', async () => {
    expect(installed).toHaveLength(4);
    const about = await status();
    expect(about).toMatchObject({ playwright: pinned, playwrightVersions: installed, running: [pinned] });
    const version = await (await fetch(`${endpoint.replace('ws:', 'http:').replace(WS_PATH, '')}/json/version`)).json();
    expect(version).toEqual({ Browser: 'chromium', Playwright: pinned, PlaywrightVersions: installed });
  });

  it(`serves a Playwright ${pinned} client from the warm browser`, async () => {
    const result = await session(chromium);
    expect(result).toMatchObject({ answer: '42', sum: 6, agent: { mode: 'warm', playwright: pinned } });
    expect(result.browserVersion).toMatch(/^\d+\./);
  }, 60_000);

  const others: [string, Connectable, string | undefined][] = [
    ['1.64', chromium164, installed[2]],
    ['1.63', chromium163, installed[3]],
    ['1.66 pre-release', chromium166, installed[1]],
  ];
  for (const [label, type, version] of others) {
    it(`serves a Playwright ${label} client from its own version's run-server, started on its first client`, async () => {
      expect((await status()).running).not.toContain(version);
      const result = await session(type);
      expect(result).toMatchObject({ answer: '42', sum: 6, agent: { mode: 'fresh', playwright: version } });
      expect((await status()).running).toContain(version);
    }, 90_000);
  }

  it('gives an exposeNetwork client of another version a browser that reaches the client\'s loopback, ' +
    'from the run-server its version\'s first client started', async () => {
    const site = createServer((_req, res) => res.end('<title>from the client side</title>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      const before = sessionsStarted().length;
      const browser = await chromium164.connect(endpoint, { exposeNetwork: '<loopback>', timeout: 30_000 });
      try {
        const page = await browser.newPage();
        await page.goto(`http://localhost:${(site.address() as AddressInfo).port}/`);
        expect(await page.title()).toBe('from the client side');
        expect(sessionsStarted()[before]).toMatchObject({ mode: 'fresh', playwright: installed[2] });
        expect(lines.filter((l) => l.msg.startsWith('playwright run-server'))).toEqual([]);
      } finally {
        await browser.close();
      }
    } finally {
      site.close();
    }
  }, 60_000);

  it('refuses a client of a version it does not serve with 428 naming every served major.minor', async () => {
    const minors = installed.map(minor).join(', ');
    expect(await upgrade('Playwright/1.62.0 (x64; debian 12) node/24.21')).toEqual({
      status: 428,
      body: `Playwright version mismatch: this browser pod serves Playwright ${minors}; your client is 1.62. ` +
        'Use a client of a served major.minor version.\n',
    });
  });

  it('counts sessions by mode and the client\'s Playwright major.minor', async () => {
    const metrics = await (await fetch(`${health}/metrics`)).text();
    const count = (mode: string, version: string | undefined) =>
      Number(new RegExp(`fleetwright_agent_sessions_total\\{mode="${mode}",playwright="${minor(version)}"\\} (\\d+)`)
        .exec(metrics)?.[1]);
    expect({
      warm: count('warm', pinned),
      [minor(installed[2]) ?? '']: count('fresh', installed[2]),
      [minor(installed[1]) ?? '']: count('fresh', installed[1]),
    }).toEqual({ warm: 1, [minor(installed[2]) ?? '']: 2, [minor(installed[1]) ?? '']: 1 });
  });

  it('stops every run-server it started when it stops', async () => {
    const child = agent?.process;
    const pid = child?.pid ?? 0;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const runServers = children.filter((child) => {
      try {
        return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('run-server');
      } catch {
        return false;
      }
    });
    expect(runServers).toHaveLength(installed.length);
    child?.kill('SIGTERM');
    const [code] = await once(child as ChildProcess, 'exit') as [number | null];
    expect(code).toBe(0);
    expect(runServers.filter((child) => existsSync(`/proc/${child}`))).toEqual([]);
  }, 30_000);
});
