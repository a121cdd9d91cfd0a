// Playwright for real through the gateway's front (server.ts, with a stand-in
// for the cluster: one Tunnel, a leaser that hands out one browser) to
// Debian's chromium behind launchServer on loopback, standing in for a pooled
// browser: the raw relay carries Playwright's protocol both ways.
import type { AddressInfo } from 'node:net';
import { type BrowserServer, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayMetrics } from '../../../src/gateway/metrics.ts';
import type { Gateway } from '../../../src/gateway/server.ts';
import { standInGateway, TOKEN } from './stand-in.ts';

let server: BrowserServer;
let gateway: Gateway;
let metrics: GatewayMetrics;
let url: string;
let released = 0;
let loseBrowserPod: () => void;

beforeAll(async () => {
  server = await chromium.launchServer({
    executablePath: '/usr/bin/chromium',
    host: '127.0.0.1',
    port: 0,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  ({ gateway, metrics, loseBrowserPod } = standInGateway({
    endpoint: server.wsEndpoint(),
    maxMessageBytes: 64 << 20,
    onRelease: () => released++,
  }));
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/tunnels/team-a/ci`;
}, 60_000);

afterAll(async () => {
  await gateway?.drain(1_000);
  await server?.close();
});

const metric = async (line: string) =>
  Number((await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(line))?.split(' ').at(-1) ?? NaN);

describe('Playwright through the gateway', () => {
  it('drives a page: evaluate, content and a screenshot come back whole', async () => {
    const browser = await chromium.connect(url, { headers: { authorization: `Bearer ${TOKEN}` }, timeout: 30_000 });
    const page = await browser.newPage();
    expect(await page.evaluate(() => 1 + 1)).toBe(2);
    await page.setContent(`<p id="x">${'relayed '.repeat(10_000)}</p>`);
    expect((await page.textContent('#x'))?.length).toBe(80_000);
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    for (let i = 0; i < 200; i++) await page.evaluate((n) => n, i);
    // Counted while the session is open too: the relay's counts are taken at each scrape.
    expect(await metric('fleetwright_tunnel_bytes_total{namespace="team-a",tunnel="ci",direction="to_client"}'))
      .toBeGreaterThan(png.length);
    await browser.close();
    await expect.poll(() => released, { timeout: 10_000 }).toBe(1);
    expect(await metric('fleetwright_tunnel_connections_total{namespace="team-a",tunnel="ci",result="ok"}')).toBe(1);
    expect(await metric('fleetwright_tunnel_bytes_total{namespace="team-a",tunnel="ci",direction="to_browser"}'))
      .toBeGreaterThan(1_000);
    expect(await metric('fleetwright_tunnel_bytes_total{namespace="team-a",tunnel="ci",direction="to_client"}'))
      .toBeGreaterThan(png.length);
  }, 60_000);

  it('closes a session whose browser pod is lost, as for a browser that went away, and gives the pod back', async () => {
    const browser = await chromium.connect(url, { headers: { authorization: `Bearer ${TOKEN}` }, timeout: 30_000 });
    const disconnected = new Promise<void>((resolve) => browser.once('disconnected', () => resolve()));
    const page = await browser.newPage();
    expect(await page.evaluate(() => 2 * 3)).toBe(6);
    const before = released;
    loseBrowserPod();
    await disconnected;
    expect(browser.isConnected()).toBe(false);
    await expect.poll(() => released, { timeout: 10_000 }).toBe(before + 1);
    expect(await metric('fleetwright_tunnel_connections_total{namespace="team-a",tunnel="ci",result="upstream_error"}'))
      .toBe(1);
  }, 60_000);

  it('tells the client when the gateway shuts down, and the browser serves the next client', async () => {
    const browser = await chromium.connect(url, { headers: { authorization: `Bearer ${TOKEN}` }, timeout: 30_000 });
    const disconnected = new Promise<void>((resolve) => browser.once('disconnected', () => resolve()));
    const page = await browser.newPage();
    expect(await page.evaluate('document.readyState')).toBe('complete');
    await gateway.drain(0);
    await disconnected;
    expect(browser.isConnected()).toBe(false);
    const direct = await chromium.connect(server.wsEndpoint());
    expect(await (await direct.newPage()).evaluate(() => 6 * 7)).toBe(42);
    await direct.close();
  }, 60_000);
});
