// The browser side's opening handshake, against HTTP servers on 127.0.0.1
// that answer it right, wrong or not at all.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptKey, openUpstream, UpstreamRefused } from '../../../src/gateway/handshake.ts';

const servers: Server[] = [];
/** Upgraded sockets are no longer the HTTP server's: closing it leaves them. */
const sockets: Duplex[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/** A server whose upgrade requests `onUpgrade` answers by hand; its endpoint. */
async function upstream(onUpgrade: (req: IncomingMessage, socket: Duplex) => void): Promise<string> {
  const server = createServer();
  server.on('upgrade', (req, socket: Duplex) => {
    sockets.push(socket);
    onUpgrade(req, socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/pw-secret?x=1`;
}

const answer = (socket: Duplex, lines: string[], after = Buffer.alloc(0)) =>
  socket.write(Buffer.concat([Buffer.from(`${['HTTP/1.1 101 Switching Protocols', ...lines].join('\r\n')}\r\n\r\n`), after]));

describe('openUpstream', () => {
  it('sends a version 13 upgrade with a fresh key and the given headers, and hands over the socket and what followed', async () => {
    let seen: IncomingMessage | undefined;
    const endpoint = await upstream((req, socket) => {
      seen = req;
      answer(socket, ['Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${acceptKey(req.headers['sec-websocket-key'] as string)}`,
        'Sec-WebSocket-Protocol: b'], Buffer.from([0x81, 0x02, 0x68, 0x69]));
    });
    const opened = await openUpstream(endpoint, { 'user-agent': 'Playwright/1.65.1', 'sec-websocket-protocol': 'a, b' }, 5_000);
    expect(seen?.url).toBe('/pw-secret?x=1');
    expect(seen?.headers).toMatchObject({
      'upgrade': 'websocket', 'connection': 'Upgrade', 'sec-websocket-version': '13', 'user-agent': 'Playwright/1.65.1',
    });
    expect(seen?.headers['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(seen?.headers['sec-websocket-extensions']).toBeUndefined();
    expect(opened.protocol).toBe('b');
    // Bytes that came with the 101 are the relay's: a frame "hi".
    const head = opened.head.length > 0 ? opened.head : await new Promise<Buffer>((r) => opened.socket.once('data', r));
    expect(head).toEqual(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    opened.socket.destroy();
  });

  it('passes on a refusal\'s status and body', async () => {
    const body = 'Playwright version mismatch: this browser runs 1.65\n';
    const endpoint = await upstream((_req, socket) => socket.end('HTTP/1.1 428 Precondition Required\r\n' +
      `content-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`));
    const refused = await openUpstream(endpoint, {}, 5_000).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UpstreamRefused);
    expect(refused).toMatchObject({ status: 428, message: body.trim() });
  });

  it('refuses with 502 a 101 whose Sec-WebSocket-Accept is wrong, or that takes an extension or a subprotocol not offered', async () => {
    const cases: [string[], string][] = [
      [['Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBvbmU='], 'wrong Sec-WebSocket-Accept'],
      [['Sec-WebSocket-Extensions: permessage-deflate'], 'an extension that was not offered'],
      [['Sec-WebSocket-Protocol: c'], 'subprotocol c was not offered'],
    ];
    for (const [extra, problem] of cases) {
      const endpoint = await upstream((req, socket) => {
        const accept = `Sec-WebSocket-Accept: ${acceptKey(req.headers['sec-websocket-key'] as string)}`;
        answer(socket, ['Upgrade: websocket', 'Connection: Upgrade',
          ...(extra[0]?.startsWith('Sec-WebSocket-Accept') ? extra : [accept, ...extra])]);
      });
      const refused = await openUpstream(endpoint, {}, 5_000).catch((err: unknown) => err);
      expect(refused).toMatchObject({ status: 502, message: `the browser's WebSocket handshake is invalid: ${problem}` });
    }
  });

  it('gives up with 502 on a browser that does not answer within the timeout, or is not there', async () => {
    const endpoint = await upstream(() => undefined);
    const started = performance.now();
    await expect(openUpstream(endpoint, {}, 300)).rejects.toMatchObject({
      status: 502, message: 'the browser did not answer: no WebSocket handshake within 300 ms',
    });
    expect(performance.now() - started).toBeLessThan(2_000);
    for (const socket of sockets.splice(0)) socket.destroy();
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    await expect(openUpstream(endpoint, {}, 5_000)).rejects.toMatchObject({ status: 502, message: /ECONNREFUSED/ });
  });
});
