// The agent's observer of a session's browser, on Debian's Chromium with a
// Playwright client over CDP: once the session's socket closed it still hears
// the session's own pages until they go (Chromium sends the observer's events
// on their own, a moment after the client's), and it follows none of the pages
// that come after, which belong to the next session and must not wait for it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdpBrowser, launchCdpBrowser } from '../../../src/agent/cdp.ts';
import { Observer } from '../../../src/agent/observer.ts';
import type { LogEntry } from '../../../src/agent/session-log.ts';
import { AgentConfig } from '../../../src/contracts/agent.ts';

let site: Server;
let origin = '';
let browser: CdpBrowser;
let client: Browser;

beforeAll(async () => {
  site = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<script>console.log("at", location.pathname)</script>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await launchCdpBrowser(AgentConfig.parse({ FLEETWRIGHT_CHROMIUM_PATH: '/usr/bin/chromium' }));
  client = await chromium.connectOverCDP(browser.endpoint.href);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await browser?.close();
  site?.close();
});

describe('the observer of a session', () => {
  it('hears the session\'s pages until they close after the session ended, and follows none opened after', async () => {
    const observer = await Observer.attach(browser.endpoint, pino({ enabled: false }), { events: true });
    const entries: LogEntry[] = [];
    observer.onLog((entry) => entries.push(entry));
    const context = client.contexts()[0]!;
    const page = await context.newPage();
    await page.goto(`${origin}/a`);

    const detached = observer.detach();
    // Sent after the session ended, while its page is still open: the observer must still hear it.
    await page.evaluate(() => console.log('last words'));
    // The next session's page must run without waiting for this observer, and stay out of its log.
    const next = await context.newPage();
    await next.goto(`${origin}/next`);
    await page.close();
    await detached;

    expect(entries).toEqual(expect.arrayContaining([
      { type: 'navigation', url: `${origin}/a` },
      { type: 'console', level: 'log', text: 'at /a' },
      { type: 'console', level: 'log', text: 'last words' },
    ]));
    expect(entries.filter((entry) => JSON.stringify(entry).includes('/next'))).toEqual([]);
    await next.close();
  }, 30_000);
});
