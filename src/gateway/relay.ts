// Relays a WebSocket between a client and its leased browser as raw bytes,
// after both opening handshakes (handshake.ts). The gateway is the server of
// the client and a client of the browser, so each side's frames are already
// in the form the other side expects: the client's masked frames go to the
// browser as they came, the browser's unmasked ones to the client. Only frame
// headers are read (frames.ts), which is enough to bound message size, check
// the client keeps to the protocol, notice silence, count bytes and close each
// side with a code that says what happened; payloads are never unmasked,
// copied or re-framed (close and pong frames aside, at most 125 bytes each).
// Text is not checked for UTF-8 here: the receiving endpoint does that (§8.1).
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import {
  closePayload,
  controlFrame,
  controlPayload,
  FrameScanner,
  isData,
  OPCODE,
  parseClose,
  type Piece,
} from './frames.ts';

/** Close codes the gateway sends to clients (RFC 6455 §7.4 and the IANA registry). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  badGateway: 1014,
} as const;

/** Pings each side this often, unless it sent something meanwhile; a side that sent nothing since its ping is dead. */
const PING_MS = 15_000;
/** How long the sides may take to finish their close handshakes before their sockets are destroyed. */
const CLOSE_MS = 5_000;

export type Direction = 'to_browser' | 'to_client';

export interface RelayOptions {
  /** Closes both sides with 1008 after this long without a data frame either way (control frames do not count). */
  idleTimeoutMs: number;
  maxSessionMs: number;
  /** A message (all its fragments) over this many payload bytes is never forwarded: its sender is closed with 1009. */
  maxMessageBytes: number;
  /**
   * Bytes forwarded as they went on the wire (frame headers and the sides'
   * own control frames included, the gateway's pings and close frames not);
   * called once per chunk written, so keep it to an addition
   * (GatewayMetrics.openSessionBytes).
   */
  onBytes: (direction: Direction, bytes: number) => void;
  /** 15 s; tests shorten it. */
  pingIntervalMs?: number;
}

/** One side's raw connection once its handshake is done: its socket and the bytes read past the handshake. */
export interface RawSide {
  socket: Duplex;
  head: Buffer;
}

/** Why a relay ended, for logs: who closed, with which code. */
export interface RelayEnd {
  by: 'client' | 'browser' | 'gateway';
  code: number;
  reason: string;
}

type Name = 'client' | 'browser';
type Close = { code: number; reason: string };

/** What happens to the bytes of the frame a side is sending. */
type Mode = 'forward' | 'drop' | 'collect';

interface Side {
  name: Name;
  socket: Duplex;
  scanner: FrameScanner;
  /** Of the bytes this side sends. */
  direction: Direction;
  peer: Side;
  mode: Mode;
  /** The control frame being read whole (mode collect): a close or a pong, at most 139 bytes. */
  collected: Buffer[];
  /** Sent any byte since the last ping round. */
  heard: boolean;
  /** When the gateway's last ping went to this side, if it has not been heard from since that round began. */
  pingedAt: number | undefined;
  /** A ping waits for the stream to this side to reach the end of the frame it is in. */
  pingDue: boolean;
  /** Reading paused until the peer's socket drains. */
  paused: boolean;
  closeSent: boolean;
  closeReceived: boolean;
  /** Its connection ended or failed, or the gateway gave up on it. */
  gone: boolean;
  closed: boolean;
}

/**
 * Relays until either side closes or a limit is reached, then closes the
 * other side, lets both finish their close handshakes (at most 5 s) and
 * resolves once both sockets are closed. A close frame from one side is
 * forwarded to the other as it is, and the answer comes back the same way,
 * so each side's close code and reason reach the other unchanged. A browser
 * whose connection ends without a close frame (its pod vanished) closes the
 * client with 1014; a client that vanishes closes the browser side with no code.
 */
