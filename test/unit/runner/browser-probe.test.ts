import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { browserGone } from '../../../src/runner/browser-probe.ts';

describe('browserGone', () => {
  it('is undefined while something accepts connections at the endpoint, and says what happened once nothing does', async () => {
    const server = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    expect(await browserGone(`ws://127.0.0.1:${port}/playwright?browser=chromium`)).toBeUndefined();
    server.close();
    await once(server, 'close');
    expect(await browserGone(`ws://127.0.0.1:${port}/`)).toBe(`127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('connects to an IPv6 address without its URL brackets', async () => {
    const server = createServer((socket) => socket.destroy()).listen(0, '::1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    expect(await browserGone(`ws://[::1]:${port}/`)).toBeUndefined();
    server.close();
  });
});
