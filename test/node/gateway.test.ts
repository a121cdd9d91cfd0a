import { createServer, type Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, firefox, webkit } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TUNNEL } from '../../src/api/resources.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { ControllerProcess, eventually, rest } from '../integration/runtime/support.ts';
import { handshake } from './handshake.ts';
import { apply, poolManifest, poolPods, startGateway, useController, waitForPool } from './pools.ts';

const ns = useNamespace('gateway');
useController(() => ns.name);

const TOKEN = 'gateway-test-token-5f1d2c';
const tunnelManifest = (name: string, spec: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec:
  poolRefs: [{ name: browsers }]
  auth: { secretRef: { name: tunnel-token } }
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

/** The gateway with small limits, so that the tests can reach them. */
const startTestGateway = (replica: string) =>
  startGateway(ns.name, replica, ['--header-timeout=2s', '--max-message-bytes=1048576', '--shutdown-timeout=2s']);

let gateway: ControllerProcess;
let base = '';
let local: Server;
let localUrl = '';

const wsUrl = (tunnel: string, query = '') => `${base.replace('http', 'ws')}/tunnels/${ns.name}/${tunnel}${query}`;
const auth = { Authorization: `Bearer ${TOKEN}` };

/** A Playwright client through the gateway. */
const connect = (tunnel = 'remote', options: { exposeNetwork?: string; timeout?: number } = {}) =>
  chromium.connect(wsUrl(tunnel), { headers: auth, timeout: 60_000, ...options });

async function metrics(process: ControllerProcess): Promise<string> {
  const response = await fetch(`${await process.url('metrics')}/metrics`);
  return response.text();
}

/** The sample of `name` that carries every one of `labels` (in any order). */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const line = text.split('\n').find((l) =>
    (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) &&
    Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return Number(line?.split(' ').at(-1) ?? 'NaN');
}

async function leasedPods(): Promise<number> {
  return (await poolPods(ns.name, 'browsers')).filter((p) => leaseOf(p) && !p.metadata.deletionTimestamp).length;
}

beforeAll(async () => {
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: tunnel-token }
stringData: { token: ${TOKEN} }
---
${poolManifest('browsers', 'replicas: 2')}
---
${tunnelManifest('remote', 'maxConnections: 250\nqueueTimeoutSeconds: 120')}
---
${tunnelManifest('impatient', 'queueTimeoutSeconds: 2')}
---
${tunnelManifest('closed', 'allowExposeNetwork: false')}
`);
  local = createServer((_, res) => res.end('<title>served on the client</title>')).listen(0, '127.0.0.1');
  await new Promise((r) => local.once('listening', r));
  localUrl = `http://127.0.0.1:${(local.address() as AddressInfo).port}/`;
  gateway = startTestGateway('one');
  base = await gateway.url('Tunnels');
  await waitForPool(ns.name, 'browsers', '2 idle', (p) => p.status?.idle === 2, 120_000);
}, 180_000);

afterAll(async () => {
  local?.close();
  await gateway?.kill('SIGTERM');
});

