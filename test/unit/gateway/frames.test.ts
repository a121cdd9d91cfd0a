// Frame headers read without touching payloads: what the relay decides each
// frame on, fed as TCP delivers it (in pieces that split headers anywhere).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  closePayload,
  controlFrame,
  controlPayload,
  FrameScanner,
  frameProblem,
  mask,
  parseClose,
  type Piece,
  readHeader,
} from '../../../src/gateway/frames.ts';
import { frame } from './frame-bytes.ts';

const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Feeds `chunks` to `scanner`; every piece, with the bytes it covers. */
function scan(scanner: FrameScanner, chunks: Buffer[]): (Piece & { bytes: Buffer })[] {
  const pieces: (Piece & { bytes: Buffer })[] = [];
  for (const chunk of chunks) {
    const buf = scanner.feed(chunk);
    for (let pos = 0, piece; (piece = scanner.next(buf, pos)); pos = piece.end) {
      pieces.push({ ...piece, bytes: Buffer.from(buf.subarray(piece.start, piece.end)) });
    }
  }
  return pieces;
}

/** `bytes` cut at the given offsets. */
const cut = (bytes: Buffer, at: number[]) =>
  [0, ...at, bytes.length].slice(1).map((end, i) => bytes.subarray([0, ...at][i], end));

/** The frames the pieces describe: opcode, FIN and the payload gathered from the payload pieces. */
function framesOf(pieces: Piece[]): { opcode: number; fin: boolean; payload: number }[] {
  const frames: { opcode: number; fin: boolean; payload: number }[] = [];
  for (const p of pieces) {
    if (p.kind === 'header') frames.push({ opcode: p.header.opcode, fin: p.header.fin, payload: 0 });
    if (p.kind === 'payload') (frames.at(-1) as { payload: number }).payload += p.end - p.start;
  }
  return frames;
}

