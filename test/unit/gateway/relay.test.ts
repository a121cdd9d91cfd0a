// The raw relay between real sockets on 127.0.0.1: `ws` clients through it to
// a `ws` server standing in for the browser, and a raw client for the frames
// no `ws` client would send.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { readHeader } from '../../../src/gateway/frames.ts';
import { frame } from './frame-bytes.ts';
import { closeOf, Harness, messages, type Opened, sleep } from './relay-harness.ts';

let harness: Harness;
const defaults = { idleTimeoutMs: 60_000, maxSessionMs: 600_000, maxMessageBytes: 1 << 20 };
const open: Opened[] = [];

beforeAll(async () => {
  harness = await Harness.start({ maxPayload: 256 << 20 });
});

afterEach(() => {
  harness.options = { ...defaults };
  for (const { client, browser } of open.splice(0)) {
    client.terminate();
    browser.terminate();
  }
});

afterAll(async () => {
  await harness.stop();
});

async function session(clientOptions?: ConstructorParameters<typeof WebSocket>[2], protocols?: string[]) {
  const opened = await harness.open(clientOptions, protocols);
  open.push(opened);
  return opened;
}

/** The close frame at the start of `bytes` (as a server sends it: unmasked). */
function closeFrame(bytes: Buffer): { code: number; reason: string } | undefined {
  const header = readHeader(bytes, 0);
  if (!header || header.opcode !== 0x8 || bytes.length < header.headerBytes + header.payloadBytes) return undefined;
  const payload = bytes.subarray(header.headerBytes, header.headerBytes + header.payloadBytes);
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
}

