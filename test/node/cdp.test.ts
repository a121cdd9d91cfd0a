// Chrome DevTools Protocol clients through a Tunnel, as agents and scrapers
// bring them: puppeteer-core with the token in the URL, Playwright's
// connectOverCDP with the token in a header, and @playwright/mcp (which pins a
// Playwright of its own) with --cdp-endpoint. The pool has one browser pod, so
// every session lands on the same pod: what one session leaves there must not
// reach the next. The pages the browsers open are served on this host's
// bridge address, where pods reach it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { chromium } from 'playwright-core';
import puppeteer, { type Browser as PuppeteerBrowser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_IP } from '../../hack/lib/node.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { useNamespace } from '../integration/helpers.ts';
import { type ControllerProcess, eventually } from '../integration/runtime/support.ts';
import { handshake } from './handshake.ts';
import { apply, poolManifest, poolPods, startGateway, useController, waitForPool } from './pools.ts';

const ns = useNamespace('cdp');
useController(() => ns.name);

const TOKEN = 'cdp-test-token-8e41b7';
const auth = { Authorization: `Bearer ${TOKEN}` };
const tunnelManifest = (name: string, pool: string, spec = '') => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec:
  poolRefs: [{ name: ${pool} }]
  auth: { secretRef: { name: tunnel-token } }
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

let gateway: ControllerProcess;
let base = '';
let site: Server;
let siteUrl = '';

const cdpHttp = (tunnel: string) => `${base}/tunnels/${ns.name}/${tunnel}/cdp`;
const cdpWs = (tunnel: string, token = TOKEN) => `${cdpHttp(tunnel).replace('http', 'ws')}?token=${token}`;

const connectPuppeteer = (tunnel = 'agents') =>
  puppeteer.connect({ browserWSEndpoint: cdpWs(tunnel), protocolTimeout: 60_000 });

/** What a page of the site finds stored: its cookies and its localStorage item. */
const STORED = '[document.cookie, localStorage.getItem("who")]';

const leased = async () => (await poolPods(ns.name, 'chromium')).filter((p) => leaseOf(p)).length;
const waitUntilReturned = () => eventually('the browser is given back', async () => ((await leased()) === 0 ? true : undefined), 30_000);

beforeAll(async () => {
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: tunnel-token }
stringData: { token: ${TOKEN} }
---
${poolManifest('chromium', 'replicas: 1')}
---
${poolManifest('foxes', 'browser: firefox\nreplicas: 0')}
---
${tunnelManifest('agents', 'chromium', 'queueTimeoutSeconds: 60')}
---
${tunnelManifest('strict', 'chromium', 'queueTimeoutSeconds: 2\nidleTimeoutSeconds: 3')}
---
${tunnelManifest('no-cdp', 'chromium', 'allowCDP: false')}
---
${tunnelManifest('foxes', 'foxes')}
`);
  site = createServer((req, res) => {
    const page = (req.url ?? '/').slice(1) || 'home';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<title>${page}</title><script>console.log('on ${page}')</script><h1>page ${page}</h1>`);
  });
  await new Promise<void>((resolve) => site.listen(0, NODE_IP, resolve));
  siteUrl = `http://${NODE_IP}:${(site.address() as AddressInfo).port}`;
  gateway = startGateway(ns.name, 'one');
  base = await gateway.url('Tunnels');
  await waitForPool(ns.name, 'chromium', '1 idle', (p) => p.status?.idle === 1, 120_000);
}, 180_000);

afterAll(async () => {
  site?.close();
  await gateway?.kill('SIGTERM');
});

