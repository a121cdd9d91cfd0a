// The gateway's HTTP front in this process, with a stand-in for the cluster
// (one Tunnel, a leaser that hands out one browser) and a plain HTTP server
// as the browser: what a client's plain request goes through, and what the
// gateway counts and prints meanwhile.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayMetrics } from '../../src/gateway/metrics.ts';
import type { Gateway } from '../../src/gateway/server.ts';
import { standInGateway, TOKEN } from './gateway/stand-in.ts';

/** Every warning Node emits meanwhile: a dependency's DeprecationWarning would be on the gateway's stderr. */
const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

let browser: Server;
let gateway: Gateway;
let metrics: GatewayMetrics;
let base: string;
let browserHost: string;
const released: string[] = [];

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  process.on('warning', onWarning);
  browser = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, host: req.headers.host }));
  });
  const browserUrl = new URL(await listen(browser));
  browserHost = browserUrl.host;
  ({ gateway, metrics } = standInGateway({
    endpoint: `ws://${browserUrl.host}/pw-secret`,
    maxMessageBytes: 1_048_576,
    onRelease: (pod) => released.push(pod),
  }));
  base = await listen(gateway.server);
});

afterAll(async () => {
  process.off('warning', onWarning);
  await gateway.drain(1_000);
  browser.close();
});

describe('a plain HTTP request to a Tunnel', () => {
  it('is proxied to the leased browser, without the Tunnel path and with the browser\'s own Host', async () => {
    const res = await fetch(`${base}/tunnels/team-a/ci/json/version`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const body = await res.json() as { path: string; host: string };
    expect(body.path).toBe('/json/version');
    expect(body.host).toBe(browserHost);
    expect(released).toEqual(['chromium-1']);
  });

  it('is counted under the Tunnel\'s namespace and name, and its browser under the pool\'s namespace', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain('fleetwright_tunnel_connections_total{namespace="team-a",tunnel="ci",result="ok"} 1');
    expect(text).toContain('fleetwright_tunnel_connections_active{namespace="team-a",tunnel="ci"} 0');
    expect(text).toContain('fleetwright_browser_acquire_seconds_count{namespace="team-a",pool="chromium",source="idle"} 1');
  });

  it('prints no DeprecationWarning (Node 24 deprecates what old proxies call: util._extend, url.parse)', async () => {
    // A refused token and a path that is no Tunnel go through the other branches of the front.
    expect((await fetch(`${base}/tunnels/team-a/ci/json/version`, { headers: { authorization: 'Bearer wrong' } })).status)
      .toBe(401);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    expect(warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => `${w.message}\n${w.stack}`)).toEqual([]);
  });
});

describe('the discovery document of a Tunnel\'s CDP endpoint', () => {
  /** GET with a Host header of the test's choosing, which fetch() does not allow. */
  const get = (path: string, headers: Record<string, string>) => new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const target = new URL(path, base);
      const options = { host: target.hostname, port: target.port, path: target.pathname + target.search, headers };
      const req = request(options, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );

  it('leads back through the Host the client used, leasing nothing; refuses a Host that is no host[:port]', async () => {
    const leasedBefore = released.length;
    const answer = await get('/tunnels/team-a/ci/cdp/json/version/', {
      'host': 'browsers.example.com:8443',
      'x-forwarded-proto': 'https',
      'authorization': `Bearer ${TOKEN}`,
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ webSocketDebuggerUrl: 'wss://browsers.example.com:8443/tunnels/team-a/ci/cdp' });
    const bent = await get(`/tunnels/team-a/ci/cdp/json/version?token=${TOKEN}`, { host: 'evil.example/x?' });
    expect(bent).toEqual({ status: 400, body: 'send a Host header naming the gateway (host or host:port)\n' });
    expect((await get('/tunnels/team-a/ci/cdp/json/list', { host: 'gw' })).status).toBe(404);
    expect(released.length).toBe(leasedBefore);
  });
});
