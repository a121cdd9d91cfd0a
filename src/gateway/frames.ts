// WebSocket frame headers (RFC 6455 §5.2), read without touching payloads: the
// relay forwards each side's frames as they came, and needs only to know where
// each frame starts and ends, what kind it is and how large its message gets.
//
// Written here rather than taken from npm: `ws` (its Receiver) and its forks
// such as `ws-parser` decode whole frames (unmask, buffer, check UTF-8), which
// is the cost this relay exists to avoid; no maintained package scans headers
// only and leaves the bytes in place.
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A control frame's payload is at most this long (§5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

export interface FrameHeader {
  fin: boolean;
  /** The three reserved bits (RSV1-3), as the low bits of a number; 0 unless an extension was negotiated. */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** 2 to 14: the header with its extended length and masking key. */
  headerBytes: number;
  /** Infinity for a 64-bit length past 2^53 - 1 (no limit lets such a frame through). */
  payloadBytes: number;
  /** The most significant bit of a 64-bit length, which §5.2 requires to be 0. */
  lengthMsbSet: boolean;
}

export const isControl = (opcode: number) => opcode >= 0x8;
export const isData = (opcode: number) => opcode <= OPCODE.binary;

/** The header at `offset`, or undefined when `buf` does not hold all of it yet. */
export function readHeader(buf: Uint8Array, offset: number): FrameHeader | undefined {
  const available = buf.length - offset;
  if (available < 2) return undefined;
  const b0 = buf[offset] as number;
  const b1 = buf[offset + 1] as number;
  const masked = (b1 & 0x80) !== 0;
  const short = b1 & 0x7f;
  const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
  const headerBytes = 2 + lengthBytes + (masked ? 4 : 0);
  if (available < headerBytes) return undefined;
  let payloadBytes = short;
  let lengthMsbSet = false;
  if (short === 126) {
    payloadBytes = ((buf[offset + 2] as number) << 8) | (buf[offset + 3] as number);
  } else if (short === 127) {
    const view = new DataView(buf.buffer, buf.byteOffset + offset + 2, 8);
    const high = view.getUint32(0);
    lengthMsbSet = high >= 0x8000_0000;
    payloadBytes = high > 0x1f_ffff ? Infinity : high * 2 ** 32 + view.getUint32(4);
  }
  const fin = (b0 & 0x80) !== 0;
  return { fin, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0xf, masked, headerBytes, payloadBytes, lengthMsbSet };
}

/**
 * What is wrong with a frame, given who sent it and whether a fragmented
 * message is in progress on that stream; undefined when nothing is. The relay
 * negotiates no extension, so every reserved bit must be 0 (§5.2).
 */
export function frameProblem(header: FrameHeader, sender: 'client' | 'server', inMessage: boolean): string | undefined {
  if (sender === 'client' && !header.masked) return 'a client frame must be masked';
  if (sender === 'server' && header.masked) return 'a server frame must not be masked';
  if (header.rsv !== 0) return 'reserved bits set, but no extension was negotiated';
  if (header.lengthMsbSet) return 'the most significant bit of a 64-bit length must be 0';
  const { opcode } = header;
  if (isControl(opcode)) {
    if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) return `unknown opcode ${opcode}`;
    if (!header.fin) return 'a control frame must not be fragmented';
    if (header.payloadBytes > MAX_CONTROL_PAYLOAD) return `a control frame's payload is at most ${MAX_CONTROL_PAYLOAD} bytes`;
    return undefined;
  }
  if (opcode > OPCODE.binary) return `unknown opcode ${opcode}`;
  if (opcode === OPCODE.continuation && !inMessage) return 'a continuation frame without a message to continue';
  if (opcode !== OPCODE.continuation && inMessage) return 'a new message before the last fragment of the previous one';
  return undefined;
}

/** One piece of a buffer handed to a FrameScanner, by position in that buffer. */
export type Piece =
  /** A frame's whole header at [start, end); its payload follows as payload pieces (none when it is empty). */
  | { kind: 'header'; header: FrameHeader; start: number; end: number } |
  /** Payload bytes of the current frame at [start, end); `last` when they end it. */
  { kind: 'payload'; start: number; end: number; last: boolean } |
  /**
   * The frame whose header starts at `start` breaks the protocol, or its message
   * would exceed the limit (`tooBig`). Nothing after `start` should be used.
   */
  { kind: 'problem'; reason: string; tooBig: boolean; start: number; end: number };

/**
 * Splits one direction's byte stream into frame headers and payload runs,
 * chunk by chunk, keeping only counters: no payload byte is copied or
 * read. A header split across chunks is held back (at most 13 bytes) and
 * handed out whole with the next chunk, so that a caller can decide about a
 * frame before forwarding any of it.
 *
 * Use: `const buf = scanner.feed(chunk)`, then `scanner.next(buf, pos)` from
 * pos 0, each time from the last piece's `end`, until it returns undefined.
 */
