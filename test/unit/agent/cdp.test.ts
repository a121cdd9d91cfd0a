// launchCdpBrowser for real, with Debian's Chromium: the endpoint speaks CDP,
// and closing leaves neither a process nor a profile behind.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type CdpBrowser, CdpBrowsers, launchCdpBrowser } from '../../../src/agent/cdp.ts';
import { AgentConfig } from '../../../src/contracts/agent.ts';

const config = AgentConfig.parse({ FLEETWRIGHT_CHROMIUM_PATH: '/usr/bin/chromium' });
const profiles = () => readdirSync(tmpdir()).filter((name) => name.startsWith('fleetwright-cdp-'));

/** Sends one CDP command on the browser's endpoint and returns its result. */
function send(endpoint: URL, method: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(endpoint);
    socket.once('open', () => socket.send(JSON.stringify({ id: 1, method })));
    socket.once('message', (data: Buffer) => {
      socket.close();
      resolve((JSON.parse(data.toString()) as { result: Record<string, unknown> }).result);
    });
    socket.once('error', reject);
  });
}

describe('a Chromium for one CDP session', () => {
  it('serves CDP on loopback, and is gone with its profile once closed', async () => {
    const before = profiles();
    const browser = await launchCdpBrowser(config);
    expect(browser.endpoint.hostname).toBe('127.0.0.1');
    expect(browser.endpoint.pathname).toMatch(/^\/devtools\/browser\//);
    const version = await send(browser.endpoint, 'Browser.getVersion');
    expect(version.product).toMatch(/Chrome\//);
    const [profile] = profiles().filter((name) => !before.includes(name));
    expect(profile).toBeDefined();

    await browser.close();
    expect(existsSync(`${tmpdir()}/${profile}`)).toBe(false);
    await expect(send(browser.endpoint, 'Browser.getVersion')).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);

  it('rejects with what Chromium said when it cannot start, and leaves no profile', async () => {
    const before = profiles();
    const broken = AgentConfig.parse({ FLEETWRIGHT_CHROMIUM_PATH: '/nonexistent/chromium' });
    await expect(launchCdpBrowser(broken)).rejects.toThrow(/could not start Chromium: spawn \/nonexistent\/chromium ENOENT/);
    expect(profiles()).toEqual(before);
  });
});

describe('the CDP browsers of a pod', () => {
  it('starts none until a session asks, then keeps one unused browser ready for the next session', async () => {
    const before = profiles();
    let launched = 0;
    const browsers = new CdpBrowsers(() => {
      launched++;
      return launchCdpBrowser(config);
    });
    try {
      expect(launched).toBe(0);
      const first = await browsers.take();
      expect(launched).toBe(1);
      await browsers.discard(first);
      expect(launched).toBe(2);
      const second = await browsers.take();
      expect(launched).toBe(2);
      expect(second.endpoint.href).not.toBe(first.endpoint.href);
      expect(first.alive()).toBe(false);
      expect(second.alive()).toBe(true);
      // Two sessions at once never share the spare.
      await browsers.discard(second);
      const [a, b] = await Promise.all([browsers.take(), browsers.take()]);
      expect(a?.endpoint.href).not.toBe(b?.endpoint.href);
      await Promise.all([browsers.discard(a), browsers.discard(b)]);
    } finally {
      await browsers.closeAll();
    }
    expect(profiles()).toEqual(before);
  }, 60_000);

  it('replaces a spare that died while it waited', async () => {
    const launches: Promise<CdpBrowser>[] = [];
    const browsers = new CdpBrowsers(() => {
      const launch = launchCdpBrowser(config);
      launches.push(launch);
      return launch;
    });
    try {
      await browsers.discard(await browsers.take());
      const spare = await launches[1];
      await spare?.close();
      const next = await browsers.take();
      expect(launches).toHaveLength(3);
      expect(next.alive()).toBe(true);
      expect(next.endpoint.href).not.toBe(spare?.endpoint.href);
      await browsers.discard(next);
    } finally {
      await browsers.closeAll();
    }
  }, 60_000);
});
