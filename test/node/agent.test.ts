import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, firefox, webkit } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BrowserPoolSpec } from '../../src/api/v1alpha1/index.ts';
import { browserPod } from '../../src/controllers/browserpool/pod.ts';
import { endpointOf } from '../../src/leasing/lease.ts';
import { useNamespace } from '../integration/helpers.ts';
import { core, isReady, waitForPod } from './pods.ts';

const ns = useNamespace('agent');
let endpoint = '';
let podName = '';
/** A page only this test process serves, on its own 127.0.0.1. */
let local: Server;
let localUrl = '';

beforeAll(async () => {
  local = createServer((_, res) => res.end('<title>served on the client</title>')).listen(0, '127.0.0.1');
  await new Promise((r) => local.once('listening', r));
  localUrl = `http://127.0.0.1:${(local.address() as AddressInfo).port}/`;

  const spec = BrowserPoolSpec.parse({ sessionsPerBrowser: 2 });
  const body = browserPod({ namespace: ns.name, name: 'agents', uid: 'none' }, spec, inject('image'), '/pw-test-path');
  delete body.metadata?.ownerReferences; // no BrowserPool object in this test
  const created = await core().createNamespacedPod({ namespace: ns.name, body });
  podName = created.metadata?.name ?? '';
  const ready = await waitForPod(ns.name, podName, isReady, 90_000);
  endpoint = endpointOf({ metadata: { annotations: ready.metadata?.annotations }, status: { podIP: ready.status?.podIP } }) ?? '';
});

afterAll(() => {
  local.close();
});

describe('fleetwright agent in a browser pod', () => {
  it('serves the warm browser to a Playwright client on the pod IP', async () => {
    expect(endpoint).toMatch(/^ws:\/\/10\.244\.0\.\d+:3000\/pw-test-path$/);
    const browser = await chromium.connect(endpoint);
    const page = await browser.newPage();
    await page.setContent('<h1>rendered in the pod</h1>');
    expect(await page.textContent('h1')).toBe('rendered in the pod');
    await browser.close();
  });

  it('keeps the pod\'s localhost its own: without exposeNetwork the client\'s 127.0.0.1 is out of reach', async () => {
    const browser = await chromium.connect(endpoint);
    const page = await browser.newPage();
    await expect(page.goto(localUrl)).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
    await browser.close();
  });

  it('reaches the client\'s own 127.0.0.1 through exposeNetwork, on a browser launched for it', async () => {
    const browser = await chromium.connect(endpoint, { exposeNetwork: '<loopback>' });
    const page = await browser.newPage();
    await page.goto(localUrl);
    expect(await page.title()).toBe('served on the client');
    await browser.close();
  });

  it('launches what the agent says, whatever launch options the client sends', async () => {
    const browser = await chromium.connect(endpoint, {
      exposeNetwork: '<loopback>',
      headers: {
        'x-playwright-launch-options': JSON.stringify({ executablePath: '/bin/false', args: ['--user-agent=hijacked'] }),
      },
    });
    const page = await browser.newPage();
    expect(await page.evaluate(() => navigator.userAgent)).not.toContain('hijacked');
    await browser.close();
  });

  it('refuses a firefox or webkit client with 400 naming its own browser, rather than hand it Chromium', async () => {
    for (const type of [firefox, webkit]) {
      for (const options of [{}, { exposeNetwork: '<loopback>' }]) {
        await expect(type.connect(endpoint, { timeout: 10_000, ...options })).rejects.toThrow(new RegExp(
          `400 Bad Request[\\s\\S]*this browser pod serves chromium; your client asked for ${type.name()}`));
      }
    }
  });

  it('counts sessions by mode on /status', async () => {
    const pod = await core().readNamespacedPod({ namespace: ns.name, name: podName });
    const status = await (await fetch(`http://${pod.status?.podIP}:3001/status`)).json();
    expect(status).toMatchObject({ browser: 'chromium', servedByMode: { warm: 2, fresh: 2 } });
  });

  it('exits promptly on SIGTERM when its pod is deleted', async () => {
    const started = Date.now();
    await core().deleteNamespacedPod({ namespace: ns.name, name: podName });
    for (;;) {
      const pods = await core().listNamespacedPod({ namespace: ns.name, fieldSelector: `metadata.name=${podName}` });
      if (pods.items.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
