// The two WebSocket opening handshakes of a session (RFC 6455 §4): the gateway
// opens the browser side as a client, then answers the client's upgrade as a
// server, and hands both raw sockets to the relay. No extension is offered on
// either side: permessage-deflate would make frames opaque to the relay, which
// forwards them as they come.
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RawSide } from './relay.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2). */
export const acceptKey = (key: string) => createHash('sha1').update(key + GUID).digest('base64');

/** The browser refused the handshake (`status` is its answer) or gave none that is a WebSocket (502). */
export class UpstreamRefused extends Error {
  readonly status: number;

  constructor(status: number, reason: string) {
    super(reason);
    this.status = status;
  }
}

export interface Upstream extends RawSide {
  /** The subprotocol the browser chose among the client's, if any. */
  protocol?: string;
}

const BODY_LIMIT = 4096;

/**
 * Opens a WebSocket to `endpoint` (ws:// or wss://) and returns its raw
 * socket. `headers` go with the upgrade request (Sec-WebSocket-Protocol
 * among them, when the client offered subprotocols). A non-101 answer
 * rejects with its status and body; no answer within `timeoutMs`, a
 * connection error or an answer that is not a valid handshake rejects with 502.
 */
export function openUpstream(endpoint: string, headers: Record<string, string>, timeoutMs: number): Promise<Upstream> {
  const url = new URL(endpoint);
  const key = randomBytes(16).toString('base64');
  const request = url.protocol === 'wss:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (url.protocol === 'wss:' ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      // A connection of its own, never a pooled one: it becomes the session's.
      agent: false,
      headers: {
        ...headers,
        'connection': 'Upgrade',
        'upgrade': 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no WebSocket handshake within ${timeoutMs} ms`)), timeoutMs);
    const fail = (status: number, reason: string) => {
      clearTimeout(timer);
      reject(new UpstreamRefused(status, reason));
    };
    req.once('error', (err) => fail(502, `the browser did not answer: ${err.message}`));
    req.once('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body = (body + chunk).slice(0, BODY_LIMIT)));
      res.once('end', () => {
        const status = res.statusCode ?? 502;
        fail(status, body.trim() || `the browser answered ${status}`);
      });
    });
    req.once('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      const problem = upgradeProblem(res, key, headers['sec-websocket-protocol']);
      if (problem) {
        socket.destroy();
        return fail(502, `the browser's WebSocket handshake is invalid: ${problem}`);
      }
      clearTimeout(timer);
      // Until the relay takes it: an error on the idle socket must not go unhandled.
      socket.on('error', () => socket.destroy());
      const protocol = res.headers['sec-websocket-protocol'];
      resolve({ socket, head, ...(protocol ? { protocol } : {}) });
    });
    req.end();
  });
}

/** What is wrong with the browser's 101 answer (§4.1, the client's checks); undefined when nothing is. */
function upgradeProblem(res: IncomingMessage, key: string, offered: string | undefined): string | undefined {
  if (res.headers.upgrade?.toLowerCase() !== 'websocket') return 'Upgrade is not websocket';
  if (res.headers['sec-websocket-accept'] !== acceptKey(key)) return 'wrong Sec-WebSocket-Accept';
  if (res.headers['sec-websocket-extensions']) return 'an extension that was not offered';
  const chosen = res.headers['sec-websocket-protocol'];
  if (chosen !== undefined && !protocolsOf(offered).includes(chosen)) return `subprotocol ${chosen} was not offered`;
  return undefined;
}

const protocolsOf = (header: string | undefined) => (header ?? '').split(',').map((p) => p.trim()).filter(Boolean);

/**
 * Answers a client's upgrade request, already checked by handshakeProblem
 * (routing.ts), with 101: its Sec-WebSocket-Accept, the subprotocol the
 * browser chose, and no extension whatever the client offered.
 */
export function acceptClient(
  socket: Duplex,
  key: string,
  protocol: string | undefined,
  headers: Record<string, string> = {},
): void {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
    ...(protocol ? [`Sec-WebSocket-Protocol: ${protocol}`] : []),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}
