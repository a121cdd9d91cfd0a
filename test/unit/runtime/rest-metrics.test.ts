import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { RestClient } from '../../../src/runtime/rest.ts';

let server: Server | undefined;
async function stop(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((resolve) => s.close(resolve));
}
afterEach(stop);

function clientOf(port: number, metrics: Metrics): RestClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node allows plain HTTP only with skipTLSVerify.
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return new RestClient(kc, (method, code) => metrics.restRequest(method, code));
}

async function samples(metrics: Metrics): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'rest_client_requests_total');
  return Object.fromEntries((metric?.values ?? []).map((v) => [`${v.labels.method} ${v.labels.code}`, v.value]));
}

describe('rest_client_requests_total', () => {
  it('counts each request by method and status code, and one that got no answer as <error>', async () => {
    server = createServer((req, res) => {
      const code = req.url?.startsWith('/missing') ? 404 : req.method === 'POST' ? 201 : 200;
      res.writeHead(code, { 'Content-Type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const metrics = new Metrics();
    const rest = clientOf((server.address() as AddressInfo).port, metrics);

    await rest.get('/api/v1/namespaces/a/pods');
    await rest.get('/api/v1/namespaces/a/pods/b');
    await rest.create('/api/v1/namespaces/a/pods', {});
    await expect(rest.get('/missing')).rejects.toMatchObject({ code: 404 });
    await rest.request('PATCH', '/api/v1/namespaces/a/pods/b', { body: {}, contentType: 'application/merge-patch+json' });
    await stop();
    await expect(rest.get('/api/v1/namespaces/a/pods')).rejects.toThrow();

    expect(await samples(metrics)).toEqual({
      'GET 200': 2, 'POST 201': 1, 'GET 404': 1, 'PATCH 200': 1, 'GET <error>': 1,
    });
  });
});
