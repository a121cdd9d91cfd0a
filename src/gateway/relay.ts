// Relays WebSocket messages between a client and its leased browser. The
// gateway ends the WebSocket on both sides (rather than piping bytes) so that
// it can bound message size, notice silence, count bytes and close each side
// with a code that says what happened.
import { WebSocket } from 'ws';

/** Close codes the gateway sends to clients (RFC 6455 §7.4 and the IANA registry). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  badGateway: 1014,
} as const;

/** Above this many buffered bytes on one side, reading from the other side pauses. */
const HIGH_WATER = 8 * 1024 * 1024;
/** Pings both sides this often; a side that did not answer the previous ping is dead. */
const PING_MS = 15_000;

export interface RelayOptions {
  idleTimeoutMs: number;
  maxSessionMs: number;
  onBytes: (direction: 'to_browser' | 'to_client', bytes: number) => void;
}

/** Why a relay ended, for logs: who closed, with which code. */
export interface RelayEnd {
  by: 'client' | 'browser' | 'gateway';
  code: number;
  reason: string;
}

/**
 * Relays until either side closes or a limit is reached, then closes the
 * other side and resolves. A browser that goes away without a close frame
 * (its pod vanished) closes the client with 1014; a client that vanishes
 * closes the browser side normally.
 */
export function relay(client: WebSocket, browser: WebSocket, options: RelayOptions): {
  done: Promise<RelayEnd>;
  close: (code: number, reason: string) => void;
} {
  let finish: (end: RelayEnd) => void = () => undefined;
  const done = new Promise<RelayEnd>((resolve) => (finish = resolve));
  let ended = false;
  const alive = new Map<WebSocket, boolean>([[client, true], [browser, true]]);

  const end = (result: RelayEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    clearTimeout(session);
    clearInterval(pinger);
    closeSide(client, result.by === 'client' ? undefined : result);
    closeSide(browser, result.by === 'browser' ? undefined : { ...result, code: browserCloseCode(result.code) });
    finish(result);
  };

  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      const seconds = Math.round(options.idleTimeoutMs / 1000);
      end({ by: 'gateway', code: CLOSE.policy, reason: `idle timeout: no messages for ${seconds} s` });
    }, options.idleTimeoutMs);
  };
  touch();
  const session = setTimeout(() => {
    const seconds = Math.round(options.maxSessionMs / 1000);
    end({ by: 'gateway', code: CLOSE.policy, reason: `session reached the Tunnel's maxSessionSeconds (${seconds} s)` });
  }, options.maxSessionMs);

  const pinger = setInterval(() => {
    for (const [socket, answered] of alive) {
      if (!answered) {
        const by = socket === client ? 'client' : 'browser';
        end({ by, code: by === 'browser' ? CLOSE.badGateway : CLOSE.goingAway, reason: `${by} stopped answering pings` });
        return;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, PING_MS);
  for (const socket of [client, browser]) socket.on('pong', () => alive.set(socket, true));

  const pipe = (from: WebSocket, to: WebSocket, direction: 'to_browser' | 'to_client') => {
    from.on('message', (data: Buffer, isBinary: boolean) => {
      touch();
      options.onBytes(direction, data.length);
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(data, { binary: isBinary }, () => {
        if (to.bufferedAmount < HIGH_WATER && from.isPaused) from.resume();
      });
      if (to.bufferedAmount >= HIGH_WATER) from.pause();
    });
  };
  pipe(client, browser, 'to_browser');
  pipe(browser, client, 'to_client');

  client.on('close', (code: number, reason: Buffer) => end({ by: 'client', code, reason: reason.toString() }));
  browser.on('close', (code: number, reason: Buffer) => {
    // 1006: the TCP connection ended without a close frame, the browser pod is gone.
    if (code === 1006) end({ by: 'browser', code: CLOSE.badGateway, reason: 'the browser went away (its pod was lost)' });
    else end({ by: 'browser', code, reason: reason.toString() });
  });
  client.on('error', (err: Error & { code?: string }) => {
    const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CLOSE.tooBig : CLOSE.policy;
    end({ by: 'gateway', code, reason: `client protocol error: ${err.message}` });
  });
  browser.on('error', (err: Error) => {
    end({ by: 'gateway', code: CLOSE.badGateway, reason: `browser connection error: ${err.message}` });
  });

  return { done, close: (code, reason) => end({ by: 'gateway', code, reason }) };
}

/** Codes that may be sent in a close frame; the others (1005, 1006, 1015) are only ever observed. */
const sendable = (code: number) =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

/** The browser side hears a normal close unless the client sent a code of its own. */
const browserCloseCode = (code: number) => (code === CLOSE.badGateway ? CLOSE.normal : code);

/** A close reason fits in 123 bytes: ASCII only, cut at 120. */
const closeReason = (reason: string) => reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);

function closeSide(socket: WebSocket, how: { code: number; reason: string } | undefined): void {
  if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
  if (socket.readyState !== WebSocket.OPEN) {
    socket.terminate();
    return;
  }
  if (how && sendable(how.code)) socket.close(how.code, closeReason(how.reason));
  else socket.close();
  // A peer that never answers the close frame must not hold the socket.
  setTimeout(() => socket.terminate(), 5_000).unref();
}
