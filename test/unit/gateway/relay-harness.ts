// A gateway in miniature for the relay's tests: a real `ws` server as the
// browser, and an HTTP server on 127.0.0.1 that does what the Gateway does
// once a browser is leased (handshake.ts, then relay.ts), with no mocks
// between the sockets.
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { acceptClient, openUpstream } from '../../../src/gateway/handshake.ts';
import { type Direction, relay, type RelayEnd, type RelayOptions } from '../../../src/gateway/relay.ts';

export interface Session {
  done: Promise<RelayEnd>;
  close: (code: number, reason: string) => void;
  /** The gateway's sockets: to the client, and to the browser. */
  clientSocket: Duplex;
  browserSocket: Duplex;
}

export interface Opened {
  client: WebSocket;
  browser: WebSocket;
  session: Session;
}

export interface RawClient {
  socket: Socket;
  received: () => Buffer;
  closed: Promise<void>;
  session: Session;
  browser: WebSocket;
}

export class Harness {
  readonly browsers: WebSocketServer;
  readonly gateway: Server;
  readonly bytes: Record<Direction, number> = { to_browser: 0, to_client: 0 };
  options: Omit<RelayOptions, 'onBytes'> = { idleTimeoutMs: 60_000, maxSessionMs: 600_000, maxMessageBytes: 1 << 20 };
  private readonly sessions: Session[] = [];
  private readonly all: Session[] = [];
  private readonly waiting: ((s: Session) => void)[] = [];

  private constructor(browsers: WebSocketServer) {
    this.browsers = browsers;
    this.gateway = createServer();
    this.gateway.on('upgrade', (req, socket, head) => {
      void (async () => {
        const protocol = req.headers['sec-websocket-protocol'];
        const upstream = await openUpstream(`${this.browserUrl}${req.url}`, protocol ? { 'sec-websocket-protocol': protocol } : {},
          5_000);
        acceptClient(socket, req.headers['sec-websocket-key'] as string, upstream.protocol);
        const { done, close } = relay({ socket, head }, upstream, {
          ...this.options,
          onBytes: (direction, n) => (this.bytes[direction] += n),
        });
        const session = { done, close, clientSocket: socket, browserSocket: upstream.socket };
        this.all.push(session);
        const waiter = this.waiting.shift();
        if (waiter) waiter(session);
        else this.sessions.push(session);
      })().catch(() => socket.destroy());
    });
  }

  static async start(browserOptions: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<Harness> {
    const browsers = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, ...browserOptions });
    await new Promise((resolve) => browsers.once('listening', resolve));
    const harness = new Harness(browsers);
    await new Promise<void>((resolve) => harness.gateway.listen(0, '127.0.0.1', resolve));
    return harness;
  }

  get browserUrl(): string {
    return `ws://127.0.0.1:${(this.browsers.address() as AddressInfo).port}`;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.gateway.address() as AddressInfo).port}`;
  }

  nextSession(): Promise<Session> {
    const ready = this.sessions.shift();
    return ready ? Promise.resolve(ready) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A `ws` client through the relay, the browser's end of it, and the gateway's session. */
  async open(clientOptions: ConstructorParameters<typeof WebSocket>[2] = {}, protocols?: string[]): Promise<Opened> {
    const browser = new Promise<WebSocket>((resolve) => this.browsers.once('connection', resolve));
    const client = new WebSocket(`${this.url}/path?q=1`, protocols, { maxPayload: 256 << 20, ...clientOptions });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    return { client, browser: await browser, session: await this.nextSession() };
  }

  /**
   * A client that speaks raw bytes after a handshake of its own, for frames a
   * `ws` client would never send: what it reads comes in `received`.
   */
  async raw(): Promise<RawClient> {
    const browser = new Promise<WebSocket>((resolve) => this.browsers.once('connection', resolve));
    const address = this.gateway.address() as AddressInfo;
    const socket = connect(address.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write('GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const session = await this.nextSession();
    const all = () => Buffer.concat(chunks);
    for (let i = 0; i < 100 && !all().includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
    const handshakeEnd = all().indexOf('\r\n\r\n') + 4;
    return { socket, received: () => all().subarray(handshakeEnd), closed, session, browser: await browser };
  }

  async stop(): Promise<void> {
    // Upgraded sockets are the relay's, not the HTTP server's: closeAllConnections leaves them.
    for (const s of this.all) {
      s.clientSocket.destroy();
      s.browserSocket.destroy();
    }
    for (const ws of this.browsers.clients) ws.terminate();
    await new Promise((resolve) => this.browsers.close(resolve));
    this.gateway.closeAllConnections();
    await new Promise((resolve) => this.gateway.close(resolve));
  }
}

/** The code and reason a `ws` socket closes with. */
export const closeOf = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
  });

/** The next `count` messages of a `ws` socket, with whether each was binary. */
export const messages = (ws: WebSocket, count: number) =>
  new Promise<{ data: Buffer; binary: boolean }[]>((resolve) => {
    const got: { data: Buffer; binary: boolean }[] = [];
    const onMessage = (data: Buffer, binary: boolean) => {
      got.push({ data, binary });
      if (got.length < count) return;
      ws.off('message', onMessage);
      resolve(got);
    };
    ws.on('message', onMessage);
  });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