describe('the relay between a client and its browser', () => {
  it('carries text and binary messages both ways byte for byte, at 7-, 16- and 64-bit lengths', async () => {
    const { client, browser } = await session();
    const sizes = [0, 1, 125, 126, 65_535, 65_536, 300_000];
    const payloads = sizes.map((n) => randomBytes(n));
    const toBrowser = messages(browser, sizes.length * 2);
    for (const p of payloads) {
      client.send(p);
      client.send(p.toString('base64'));
    }
    const atBrowser = await toBrowser;
    const toClient = messages(client, sizes.length * 2);
    for (const m of atBrowser) browser.send(m.data, { binary: m.binary });
    const atClient = await toClient;
    payloads.forEach((p, i) => {
      for (const got of [atBrowser, atClient]) {
        expect(got[2 * i]).toEqual({ data: p, binary: true });
        expect(got[2 * i + 1]).toEqual({ data: Buffer.from(p.toString('base64')), binary: false });
      }
    });
  });

  it('carries a fragmented message whole, with a ping between its fragments answered end to end', async () => {
    const { client, browser } = await session();
    const got = messages(browser, 1);
    const pinged = new Promise<Buffer>((resolve) => browser.once('ping', resolve));
    const ponged = new Promise<Buffer>((resolve) => client.once('pong', resolve));
    client.send('first ', { fin: false });
    client.ping('between');
    client.send('second ', { fin: false });
    client.send('last', { fin: true });
    expect((await got)[0]).toEqual({ data: Buffer.from('first second last'), binary: false });
    expect((await pinged).toString()).toBe('between');
    expect((await ponged).toString()).toBe('between');
  });

  it('negotiates no extension and passes the subprotocol the browser chose back to the client', async () => {
    const previous = harness.browsers.options.handleProtocols;
    harness.browsers.options.handleProtocols = (offered) => (offered.has('two') ? 'two' : false);
    try {
      const { client, browser } = await session({ perMessageDeflate: true }, ['one', 'two']);
      expect(client.protocol).toBe('two');
      expect(browser.protocol).toBe('two');
      expect(client.extensions).toBe('');
      expect(browser.extensions).toBe('');
    } finally {
      harness.browsers.options.handleProtocols = previous;
    }
  });

  it('closes a client that sends a message over the limit with 1009 and never forwards it, nor the rest', async () => {
    harness.options = { ...defaults, maxMessageBytes: 1000 };
    const { client, browser, session: s } = await session();
    let forwarded = 0;
    browser.on('message', () => forwarded++);
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    client.send(Buffer.alloc(1000));
    client.send(Buffer.alloc(1001));
    client.send('after');
    const reason = 'message too big: a message over the limit of 1000 bytes';
    expect(await clientClosed).toEqual({ code: 1009, reason });
    expect(await browserClosed).toEqual({ code: 1009, reason });
    expect(forwarded).toBe(1);
    expect(await s.done).toEqual({ by: 'gateway', code: 1009, reason });
  });

  it('closes with 1009 a client still sending a 2 MiB message over a 1 MiB limit, with no reset before the close frame', async () => {
    for (let i = 0; i < 5; i++) {
      const { client, browser } = await session();
      const clientClosed = closeOf(client);
      const browserClosed = closeOf(browser);
      const errors: Error[] = [];
      client.on('error', (err) => errors.push(err));
      client.send(Buffer.alloc(2 << 20));
      expect((await clientClosed).code).toBe(1009);
      expect((await browserClosed).code).toBe(1009);
      expect(errors).toEqual([]);
    }
  });

  it('counts a fragmented message\'s fragments together against the limit', async () => {
    harness.options = { ...defaults, maxMessageBytes: 1000 };
    const { client, browser } = await session();
    let forwarded = 0;
    browser.on('message', () => forwarded++);
    const clientClosed = closeOf(client);
    client.send(Buffer.alloc(600), { fin: false });
    client.send(Buffer.alloc(600), { fin: true });
    expect((await clientClosed).code).toBe(1009);
    expect(forwarded).toBe(0);
  });

  it('closes the client with 1014 and the browser with 1009 when the browser sends a message over the limit', async () => {
    harness.options = { ...defaults, maxMessageBytes: 1000 };
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    let forwarded = 0;
    client.on('message', () => forwarded++);
    browser.send(Buffer.alloc(2000));
    const reason = 'browser connection error: a message over the limit of 1000 bytes';
    expect(await clientClosed).toEqual({ code: 1014, reason });
    expect((await browserClosed).code).toBe(1009);
    expect(forwarded).toBe(0);
    expect(await s.done).toEqual({ by: 'gateway', code: 1014, reason });
  });

  it('closes both sides with 1008 after idleTimeoutMs without a message, however many pings went meanwhile', async () => {
    harness.options = { ...defaults, idleTimeoutMs: 600 };
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    // Messages keep it open past the timeout; pings and pongs do not.
    const pinging = setInterval(() => client.ping(), 50);
    let lastMessage = 0;
    const reason = 'idle timeout: no messages for 1 s';
    try {
      for (let i = 0; i < 4; i++) {
        browser.send('still here');
        lastMessage = performance.now();
        await sleep(300);
      }
      expect(await clientClosed).toEqual({ code: 1008, reason });
    } finally {
      clearInterval(pinging);
    }
    expect(performance.now() - lastMessage).toBeGreaterThan(550);
    expect(performance.now() - lastMessage).toBeLessThan(1_000);
    expect(await browserClosed).toEqual({ code: 1008, reason });
    expect(await s.done).toEqual({ by: 'gateway', code: 1008, reason });
  });

  it('closes both sides with 1008 at maxSessionMs, however busy', async () => {
    harness.options = { ...defaults, maxSessionMs: 500 };
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    const chatting = setInterval(() => client.send('busy'), 20);
    const reason = 'session reached the Tunnel\'s maxSessionSeconds (1 s)';
    try {
      expect(await clientClosed).toEqual({ code: 1008, reason });
    } finally {
      clearInterval(chatting);
    }
    expect(await browserClosed).toEqual({ code: 1008, reason });
    expect(await s.done).toEqual({ by: 'gateway', code: 1008, reason });
  });

  it('passes the client\'s close code and reason to the browser, and the browser\'s answer back', async () => {
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    client.close(4001, 'done with it');
    expect(await browserClosed).toEqual({ code: 4001, reason: 'done with it' });
    expect(await clientClosed).toEqual({ code: 4001, reason: 'done with it' });
    expect(await s.done).toEqual({ by: 'client', code: 4001, reason: 'done with it' });
    expect(s.clientSocket.destroyed && s.browserSocket.destroyed).toBe(true);
  });

  it('passes the browser\'s close code and reason to the client, and the client\'s answer back', async () => {
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    const browserClosed = closeOf(browser);
    browser.close(1001, 'Browser closed');
    expect(await clientClosed).toEqual({ code: 1001, reason: 'Browser closed' });
    expect(await browserClosed).toEqual({ code: 1001, reason: 'Browser closed' });
    expect(await s.done).toEqual({ by: 'browser', code: 1001, reason: 'Browser closed' });
  });

  it('passes a close without a code as one (1005)', async () => {
    const { client, browser, session: s } = await session();
    const browserClosed = closeOf(browser);
    client.close();
    expect((await browserClosed).code).toBe(1005);
    expect(await s.done).toEqual({ by: 'client', code: 1005, reason: '' });
  });

  it('closes the client with 1014 when the browser\'s connection ends without a close frame', async () => {
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    browser.terminate();
    const reason = 'the browser went away (its pod was lost)';
    expect(await clientClosed).toEqual({ code: 1014, reason });
    expect(await s.done).toEqual({ by: 'browser', code: 1014, reason });
  });

  it('closes the browser (a close frame without a code) when the client\'s connection ends without one', async () => {
    const { client, browser, session: s } = await session();
    const browserClosed = closeOf(browser);
    client.terminate();
    expect((await browserClosed).code).toBe(1005);
    expect(await s.done).toEqual({ by: 'client', code: 1006, reason: '' });
  });

  it('closes both sides when the gateway closes the session, with the code it gives (1014 tells the client only)', async () => {
    const first = await session();
    const closed = [closeOf(first.client), closeOf(first.browser)];
    first.session.close(1001, 'the gateway is shutting down: reconnect');
    expect(await Promise.all(closed)).toEqual([
      { code: 1001, reason: 'the gateway is shutting down: reconnect' },
      { code: 1001, reason: 'the gateway is shutting down: reconnect' },
    ]);
    expect(await first.session.done).toEqual({ by: 'gateway', code: 1001, reason: 'the gateway is shutting down: reconnect' });

    const second = await session();
    const closedToo = [closeOf(second.client), closeOf(second.browser)];
    second.session.close(1014, 'upstream trouble');
    expect(await Promise.all(closedToo)).toEqual([
      { code: 1014, reason: 'upstream trouble' },
      { code: 1000, reason: 'upstream trouble' },
    ]);
  });

  it('stops reading the browser while the client reads nothing, instead of buffering what the browser sends', async () => {
    const { client, browser, session: s } = await session();
    client.pause();
    const chunk = randomBytes(1 << 20);
    let gatewayBuffered = 0;
    const watch = setInterval(() => (gatewayBuffered = Math.max(gatewayBuffered, s.clientSocket.writableLength)), 5);
    try {
      for (let i = 0; i < 64; i++) browser.send(chunk);
      for (let i = 0; i < 100 && !s.browserSocket.isPaused(); i++) await sleep(20);
      expect(s.browserSocket.isPaused()).toBe(true);
      await sleep(300);
      // What the gateway does not read stays with the sender: most of the 64 MiB is still in the browser's socket.
      expect(browser.bufferedAmount).toBeGreaterThan(32 << 20);
      expect(gatewayBuffered).toBeLessThan(1 << 20);
      const all = messages(client, 64);
      client.resume();
      const got = await all;
      expect(got.every((m) => m.data.equals(chunk))).toBe(true);
    } finally {
      clearInterval(watch);
    }
  });

  it('counts the bytes it forwards each way as they went on the wire, headers included', async () => {
    const { client, browser } = await session();
    const before = { ...harness.bytes };
    const atBrowser = messages(browser, 2);
    client.send('hello'); // 2 header bytes, a 4-byte mask, 5 of payload
    client.send(Buffer.alloc(200)); // 2 + 2 (16-bit length) + 4 + 200
    await atBrowser;
    const atClient = messages(client, 1);
    browser.send(Buffer.alloc(70_000)); // 2 + 8 (64-bit length) + 70,000, unmasked
    await atClient;
    expect(harness.bytes.to_browser - before.to_browser).toBe(11 + 208);
    expect(harness.bytes.to_client - before.to_client).toBe(70_010);
  });

  it('pings quiet sides and keeps their pongs to itself; a pong of the client\'s own reaches the browser', async () => {
    harness.options = { ...defaults, pingIntervalMs: 100 };
    const { client, browser, session: s } = await session();
    const pings = { client: 0, browser: 0 };
    const pongs = { client: 0, browser: 0 };
    client.on('ping', () => pings.client++);
    browser.on('ping', () => pings.browser++);
    client.on('pong', () => pongs.client++);
    const unsolicited = new Promise<Buffer>((resolve) => browser.on('pong', (data) => {
      pongs.browser++;
      resolve(data);
    }));
    await sleep(900);
    expect(pings.client).toBeGreaterThan(2);
    expect(pings.browser).toBeGreaterThan(2);
    expect(pongs).toEqual({ client: 0, browser: 0 });
    client.pong('mine');
    expect((await unsolicited).toString()).toBe('mine');
    // Both answered every ping: the session is still open.
    const echoed = messages(client, 1);
    browser.send('alive');
    expect((await echoed)[0]?.data.toString()).toBe('alive');
    let ended = false;
    void s.done.then(() => (ended = true));
    expect(ended).toBe(false);
  });

  it('puts a ping that falls due in the middle of a frame after that frame, not inside it', async () => {
    // A browser that writes only what the test writes (no pongs of its own), one frame in 30 pieces 10 ms apart:
    // two ping rounds fall due while it is half through, and the browser, heard every round, is not pinged.
    const quiet = await Harness.start({ autoPong: false });
    try {
      quiet.options = { ...defaults, pingIntervalMs: 100 };
      const { client, browser } = await quiet.open();
      const events: string[] = [];
      client.on('ping', () => events.push('ping'));
      client.on('message', (data: Buffer) => events.push(`message of ${data.length} bytes`));
      const errors: Error[] = [];
      client.on('error', (err) => errors.push(err));
      const socket = (browser as unknown as { _socket: Socket })._socket;
      const payload = randomBytes(300_000);
      const whole = frame(0x2, payload);
      const got = messages(client, 1);
      for (let i = 0; i < 30; i++) {
        if (i === 29) expect(events).toEqual([]);
        socket.write(whole.subarray(i * 10_000, i === 29 ? whole.length : (i + 1) * 10_000));
        await sleep(10);
      }
      expect((await got)[0]?.data).toEqual(payload);
      await sleep(20);
      expect(errors).toEqual([]);
      expect(events.slice(0, 2)).toEqual(['message of 300000 bytes', 'ping']);
      client.terminate();
    } finally {
      await quiet.stop();
    }
  });

  it('closes the browser with 1001 when the client answers nothing to its ping', async () => {
    harness.options = { ...defaults, pingIntervalMs: 100 };
    const { client, browser, session: s } = await session();
    const browserClosed = closeOf(browser);
    client.pause(); // reads nothing, so answers nothing
    const closed = await browserClosed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/^the client went away \(it answered no ping/);
    expect((await s.done).by).toBe('client');
  });

  it('closes the client with 1014 when the browser answers nothing to its ping', async () => {
    harness.options = { ...defaults, pingIntervalMs: 100 };
    const { client, browser, session: s } = await session();
    const clientClosed = closeOf(client);
    browser.pause();
    const closed = await clientClosed;
    expect(closed.code).toBe(1014);
    expect(closed.reason).toMatch(/^the browser went away \(it answered no ping/);
    expect(await s.done).toMatchObject({ by: 'browser', code: 1014 });
  });
});

describe('a client that breaks the protocol', () => {
  const key = Buffer.from([1, 2, 3, 4]);
  const cases: [string, Buffer, string][] = [
    ['an unmasked frame', frame(0x1, Buffer.from('hi')), 'a client frame must be masked'],
    ['reserved bits without an extension', frame(0x1, Buffer.from('hi'), { rsv: 4, key }), 'reserved bits set, but no extension was negotiated'],
    ['an unknown opcode', frame(0x3, Buffer.from('hi'), { key }), 'unknown opcode 3'],
    ['a control frame over 125 bytes', frame(0x9, Buffer.alloc(126), { key }), 'a control frame\'s payload is at most 125 bytes'],
    ['a fragmented control frame', frame(0x9, Buffer.alloc(1), { key, fin: false }), 'a control frame must not be fragmented'],
    ['a continuation without a message', frame(0x0, Buffer.from('hi'), { key }), 'a continuation frame without a message to continue'],
    ['a close frame with a code that may not be sent', frame(0x8, Buffer.from([0x03, 0xee]), { key }), 'close code 1006 may not be sent'],
  ];
  for (const [what, bytes, problem] of cases) {
    it(`is closed with 1002 for ${what}, and so is its browser`, async () => {
      const raw = await harness.raw();
      const browserClosed = closeOf(raw.browser);
      let forwarded = 0;
      raw.browser.on('message', () => forwarded++);
      // A good message first, split in the middle of its header: it gets through.
      const good = frame(0x1, Buffer.from('fine'), { key });
      raw.socket.write(good.subarray(0, 1));
      await sleep(20);
      raw.socket.write(Buffer.concat([good.subarray(1), bytes]));
      const reason = `client protocol error: ${problem}`;
      expect(await browserClosed).toEqual({ code: 1002, reason });
      for (let i = 0; i < 100 && !closeFrame(raw.received()); i++) await sleep(10);
      expect(closeFrame(raw.received())).toEqual({ code: 1002, reason });
      expect(forwarded).toBe(1);
      await raw.closed;
      expect(await raw.session.done).toEqual({ by: 'gateway', code: 1002, reason });
    });
  }
});
