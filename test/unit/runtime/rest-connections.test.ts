import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { RestClient } from '../../../src/runtime/rest.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the API client\'s connections', () => {
  it('sends request after request over one kept connection, not a new connection (and TLS handshake) each', async () => {
    let connections = 0;
    server = createServer((_, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node allows plain HTTP only with skipTLSVerify; its agent for HTTPS is made the same way.
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const rest = new RestClient(kc);
    for (let i = 0; i < 5; i++) expect(await rest.get('/api/v1/namespaces')).toEqual({ ok: true });
    await rest.mergePatch('/api/v1/namespaces/a', { metadata: {} });
    expect(connections).toBe(1);
  });
});