describe('readHeader', () => {
  it('reads 7-bit, 16-bit and 64-bit lengths, masked and not', () => {
    const lengths = [[0, 2], [125, 2], [126, 4], [65_535, 4], [65_536, 10], [3_000_000, 10]] as const;
    for (const [length, headerBytes] of lengths) {
      const plain = frame(0x2, Buffer.alloc(length));
      expect(readHeader(plain, 0)).toEqual({
        fin: true, rsv: 0, opcode: 2, masked: false, headerBytes, payloadBytes: length, lengthMsbSet: false,
      });
      const masked = frame(0x1, Buffer.alloc(length), { fin: false, key });
      expect(readHeader(masked, 0))
        .toMatchObject({ fin: false, opcode: 1, masked: true, headerBytes: headerBytes + 4, payloadBytes: length });
    }
  });

  it('reads a header at an offset, and nothing until all of it is there', () => {
    const bytes = Buffer.concat([Buffer.from('xyz'), frame(0x2, Buffer.alloc(70_000), { key })]);
    for (let end = 3; end < 3 + 14; end++) expect(readHeader(bytes.subarray(0, end), 3)).toBeUndefined();
    expect(readHeader(bytes.subarray(0, 3 + 14), 3)).toMatchObject({ headerBytes: 14, payloadBytes: 70_000 });
  });

  it('says a 64-bit length past 2^53 - 1 is infinite, and flags a set most significant bit', () => {
    const huge = Buffer.from([0x82, 127, 0x00, 0x20, 0, 0, 0, 0, 0, 0]);
    expect(readHeader(huge, 0)?.payloadBytes).toBe(Infinity);
    expect(readHeader(huge, 0)?.lengthMsbSet).toBe(false);
    const largest = Buffer.from([0x82, 127, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(readHeader(largest, 0)?.payloadBytes).toBe(Number.MAX_SAFE_INTEGER);
    const msb = Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    expect(readHeader(msb, 0)?.lengthMsbSet).toBe(true);
    expect(frameProblem(readHeader(msb, 0)!, 'server', false)).toBe('the most significant bit of a 64-bit length must be 0');
  });

  it('reads the reserved bits and the opcode', () => {
    expect(readHeader(frame(0xa, Buffer.alloc(0), { rsv: 5 }), 0)).toMatchObject({ rsv: 5, opcode: 0xa });
  });
});

describe('frameProblem', () => {
  const header = (opcode: number, options: Parameters<typeof frame>[2] = {}, length = 1) =>
    readHeader(frame(opcode, Buffer.alloc(length), options), 0)!;

  it('wants client frames masked and server frames not', () => {
    expect(frameProblem(header(1), 'client', false)).toBe('a client frame must be masked');
    expect(frameProblem(header(1, { key }), 'server', false)).toBe('a server frame must not be masked');
    expect(frameProblem(header(1, { key }), 'client', false)).toBeUndefined();
    expect(frameProblem(header(1), 'server', false)).toBeUndefined();
  });

  it('refuses reserved bits (no extension is ever negotiated) and unknown opcodes', () => {
    for (const rsv of [1, 2, 4]) expect(frameProblem(header(1, { rsv }), 'server', false)).toMatch(/reserved bits/);
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      expect(frameProblem(header(opcode), 'server', false)).toBe(`unknown opcode ${opcode}`);
    }
  });

  it('refuses fragmented control frames and control payloads over 125 bytes', () => {
    for (const opcode of [0x8, 0x9, 0xa]) {
      expect(frameProblem(header(opcode, { fin: false }), 'server', false)).toBe('a control frame must not be fragmented');
      expect(frameProblem(header(opcode, {}, 126), 'server', false)).toBe('a control frame\'s payload is at most 125 bytes');
      expect(frameProblem(header(opcode, {}, 125), 'server', true)).toBeUndefined();
    }
  });

  it('wants continuations only inside a message, and a new message only outside one', () => {
    expect(frameProblem(header(0), 'server', false)).toBe('a continuation frame without a message to continue');
    expect(frameProblem(header(0), 'server', true)).toBeUndefined();
    expect(frameProblem(header(2), 'server', true)).toBe('a new message before the last fragment of the previous one');
  });
});

describe('FrameScanner', () => {
  const stream = Buffer.concat([
    frame(0x1, Buffer.from('first '), { fin: false, key }),
    frame(0x9, Buffer.from('ping between'), { key }),
    frame(0x0, randomBytes(300), { fin: false, key }),
    frame(0xa, Buffer.alloc(0), { key }),
    frame(0x0, randomBytes(70_000), { fin: true, key }),
    frame(0x2, Buffer.alloc(0), { key }),
    frame(0x8, Buffer.from([0x03, 0xe8]), { key }),
  ]);
  const expected = [
    { opcode: 1, fin: false, payload: 6 },
    { opcode: 9, fin: true, payload: 12 },
    { opcode: 0, fin: false, payload: 300 },
    { opcode: 10, fin: true, payload: 0 },
    { opcode: 0, fin: true, payload: 70_000 },
    { opcode: 2, fin: true, payload: 0 },
    { opcode: 8, fin: true, payload: 2 },
  ];

  it('finds every frame of a fragmented message with control frames between its fragments, in one chunk', () => {
    const pieces = scan(new FrameScanner('client', 1 << 20), [stream]);
    expect(framesOf(pieces)).toEqual(expected);
    expect(Buffer.concat(pieces.map((p) => p.bytes))).toEqual(stream);
  });

  it('finds the same frames however the stream is cut, headers split included, and loses no byte', () => {
    const cuts = [
      Array.from({ length: stream.length - 1 }, (_, i) => i + 1).filter((i) => i < 400 || i % 997 === 0),
      [1, 7, 8, 9, 30, 31, 33, 350, 351, 352, 353, 354, 355, 356, 357, 358],
      Array.from({ length: 40 }, () => 1 + Math.floor(Math.random() * (stream.length - 1))).sort((a, b) => a - b),
    ];
    for (const at of cuts) {
      const chunks = cut(stream, [...new Set(at)]);
      const scanner = new FrameScanner('client', 1 << 20);
      const pieces = scan(scanner, chunks);
      expect(framesOf(pieces)).toEqual(expected);
      // Header pieces come whole: a header split across chunks is held back and handed out with the next one.
      for (const p of pieces) if (p.kind === 'header') expect(p.bytes.length).toBe(p.header.headerBytes);
      expect(Buffer.concat(pieces.map((p) => p.bytes))).toEqual(stream);
      expect(scanner.atBoundary).toBe(true);
    }
  });

  it('is between frames only where a frame ends', () => {
    const scanner = new FrameScanner('server', 1 << 20);
    const bytes = frame(0x2, Buffer.alloc(1000));
    scan(scanner, [bytes.subarray(0, 500)]);
    expect(scanner.atBoundary).toBe(false);
    scan(scanner, [bytes.subarray(500)]);
    expect(scanner.atBoundary).toBe(true);
  });

  it('counts a message\'s fragments together against the limit, control frames apart', () => {
    const fragments = (last: number) => [
      frame(0x2, Buffer.alloc(400), { fin: false }),
      frame(0x9, Buffer.alloc(100)),
      frame(0x0, Buffer.alloc(400), { fin: false }),
      frame(0x0, Buffer.alloc(last)),
    ];
    const fits = scan(new FrameScanner('server', 1000), fragments(200));
    expect(fits.filter((p) => p.kind === 'problem')).toEqual([]);
    const over = scan(new FrameScanner('server', 1000), fragments(201));
    expect(over.at(-1)).toMatchObject({ kind: 'problem', tooBig: true, reason: 'a message over the limit of 1000 bytes' });
    // It is known from the header: nothing of the frame that goes over is handed out.
    expect(over.filter((p) => p.kind === 'header').length).toBe(3);
    // The next message starts from zero.
    const next = scan(new FrameScanner('server', 1000), [frame(0x2, Buffer.alloc(1000)), frame(0x1, Buffer.alloc(1000))]);
    expect(next.filter((p) => p.kind === 'problem')).toEqual([]);
  });

  it('says what is wrong with a frame, at its first byte, and reads nothing after it', () => {
    const good = frame(0x1, Buffer.from('ok'), { key });
    const bad = frame(0x1, Buffer.from('no mask'));
    const scanner = new FrameScanner('client', 1 << 20);
    const pieces = scan(scanner, [Buffer.concat([good, bad, good])]);
    expect(pieces.at(-1)).toMatchObject({ kind: 'problem', reason: 'a client frame must be masked', tooBig: false, start: good.length });
    expect(scan(scanner, [good])).toEqual([]);
  });

  it('hands out the chunk itself when no header was held back', () => {
    const scanner = new FrameScanner('server', 1 << 20);
    const chunk = frame(0x2, Buffer.alloc(10));
    expect(scanner.feed(chunk)).toBe(chunk);
  });
});

describe('control frames', () => {
  it('are masked toward a server and not toward a client, with the payload intact either way', () => {
    const toServer = controlFrame(0x9, Buffer.from('tag'), 'server');
    expect(readHeader(toServer, 0)).toMatchObject({ opcode: 9, fin: true, masked: true, payloadBytes: 3 });
    expect(controlPayload(toServer).toString()).toBe('tag');
    const toClient = controlFrame(0x9, Buffer.from('tag'), 'client');
    expect(toClient).toEqual(Buffer.from([0x89, 3, ...Buffer.from('tag')]));
    expect(controlPayload(toClient).toString()).toBe('tag');
    expect(() => controlFrame(0x9, Buffer.alloc(126), 'client')).toThrow(RangeError);
  });

  it('mask and unmask alike', () => {
    const data = randomBytes(37);
    const copy = Buffer.from(data);
    mask(copy, key);
    expect(copy).not.toEqual(data);
    mask(copy, key);
    expect(copy).toEqual(data);
  });
});

describe('close frames', () => {
  it('read a code and a UTF-8 reason, or 1005 for none', () => {
    expect(parseClose(Buffer.alloc(0))).toEqual({ code: 1005, reason: '' });
    expect(parseClose(Buffer.from([0x0f, 0xa1, ...Buffer.from('é bye')]))).toEqual({ code: 4001, reason: 'é bye' });
  });

  it('refuse a 1-byte payload, codes that may not be sent and reasons that are not UTF-8', () => {
    expect(parseClose(Buffer.from([3]))).toHaveProperty('problem');
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      expect(parseClose(payload)).toEqual({ problem: `close code ${code} may not be sent` });
    }
    expect(parseClose(Buffer.from([0x03, 0xe8, 0xff, 0xfe]))).toEqual({ problem: 'a close reason must be UTF-8' });
  });

  it('write a code and a reason cut to fit in a control frame; no code for one that may not be sent', () => {
    const payload = closePayload(1008, `idle ${'x'.repeat(200)} ü`);
    expect(payload.length).toBe(125);
    expect(parseClose(payload)).toEqual({ code: 1008, reason: `idle ${'x'.repeat(118)}` });
    expect(parseClose(closePayload(1000, 'ü'))).toEqual({ code: 1000, reason: '?' });
    expect(closePayload(1006, 'lost')).toEqual(Buffer.alloc(0));
  });
});