export function relay(clientSide: RawSide, browserSide: RawSide, options: RelayOptions): {
  done: Promise<RelayEnd>;
  close: (code: number, reason: string) => void;
} {
  const side = (name: Name, raw: RawSide): Side => ({
    name,
    socket: raw.socket,
    scanner: new FrameScanner(name === 'client' ? 'client' : 'server', options.maxMessageBytes),
    direction: name === 'client' ? 'to_browser' : 'to_client',
    peer: undefined as unknown as Side,
    mode: 'forward',
    collected: [],
    heard: false,
    pingedAt: undefined,
    pingDue: false,
    paused: false,
    closeSent: false,
    closeReceived: false,
    gone: false,
    closed: false,
  });
  const client = side('client', clientSide);
  const browser = side('browser', browserSide);
  client.peer = browser;
  browser.peer = client;

  let settle: (end: RelayEnd) => void = () => undefined;
  const done = new Promise<RelayEnd>((resolve) => (settle = resolve));
  /** Set once the session is over; the sides may still be finishing their close handshakes. */
  let ended: RelayEnd | undefined;
  /** Frames go from one side to the other; false once the gateway closed the session itself. */
  let forwarding = true;
  const pingTag = randomBytes(8);
  const pingMs = options.pingIntervalMs ?? PING_MS;

  // One timer for idleness, re-armed only when it fires: a data frame merely notes the time.
  let lastMessageAt = performance.now();
  const checkIdle = () => {
    const quiet = performance.now() - lastMessageAt;
    if (quiet < options.idleTimeoutMs) {
      idle = setTimeout(checkIdle, options.idleTimeoutMs - quiet);
      return;
    }
    const seconds = Math.round(options.idleTimeoutMs / 1000);
    closeBoth({ by: 'gateway', code: CLOSE.policy, reason: `idle timeout: no messages for ${seconds} s` });
  };
  let idle = setTimeout(checkIdle, options.idleTimeoutMs);
  const session = setTimeout(() => {
    const seconds = Math.round(options.maxSessionMs / 1000);
    closeBoth({ by: 'gateway', code: CLOSE.policy, reason: `session reached the Tunnel's maxSessionSeconds (${seconds} s)` });
  }, options.maxSessionMs);
  const pinger = setInterval(() => {
    for (const s of [client, browser]) {
      // A side we stopped reading (its peer is slow) may well have answered: it counts as heard.
      if (s.heard || s.paused) {
        s.heard = false;
        s.pingedAt = undefined;
      } else if (s.pingedAt !== undefined) {
        // A ping that had to wait for the end of a frame gets at least half a round for its answer.
        if (performance.now() - s.pingedAt < pingMs / 2) continue;
        const seconds = Math.round(pingMs / 1000);
        return s === browser
          ? lose(browser, { by: 'browser', code: CLOSE.badGateway, reason: `the browser went away (it answered no ping for ${seconds} s)` })
          : lose(client, { by: 'client', code: CLOSE.goingAway, reason: `the client went away (it answered no ping for ${seconds} s)` });
      } else {
        s.pingDue = true;
        sendPingIfDue(s);
      }
    }
  }, pingMs);
  let closeTimer: NodeJS.Timeout | undefined;

  /** The stream to `s` is between frames: a frame of the gateway's own may go in. */
  const atBoundary = (s: Side) => s.peer.mode !== 'forward' || s.peer.scanner.atBoundary;

  const sendPingIfDue = (s: Side) => {
    if (!s.pingDue || !atBoundary(s) || !s.socket.writable || ended) return;
    s.pingDue = false;
    s.pingedAt = performance.now();
    s.socket.write(controlFrame(OPCODE.ping, pingTag, s === client ? 'client' : 'server'));
  };

  /** Writes [start, end) of a chunk from `from` to its peer; pauses `from` while the peer's socket is full. */
  const forward = (from: Side, buf: Buffer, start: number, end: number) => {
    const to = from.peer;
    if (end <= start || !to.socket.writable) return;
    options.onBytes(from.direction, end - start);
    const written = to.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    if (!written && !from.paused) {
      from.paused = true;
      from.socket.pause();
      to.socket.once('drain', () => {
        from.paused = false;
        from.socket.resume();
      });
    }
  };

  const modeFor = (from: Side, opcode: number): Mode => {
    if (from.closeReceived) return 'drop'; // nothing may follow a close frame (§5.5.1)
    if (opcode === OPCODE.close) return 'collect';
    if (!forwarding) return 'drop';
    return opcode === OPCODE.pong ? 'collect' : 'forward';
  };

  const onData = (from: Side, chunk: Buffer) => {
    from.heard = true;
    const buf = from.scanner.feed(chunk);
    /** Start of the bytes to forward in one write, once a piece that is not forwarded (or the chunk's end) comes. */
    let run = 0;
    let pos = 0;
    for (let piece: Piece | undefined; (piece = from.scanner.next(buf, pos));) {
      if (piece.kind === 'problem') {
        forward(from, buf, run, piece.start);
        return brokeProtocol(from, piece.reason, piece.tooBig);
      }
      if (piece.kind === 'header') {
        const { opcode } = piece.header;
        if (isData(opcode)) lastMessageAt = performance.now();
        from.mode = modeFor(from, opcode);
      }
      if (from.mode !== 'forward') {
        forward(from, buf, run, piece.start);
        run = piece.end;
        if (from.mode === 'collect') from.collected.push(Buffer.from(buf.subarray(piece.start, piece.end)));
      }
      pos = piece.end;
      const frameEnds = piece.kind === 'payload' ? piece.last : piece.header.payloadBytes === 0;
      if (!frameEnds) continue;
      if (from.mode === 'forward' && from.peer.pingDue) {
        forward(from, buf, run, pos);
        run = pos;
        sendPingIfDue(from.peer);
      } else if (from.mode === 'collect') {
        const frame = Buffer.concat(from.collected);
        from.collected = [];
        if (!controlFrameFrom(from, frame)) return;
      }
    }
    forward(from, buf, run, pos);
  };

  /** A whole close or pong frame from `from`; false when reading from it should stop. */
  const controlFrameFrom = (from: Side, frame: Buffer): boolean => {
    const to = from.peer;
    const payload = controlPayload(frame);
    if (((frame[0] as number) & 0xf) === OPCODE.pong) {
      // The answer to the gateway's own ping is the gateway's; any other pong is the peer's.
      if (forwarding && !payload.equals(pingTag)) forward(from, frame, 0, frame.length);
      return true;
    }
    const close = parseClose(payload);
    if ('problem' in close) {
      brokeProtocol(from, close.problem, false);
      return false;
    }
    from.closeReceived = true;
    if (forwarding && !to.closeSent && !to.gone) {
      forward(from, frame, 0, frame.length);
      to.closeSent = true;
    }
    if (!ended) finish({ by: from.name, ...close });
    handshakeDone(from);
    handshakeDone(to);
    return true;
  };

  /** Both close frames went through on this side: its connection is over. */
  const handshakeDone = (s: Side) => {
    if (!s.closeSent || !s.closeReceived || s.gone) return;
    s.gone = true;
    s.socket.end(() => s.socket.destroy());
  };

  /**
   * Sends the gateway's own close frame to `s`. When the stream to `s` is in
   * the middle of a frame, no frame can go in before that frame's remaining
   * bytes, which are not coming any more: the socket is ended instead, and
   * `s` reads a connection closed without a close frame (1006).
   */
  const sendClose = (s: Side, close: Close) => {
    if (s.closeSent || s.gone) return;
    s.closeSent = true;
    if (!atBoundary(s)) {
      s.gone = true;
      s.socket.end(() => s.socket.destroy());
      return;
    }
    s.socket.write(controlFrame(OPCODE.close, closePayload(close.code, close.reason), s === client ? 'client' : 'server'));
    handshakeDone(s);
  };

  const finish = (end: RelayEnd) => {
    ended = end;
    clearTimeout(idle);
    clearTimeout(session);
    clearInterval(pinger);
    closeTimer = setTimeout(() => {
      for (const s of [client, browser]) s.socket.destroy();
    }, CLOSE_MS).unref();
  };

  /**
   * The gateway ends the session: no frame is forwarded any more, each side
   * gets a close frame (the browser `toBrowser`, by default the same unless
   * it is 1014, which tells a client only) and its answer is read and dropped.
   */
  const closeBoth = (end: RelayEnd, toBrowser: Close = { code: browserCloseCode(end.code), reason: end.reason }) => {
    if (ended) return;
    finish(end);
    stopForwarding();
    sendClose(client, end);
    sendClose(browser, toBrowser);
  };

  const stopForwarding = () => {
    forwarding = false;
    // The rest of a frame in flight goes nowhere now; a close frame being read is still read.
    for (const s of [client, browser]) if (s.mode === 'forward') s.mode = 'drop';
  };

  /** `s` is gone without a close handshake (its connection ended or failed, or it stopped answering pings). */
  const lose = (s: Side, end: RelayEnd) => {
    if (s.gone) return;
    s.gone = true;
    s.socket.destroy();
    if (!ended) finish(end);
    stopForwarding();
    sendClose(s.peer, closeFor(s.peer, ended as RelayEnd));
  };

  /**
   * `from` sent a frame that breaks the protocol or the size limit: both
   * sides are closed, and the gateway ends its half of `from`'s connection
   * right after the close frame, without waiting for an answer it could not
   * find (§7.1.7: the frames after a bad one cannot be told apart). What
   * `from` still sends is read and dropped until it ends its half too (or
   * the 5 s are up): a socket destroyed with unread bytes would answer with a
   * reset, which can reach the peer before it has read the close frame.
   */
  const brokeProtocol = (from: Side, problem: string, tooBig: boolean) => {
    if (!ended && from === client) {
      closeBoth(tooBig
        ? { by: 'gateway', code: CLOSE.tooBig, reason: `message too big: ${problem}` }
        : { by: 'gateway', code: CLOSE.protocolError, reason: `client protocol error: ${problem}` });
    } else if (!ended) {
      closeBoth(
        { by: 'gateway', code: CLOSE.badGateway, reason: `browser connection error: ${problem}` },
        tooBig
          ? { code: CLOSE.tooBig, reason: `message too big: ${problem}` }
          : { code: CLOSE.protocolError, reason: `protocol error: ${problem}` },
      );
    }
    if (from.gone) return;
    from.gone = true;
    from.socket.end();
  };

  /** What `s` hears from the gateway once the session ended with `end`. */
  const closeFor = (s: Side, end: RelayEnd): Close => {
    if (end.by === s.name) return { code: end.code, reason: end.reason }; // the echo of its own close
    return s === browser ? { code: browserCloseCode(end.code), reason: end.reason } : end;
  };

  let closedCount = 0;
  for (const s of [client, browser]) {
    if ('setNoDelay' in s.socket && typeof s.socket.setNoDelay === 'function') s.socket.setNoDelay(true);
    s.socket.on('data', (chunk: Buffer) => onData(s, chunk));
    s.socket.on('end', () => lostConnection(s));
    s.socket.on('error', () => lostConnection(s));
    const onClose = () => {
      s.closed = true;
      lostConnection(s);
      if (++closedCount < 2) return;
      clearTimeout(closeTimer);
      settle(ended as RelayEnd);
    };
    if (s.socket.closed) onClose();
    else s.socket.once('close', onClose);
  }
  function lostConnection(s: Side): void {
    if (s.closeReceived || s.gone) {
      if (!s.closed) s.socket.destroy();
      return;
    }
    lose(s, s === browser
      ? { by: 'browser', code: CLOSE.badGateway, reason: 'the browser went away (its pod was lost)' }
      // 1006: the connection closed without a close frame (§7.1.5); the browser hears a close frame without a code.
      : { by: 'client', code: 1006, reason: '' });
  }
  if (clientSide.head.length > 0 && !client.gone) onData(client, clientSide.head);
  if (browserSide.head.length > 0 && !browser.gone) onData(browser, browserSide.head);

  return { done, close: (code, reason) => closeBoth({ by: 'gateway', code, reason }) };
}

/** The browser side hears a normal close unless the client sent a code of its own. */
const browserCloseCode = (code: number) => (code === CLOSE.badGateway ? CLOSE.normal : code);