describe('the Tunnel gateway', () => {
  it('lets a Playwright client with the token reach a page on its own 127.0.0.1 through exposeNetwork', async () => {
    const browser = await connect('remote', { exposeNetwork: '<loopback>' });
    const page = await browser.newPage();
    await page.goto(localUrl);
    expect(await page.title()).toBe('served on the client');
    expect(await leasedPods()).toBe(1);
    await browser.close();
    await eventually('the browser to be given back', async () => (await leasedPods()) === 0);
    const text = await metrics(gateway);
    for (const direction of ['to_browser', 'to_client']) {
      expect(metricValue(text, 'fleetwright_tunnel_bytes_total', { namespace: ns.name, tunnel: 'remote', direction }))
        .toBeGreaterThan(1000);
    }
  });

  it('serves clients that can only put the token in the URL, through Playwright\'s http:// discovery', async () => {
    const browser = await chromium.connect(`${base}/tunnels/${ns.name}/remote?token=${TOKEN}`, { timeout: 60_000 });
    const page = await browser.newPage();
    await page.setContent('<p id="x">42</p>');
    expect(await page.textContent('#x')).toBe('42');
    await browser.close();
    await eventually('the browser to be given back', async () => (await leasedPods()) === 0);
  });

  it('refuses a missing or wrong token with 401 and leases nothing', async () => {
    const missing = await handshake(wsUrl('remote'));
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="fleetwright"');
    const wrong = await handshake(wsUrl('remote'), { Authorization: 'Bearer not-the-token' });
    expect(wrong).toMatchObject({ status: 401, body: 'wrong token\n' });
    const wrongQuery = await handshake(wsUrl('remote', '?token=nope'));
    expect(wrongQuery.status).toBe(401);
    await expect(chromium.connect(wsUrl('remote'), { timeout: 10_000 })).rejects.toThrow(/401/);
    expect(await leasedPods()).toBe(0);
    const text = await metrics(gateway);
    expect(metricValue(text, 'fleetwright_tunnel_connections_total', { result: 'unauthorized', namespace: ns.name, tunnel: 'remote' }))
      .toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(gateway.lines)).not.toContain(TOKEN);
  });

  it('refuses exposeNetwork on a Tunnel that forbids it, saying why', async () => {
    await expect(connect('closed', { exposeNetwork: '<loopback>', timeout: 10_000 }))
      .rejects.toThrow(/403[\s\S]*spec\.allowExposeNetwork is false/);
    const plain = await connect('closed');
    expect(plain.version()).toMatch(/^\d+\./);
    await plain.close();
    // The gateway gives the browser back once the session's sockets are closed, a moment after close() returns.
    await eventually('the browser to be given back', async () => (await leasedPods()) === 0);
  });

  it('refuses firefox and webkit clients on a Chromium pool with 400 naming the pool\'s browser, and leases nothing', async () => {
    for (const type of [firefox, webkit]) {
      await expect(type.connect(wsUrl('remote'), { headers: auth, timeout: 10_000 })).rejects.toThrow(new RegExp(
        `400 Bad Request[\\s\\S]*this Tunnel serves chromium \\(pool browsers\\); your client asked for ${type.name()}`));
    }
    expect(await leasedPods()).toBe(0);
    const text = await metrics(gateway);
    expect(metricValue(text, 'fleetwright_tunnel_connections_total', { result: 'browser_mismatch', namespace: ns.name, tunnel: 'remote' }))
      .toBe(2);
  });

  it('proxies a plain HTTP request under the Tunnel to a leased browser', async () => {
    const response = await fetch(`${base}/tunnels/${ns.name}/remote/json/version`, { headers: auth });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ Browser: 'chromium' });
    expect((await fetch(`${base}/tunnels/${ns.name}/remote/json/version`)).status).toBe(401);
    expect((await fetch(`${base}/tunnels/${ns.name}/nowhere`)).status).toBe(404);
  });

  it('queues clients past the pool\'s browsers and serves them as others leave; past queueTimeoutSeconds: 503', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    let third: Browser | undefined;
    const waiting = connect().then((browser) => (third = browser));
    await sleep(1_500);
    expect(third).toBeUndefined();

    const refused = await handshake(wsUrl('impatient'), auth);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toMatch(/no browser of pool browsers came free within 2 s/);

    await a?.close();
    const c = await waiting;
    expect(c.isConnected()).toBe(true);
    await Promise.all([b?.close(), c.close()]);
    const text = await metrics(gateway);
    expect(metricValue(text, 'fleetwright_tunnel_connections_total', { result: 'queue_timeout', namespace: ns.name, tunnel: 'impatient' }))
      .toBe(1);
    expect(metricValue(text, 'fleetwright_browser_acquire_seconds_count', { namespace: ns.name, pool: 'browsers', source: 'queue' }))
      .toBeGreaterThan(0);
  });

  it('closes only the session whose browser pod is killed, and the pool heals', async () => {
    const clients = await Promise.all([connect(), connect()]);
    const pages = await Promise.all(clients.map((c) => c.newPage()));
    // The gateway logged which pod serves each session; kill the first one's.
    const victimPod = gateway.lines.filter((l) => l.msg === 'session started').at(-2)?.pod as string;
    const lost = Promise.race(clients.map((c, i) => new Promise<number>((resolve) => c.once('disconnected', () => resolve(i)))));
    expect(kubectl(['delete', 'pod', '-n', ns.name, '--grace-period=0', '--force', victimPod]).status).toBe(0);
    const survivor = 1 - (await lost);
    await pages[survivor]?.setContent('<p id="s">still here</p>');
    expect(await pages[survivor]?.textContent('#s')).toBe('still here');
    expect(clients[survivor]?.isConnected()).toBe(true);
    // Whichever comes first ends it: Playwright's server closing with 1001 as its browser is killed, the
    // client closing (1005) once the server told it its browser was gone, or the gateway closing with 1014 once
    // it sees the pod deleted (as it must for a pod on a lost node, which closes nothing).
    const ended = await eventually('the gateway to log the lost browser', () =>
      gateway.lines.find((l) => l.msg === 'session ended' && l.pod === victimPod));
    expect([1001, 1005, 1014]).toContain(ended.code);
    await clients[survivor]?.close();
    await waitForPool(ns.name, 'browsers', 'healed to 2 idle', (p) => p.status?.idle === 2, 120_000);
    expect(await leasedPods()).toBe(0);
  });

  it('stays up under garbage: bad requests, slow headers, huge headers and oversized frames get the right answers', async () => {
    const before = metricValue(await metrics(gateway), 'process_resident_memory_bytes');
    const raw = (bytes: Buffer | string, waitMs = 5_000) => new Promise<string>((resolve) => {
      const socket = tcpConnect(Number(new URL(base).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (c) => (answer += c.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.write(bytes);
      setTimeout(() => socket.destroy(), waitMs);
    });
    for (let i = 0; i < 50; i++) expect(await raw(Buffer.from(Array.from({ length: 512 }, () => Math.floor(Math.random() * 256))))).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(`GET /tunnels/${ns.name}/remote HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    const slowStarted = Date.now();
    const slow = await raw(`GET /tunnels/${ns.name}/remote HTTP/1.1\r\nHost: x\r\n`, 10_000);
    expect(Date.now() - slowStarted).toBeLessThan(6_000);
    expect(slow).toMatch(/^HTTP\/1\.1 408|^$/);

    const open = await handshake(wsUrl('remote'), { ...auth, 'User-Agent': 'raw-ws-client' });
    expect(open.status).toBe(101);
    const closed = new Promise<number>((resolve) => open.socket?.once('close', (code) => resolve(code)));
    open.socket?.send(Buffer.alloc(2 * 1024 * 1024));
    expect(await closed).toBe(1009);

    for (let i = 0; i < 200; i++) await handshake(wsUrl('remote'), { Authorization: `Bearer ${'x'.repeat(i)}` });
    const after = metricValue(await metrics(gateway), 'process_resident_memory_bytes');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
    await eventually('the oversized session\'s browser to be given back', async () => (await leasedPods()) === 0);
  });

  it('with two replicas and 200 connections on 2 browsers, never hands one browser to two sessions at once', async () => {
    const second = startTestGateway('two');
    const secondBase = await second.url('Tunnels');
    try {
      const urls = [wsUrl('remote'), `${secondBase.replace('http', 'ws')}/tunnels/${ns.name}/remote`];
      const results = await Promise.allSettled(Array.from({ length: 200 }, async (_, i) => {
        const browser = await chromium.connect(urls[i % 2] as string, { headers: auth, timeout: 180_000 });
        await browser.newContext();
        await browser.close();
      }));
      const failures = results.filter((r) => r.status === 'rejected');
      expect(failures.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);

      // Each pod's sessions, from both replicas' logs, must never overlap in time.
      const sessions = [...gateway.lines, ...second.lines].filter((l) => l.msg === 'session started' || l.msg === 'session ended');
      const open = new Map<string, number>();
      let overlaps = 0;
      // At equal times an end sorts first: a browser is leased again only after its last session ended.
      const order = (l: { msg: string }) => (l.msg === 'session ended' ? 0 : 1);
      for (const line of sessions.sort((x, y) => x.time.localeCompare(y.time) || order(x) - order(y))) {
        const pod = line.pod as string;
        const now = (open.get(pod) ?? 0) + (line.msg === 'session started' ? 1 : -1);
        if (now > 1) overlaps++;
        open.set(pod, now);
      }
      expect(overlaps).toBe(0);
    } finally {
      expect(await second.kill('SIGTERM')).toBe(0);
    }
  }, 400_000);

  it('on SIGTERM lets sessions run for --shutdown-timeout, then closes them with 1001 and exits 0', async () => {
    const draining = startTestGateway('draining');
    const url = `${(await draining.url('Tunnels')).replace('http', 'ws')}/tunnels/${ns.name}/remote`;
    const browser = await chromium.connect(url, { headers: auth, timeout: 60_000 });
    const closed = new Promise<number>((resolve) => browser.once('disconnected', () => resolve(Date.now())));
    const signalled = Date.now();
    const exited = draining.kill('SIGTERM');
    expect(await closed - signalled).toBeGreaterThanOrEqual(1_500);
    expect(await exited).toBe(0);
    expect(draining.lines.find((l) => l.msg === 'session ended')).toMatchObject({ by: 'gateway', code: 1001 });
    await eventually('the drained session\'s browser to be given back', async () => (await leasedPods()) === 0);
  });

  it('reports its connections in the Tunnel\'s status, added up over both replicas', async () => {
    type Status = { url?: string; activeConnections?: number; totalConnections?: number; conditions?: Condition[] };
    const status = await eventually('the 200 connections in the Tunnel status', async () => {
      const tunnel = await rest().get<{ status?: Status }>(objectPath(TUNNEL, { namespace: ns.name, name: 'remote' }));
      return (tunnel.status?.totalConnections ?? 0) >= 200 && tunnel.status?.activeConnections === 0 && tunnel.status;
    }, 60_000);
    expect(status.url).toBe(`/tunnels/${ns.name}/remote`);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
  });
});