export class FrameScanner {
  private readonly sender: 'client' | 'server';
  private readonly maxMessageBytes: number;
  private held: Buffer | undefined;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  /** A text or binary message has begun and its last fragment has not come yet. */
  private inMessage = false;
  /** Payload bytes of the message in progress, its current frame's counted whole. */
  private messageBytes = 0;
  private failed = false;

  constructor(sender: 'client' | 'server', maxMessageBytes: number) {
    this.sender = sender;
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Between frames: the bytes handed out so far end exactly where a frame ends. */
  get atBoundary(): boolean {
    return this.remaining === 0;
  }

  /** The chunk to iterate over: `chunk` itself, or the held-back header bytes followed by it. */
  feed(chunk: Buffer): Buffer {
    if (this.held === undefined) return chunk;
    const buf = Buffer.concat([this.held, chunk]);
    this.held = undefined;
    return buf;
  }

  next(buf: Buffer, pos: number): Piece | undefined {
    if (pos >= buf.length || this.failed) return undefined;
    if (this.remaining > 0) {
      const end = Math.min(buf.length, pos + this.remaining);
      this.remaining -= end - pos;
      return { kind: 'payload', start: pos, end, last: this.remaining === 0 };
    }
    const header = readHeader(buf, pos);
    if (header === undefined) {
      // Copied: the caller may forward (and so hand away) the chunk it came in.
      this.held = Buffer.from(buf.subarray(pos));
      return undefined;
    }
    const problem = frameProblem(header, this.sender, this.inMessage);
    if (problem !== undefined) return this.fail(problem, false, pos);
    if (isData(header.opcode)) {
      const bytes = (header.opcode === OPCODE.continuation ? this.messageBytes : 0) + header.payloadBytes;
      if (bytes > this.maxMessageBytes) {
        return this.fail(`a message over the limit of ${this.maxMessageBytes} bytes`, true, pos);
      }
      this.messageBytes = bytes;
      this.inMessage = !header.fin;
    }
    this.remaining = header.payloadBytes;
    return { kind: 'header', header, start: pos, end: pos + header.headerBytes };
  }

  private fail(reason: string, tooBig: boolean, pos: number): Piece {
    this.failed = true;
    return { kind: 'problem', reason, tooBig, start: pos, end: pos };
  }
}

/** XORs `payload` with the 4-byte masking key (§5.3), in place; masking and unmasking are the same. */
export function mask(payload: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
}

/**
 * A whole control frame (at most 125 bytes of payload): masked with a
 * random key when it goes to a server (§5.3: a client masks every frame),
 * unmasked when it goes to a client.
 */
export function controlFrame(opcode: number, payload: Uint8Array, to: 'client' | 'server'): Buffer {
  if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError(`control frame payload of ${payload.length} bytes`);
  const masked = to === 'server';
  const frame = Buffer.alloc(2 + (masked ? 4 : 0) + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | payload.length;
  frame.set(payload, masked ? 6 : 2);
  if (masked) {
    const key = frame.subarray(2, 6);
    randomFillSync(key);
    mask(frame.subarray(6), key);
  }
  return frame;
}

/** The payload of a whole control frame (header included in `frame`), unmasked into a copy. */
export function controlPayload(frame: Buffer): Buffer {
  const header = readHeader(frame, 0);
  if (header === undefined) throw new RangeError('not a whole frame header');
  const payload = Buffer.from(frame.subarray(header.headerBytes, header.headerBytes + header.payloadBytes));
  if (header.masked) mask(payload, frame.subarray(header.headerBytes - 4, header.headerBytes));
  return payload;
}

/** Codes that may be sent in a close frame; the others (1005, 1006, 1015, …) are only ever observed (§7.4). */
export const sendableCloseCode = (code: number) =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

/** A close frame's code and reason (§5.5.1); an empty payload is 1005, "no status received" (§7.4.1). */
export function parseClose(payload: Buffer): { code: number; reason: string } | { problem: string } {
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) return { problem: 'a close frame\'s payload is empty or at least 2 bytes' };
  const code = payload.readUInt16BE(0);
  if (!sendableCloseCode(code)) return { problem: `close code ${code} may not be sent` };
  const reason = payload.subarray(2);
  if (!isUtf8(reason)) return { problem: 'a close reason must be UTF-8' };
  return { code, reason: reason.toString('utf8') };
}

/** A close frame's payload: no code for an unsendable one, else the code and the reason cut to fit in 125 bytes. */
export function closePayload(code: number, reason: string): Buffer {
  if (!sendableCloseCode(code)) return Buffer.alloc(0);
  // ASCII only, so that a cut never splits a character.
  const text = Buffer.from(reason.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_CONTROL_PAYLOAD - 2), 'latin1');
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  payload.set(text, 2);
  return payload;
}
