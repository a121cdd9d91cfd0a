// What an upload body must be: at most --max-upload-bytes, and a zip (a
// Playwright blob report) or a gzip (a dependency cache entry). Checked while the body streams through to the
// backend, so nothing is buffered; a failed check fails the stream, and the
// backend then discards what it had written.
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

export class TooLargeError extends Error {
  readonly limit: number;

  constructor(limit: number, what = 'a shard\'s report') {
    super(`${what} may be at most ${limit} bytes (the report store's --max-upload-bytes)`);
    this.name = 'TooLargeError';
    this.limit = limit;
  }
}

export class NotZipError extends Error {
  constructor() {
    super('the body is not a zip file: upload the Playwright blob report (--reporter=blob) of the shard');
    this.name = 'NotZipError';
  }
}

export class NotGzipError extends Error {
  constructor() {
    super('the body is not gzipped: upload the installed node_modules as `tar -cz`');
    this.name = 'NotGzipError';
  }
}

/** What a body must start with, what it is called in a refusal, and the error when it does not start so. */
export interface BodyFormat {
  signatures: Buffer[];
  what: string;
  wrong: () => Error;
}

/** Every zip starts with a local file header (PK\3\4) or, when empty, the end-of-directory record (PK\5\6). */
export const ZIP: BodyFormat = {
  signatures: [Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from([0x50, 0x4b, 0x05, 0x06])],
  what: 'a shard\'s report',
  wrong: () => new NotZipError(),
};

/** RFC 1952: ID1 ID2, then CM 8 (deflate), the only method there is. */
export const GZIP: BodyFormat = {
  signatures: [Buffer.from([0x1f, 0x8b, 0x08])],
  what: 'a dependency cache entry',
  wrong: () => new NotGzipError(),
};

/** The Content-Length a client declared; undefined when it sent none (chunked). NaN when it is not a number. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : NaN;
}

/** Counts bytes, fails with TooLargeError past `limit`, and with the format's error when the first bytes are wrong. */
export class UploadBody extends Transform {
  readonly limit: number;
  bytes = 0;
  private head = Buffer.alloc(0);
  private readonly format: BodyFormat;
  private readonly headLength: number;

  constructor(limit: number, format: BodyFormat = ZIP) {
    super();
    this.limit = limit;
    this.format = format;
    this.headLength = format.signatures[0]?.length ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return callback(new TooLargeError(this.limit, this.format.what));
    if (this.head.length < this.headLength) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, this.headLength - this.head.length)]);
      const complete = this.head.length === this.headLength;
      if (complete && !this.format.signatures.some((s) => s.equals(this.head))) return callback(this.format.wrong());
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.head.length < this.headLength ? this.format.wrong() : null);
  }
}
