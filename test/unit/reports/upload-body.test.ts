import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { declaredLength, NotZipError, TooLargeError, UploadBody } from '../../../src/reports/upload-body.ts';

const zip = (size: number) => Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(size - 4)]);

/** Streams `chunks` through an UploadBody of `limit`; resolves with the bytes that came out the other side. */
async function through(limit: number, chunks: Buffer[]): Promise<number> {
  let out = 0;
  await pipeline(Readable.from(chunks), new UploadBody(limit), new Writable({
    write(chunk: Buffer, _e, callback) {
      out += chunk.length;
      callback();
    },
  }));
  return out;
}

describe('an upload body', () => {
  it('passes a zip of up to the limit through unchanged', async () => {
    expect(await through(1000, [zip(1000)])).toBe(1000);
    expect(await through(1000, [Buffer.from('PK'), Buffer.from('\x03\x04'), Buffer.alloc(996)])).toBe(1000);
    // An empty zip is its end-of-central-directory record alone.
    expect(await through(1000, [Buffer.from('PK\x05\x06'), Buffer.alloc(18)])).toBe(22);
  });

  it('fails one byte past the limit, naming the limit and the flag', async () => {
    const failure = through(1000, [zip(600), Buffer.alloc(401)]);
    await expect(failure).rejects.toBeInstanceOf(TooLargeError);
    await expect(failure).rejects.toThrow('a shard\'s report may be at most 1000 bytes (the report store\'s --max-upload-bytes)');
  });

  it('fails for anything that is not a zip, however short', async () => {
    await expect(through(1000, [Buffer.from('<html>not a report</html>')])).rejects.toBeInstanceOf(NotZipError);
    await expect(through(1000, [Buffer.from('PK')])).rejects.toBeInstanceOf(NotZipError);
    await expect(through(1000, [])).rejects.toBeInstanceOf(NotZipError);
  });

  it('reads the declared Content-Length, and none when the body is chunked', () => {
    expect(declaredLength({ 'content-length': '1234' })).toBe(1234);
    expect(declaredLength({})).toBeUndefined();
    expect(declaredLength({ 'content-length': '12abc' })).toBeNaN();
  });
});