describe('CDP through a Tunnel', () => {
  it('serves puppeteer-core with browserWSEndpoint and the token in the URL', async () => {
    const browser = await connectPuppeteer();
    try {
      const page = await browser.newPage();
      await page.goto(`${siteUrl}/one`);
      expect(await page.title()).toBe('one');
      expect(await page.evaluate(() => 6 * 7)).toBe(42);
    } finally {
      await browser.disconnect();
    }
    await waitUntilReturned();
  });

  it('answers /json/version as Chromium does, leading back through the gateway, and serves connectOverCDP', async () => {
    const withHeader = await fetch(`${cdpHttp('agents')}/json/version/`, { headers: auth });
    expect(withHeader.status).toBe(200);
    const document = await withHeader.json() as { webSocketDebuggerUrl: string };
    expect(document.webSocketDebuggerUrl).toBe(cdpHttp('agents').replace('http', 'ws'));
    const withQuery = await fetch(`${cdpHttp('agents')}/json/version?token=${TOKEN}`);
    expect((await withQuery.json() as { webSocketDebuggerUrl: string }).webSocketDebuggerUrl).toBe(cdpWs('agents'));
    expect((await fetch(`${cdpHttp('agents')}/json/version`)).status).toBe(401);

    const browser = await chromium.connectOverCDP(cdpHttp('agents'), { headers: auth, timeout: 60_000 });
    try {
      const context = browser.contexts()[0] ?? await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${siteUrl}/two`);
      expect(await page.title()).toBe('two');
    } finally {
      await browser.close();
    }
    await waitUntilReturned();
  });

  it('serves @playwright/mcp, which pins a Playwright other than ours, through --cdp-endpoint and --cdp-header', async () => {
    const require = createRequire(import.meta.url);
    const mcpPlaywright = require(require.resolve('playwright-core/package.json', {
      paths: [require.resolve('@playwright/mcp/package.json')],
    })) as { version: string };
    const ours = require('playwright-core/package.json') as { version: string };
    expect(mcpPlaywright.version.split('.').slice(0, 2)).not.toEqual(ours.version.split('.').slice(0, 2));

    const outputDir = mkdtempSync(join(tmpdir(), 'fleetwright-mcp-'));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(dirname(require.resolve('@playwright/mcp/package.json')), 'cli.js'), '--cdp-endpoint', cdpHttp('agents'),
        '--cdp-header', `Authorization: Bearer ${TOKEN}`, '--output-dir', outputDir],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'fleetwright-node-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const call = async (name: string, args: Record<string, unknown>) => {
        const result = await client.callTool({ name, arguments: args });
        const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
        expect(result.isError ?? false, text).toBe(false);
        return text;
      };
      expect(await call('browser_navigate', { url: `${siteUrl}/three` })).toContain('Page Title: three');
      expect(await call('browser_evaluate', { function: '() => document.querySelector("h1").textContent' }))
        .toContain('page three');
    } finally {
      await client.close();
      rmSync(outputDir, { recursive: true, force: true });
    }
    await waitUntilReturned();
  }, 120_000);

  it('gives the next session on the same pod none of the last one\'s cookies, storage or pages', async () => {
    const [pod] = await poolPods(ns.name, 'chromium');
    const first = await connectPuppeteer();
    const page = await first.newPage();
    await page.goto(`${siteUrl}/mine`);
    await page.evaluate('document.cookie = "who=first; max-age=3600; path=/"; localStorage.setItem("who", "first")');
    expect(await page.evaluate(STORED)).toEqual(['who=first', 'first']);
    await (await first.newPage()).goto(`${siteUrl}/left-open`);
    await first.disconnect();
    await waitUntilReturned();

    const second: PuppeteerBrowser = await connectPuppeteer();
    try {
      const open = (await second.pages()).map((p) => p.url());
      expect(open.filter((url) => url.startsWith(siteUrl))).toEqual([]);
      const fresh = await second.newPage();
      await fresh.goto(`${siteUrl}/mine`);
      expect(await fresh.evaluate(STORED)).toEqual(['', null]);
      expect(await second.cookies()).toEqual([]);
    } finally {
      await second.disconnect();
    }
    const [after] = await poolPods(ns.name, 'chromium');
    expect(after?.metadata.uid).toBe(pod?.metadata.uid);
    await waitUntilReturned();
  });

  it('refuses no token with 401, a Tunnel with allowCDP: false with 403, a Firefox Tunnel with 404, and leases nothing', async () => {
    const missing = await handshake(cdpHttp('agents').replace('http', 'ws'));
    expect(missing.status).toBe(401);
    const forbidden = await handshake(cdpWs('no-cdp'));
    expect(forbidden).toMatchObject({ status: 403 });
    expect(forbidden.body).toContain('spec.allowCDP');
    const firefox = await handshake(cdpWs('foxes'));
    expect(firefox.status).toBe(404);
    expect(firefox.body).toContain('Chromium pools only');
    expect(await leased()).toBe(0);
  });

  it('queues a CDP client while the pool\'s browser is busy and serves it when the first leaves', async () => {
    const holder = await connectPuppeteer();
    const waiting = connectPuppeteer();
    await sleep(2_000);
    expect(await leased()).toBe(1);
    await holder.disconnect();
    const next = await waiting;
    try {
      const page = await next.newPage();
      expect(await page.evaluate(() => 1 + 1)).toBe(2);
    } finally {
      await next.disconnect();
    }
    await waitUntilReturned();
  });

  it('applies the Tunnel\'s queueTimeoutSeconds (503) and idleTimeoutSeconds to CDP sessions', async () => {
    const holder = await connectPuppeteer('strict');
    try {
      const refused = await handshake(cdpWs('strict'));
      expect(refused.status).toBe(503);
      expect(refused.body).toContain('came free within 2 s');
      const disconnected = new Promise<void>((resolve) => holder.once('disconnected', () => resolve()));
      const started = Date.now();
      await disconnected;
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      if (holder.connected) await holder.disconnect();
    }
    await waitUntilReturned();
  });
});
