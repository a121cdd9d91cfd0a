// Frames written byte by byte (RFC 6455 §5.2), independently of src/gateway/frames.ts, for its tests and the relay's.

/** A frame as a client would send it (masked with `key`) or a server (unmasked, no key). */
export function frame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv?: number; key?: Buffer } = {}) {
  const { fin = true, rsv = 0, key } = options;
  const length = payload.length;
  const ext = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (key ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  head[1] = (key ? 0x80 : 0) | (ext === 0 ? length : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(length, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(length), 2);
  const body = Buffer.from(payload);
  if (key) {
    key.copy(head, 2 + ext);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([head, body]);
}
