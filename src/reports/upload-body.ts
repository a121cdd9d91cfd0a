// What an upload body must be: at most --max-upload-bytes, and a zip (a
// Playwright blob report). Checked while the body streams through to the
// backend, so nothing is buffered; a failed check fails the stream, and the
// backend then discards what it had written.
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

export class TooLargeError extends Error {
  readonly limit: number;

  constructor(limit: number) {
    super(`a shard's report may be at most ${limit} bytes (the report store's --max-upload-bytes)`);
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

/** The Content-Length a client declared; undefined when it sent none (chunked). NaN when it is not a number. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : NaN;
}

/** Every zip starts with a local file header (PK\3\4) or, when empty, the end-of-directory record (PK\5\6). */
const ZIP_SIGNATURES = [Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from([0x50, 0x4b, 0x05, 0x06])];

/** Counts bytes, fails with TooLargeError past `limit`, and with NotZipError when the first bytes are not a zip's. */
export class UploadBody extends Transform {
  readonly limit: number;
  bytes = 0;
  private head = Buffer.alloc(0);

  constructor(limit: number) {
    super();
    this.limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return callback(new TooLargeError(this.limit));
    if (this.head.length < 4) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 4 - this.head.length)]);
      const complete = this.head.length === 4;
      if (complete && !ZIP_SIGNATURES.some((s) => s.equals(this.head))) return callback(new NotZipError());
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.head.length < 4 ? new NotZipError() : null);
  }
}
