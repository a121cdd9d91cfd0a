// Both backends against one contract: the filesystem in a temporary folder,
// S3 against a real S3-compatible server (s3rver) on loopback.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemStorage } from '../../../src/reports/filesystem.ts';
import { S3Storage } from '../../../src/reports/s3.ts';
import type { ReportStorage } from '../../../src/reports/storage.ts';
import { type S3Server, startS3Server } from '../../fixtures/report-suite/s3-server.ts';

/** A body that sends `good` and then fails, as a client that goes away mid-upload. */
function failingBody(good: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return void this.destroy(new Error('the client went away'));
      sent = true;
      this.push(good);
    },
  });
}

const read = async (storage: ReportStorage, key: string) => {
  const object = await storage.get(key);
  return object && { size: object.size, text: await text(object.body) };
};

let s3: S3Server;
let root: string;
const backends: Record<string, () => ReportStorage> = {};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fw-reports-'));
  const fs = new FilesystemStorage(root);
  await fs.init();
  s3 = await startS3Server();
  const bucket = new S3Storage({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
  });
  await bucket.init();
  backends.filesystem = () => fs;
  backends.s3 = () => bucket;
});

afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await s3?.close();
});

describe.each(['filesystem', 's3'])('the %s backend', (name) => {
  const storage = () => backends[name]!();
  const run = `ns-${name}/run/0b9e0c7a-1111-4222-8333-444455556666/`;

  it('stores a stream and gives it back with its size; a missing key is undefined', async () => {
    expect(await storage().put(`${run}blobs/1.zip`, Readable.from([Buffer.from('PK\x03\x04'), Buffer.from('rest')]))).toBe(8);
    expect(await read(storage(), `${run}blobs/1.zip`)).toEqual({ size: 8, text: 'PK\x03\x04rest' });
    expect(await storage().get(`${run}blobs/2.zip`)).toBeUndefined();
    expect(await storage().get(`${run}nothing/here.html`)).toBeUndefined();
  });

  it('streams a body larger than one multipart part (8 MiB) intact', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const chunks: Buffer[] = [];
    for (let at = 0; at < big.length; at += 65536) chunks.push(big.subarray(at, at + 65536));
    expect(await storage().put(`${run}blobs/9.zip`, Readable.from(chunks))).toBe(big.length);
    const object = await storage().get(`${run}blobs/9.zip`);
    const back = Buffer.concat(await object!.body.toArray() as Buffer[]);
    expect(object!.size).toBe(big.length);
    expect(back.equals(big)).toBe(true);
  });

  it('never replaces a good object with a failed upload, and leaves nothing of it visible', async () => {
    await storage().put(`${run}blobs/3.zip`, Readable.from([Buffer.from('good')]));
    await expect(storage().put(`${run}blobs/3.zip`, failingBody(Buffer.from('partial')))).rejects.toThrow(/went away/);
    await expect(storage().put(`${run}blobs/4.zip`, failingBody(Buffer.from('partial')))).rejects.toThrow(/went away/);
    // Past the first multipart part: S3 has a part of it, and must still show nothing.
    const large = failingBody(Buffer.alloc(9 * 1024 * 1024));
    await expect(storage().put(`${run}blobs/3.zip`, large)).rejects.toThrow(/went away/);
    expect(await read(storage(), `${run}blobs/3.zip`)).toEqual({ size: 4, text: 'good' });
    expect(await storage().get(`${run}blobs/4.zip`)).toBeUndefined();
    expect((await storage().list(run)).map((o) => o.key)).not.toContain(`${run}blobs/4.zip`);
  });

  it('lists the keys under a prefix with sizes and times, and deletes a prefix and nothing else', async () => {
    const other = `ns-${name}/run-2/0b9e0c7a-1111-4222-8333-444455556666/`;
    await storage().put(`${run}html/index.html`, Readable.from([Buffer.from('<html>')]));
    await storage().put(`${run}html/trace/assets/a-B_c.js`, Readable.from([Buffer.from('js')]));
    await storage().put(`${other}html/index.html`, Readable.from([Buffer.from('<html>')]));
    const listed = await storage().list(`${run}html/`);
    expect(listed.map((o) => [o.key, o.size])).toEqual([
      [`${run}html/index.html`, 6],
      [`${run}html/trace/assets/a-B_c.js`, 2],
    ]);
    expect(Math.abs(listed[0]!.modified.getTime() - Date.now())).toBeLessThan(60_000);
    expect((await storage().list('')).map((o) => o.key)).toContain(`${other}html/index.html`);

    expect(await storage().deletePrefix(run)).toBeGreaterThanOrEqual(5);
    expect(await storage().list(run)).toEqual([]);
    expect(await storage().get(`${run}html/index.html`)).toBeUndefined();
    expect((await storage().list(`ns-${name}/`)).map((o) => o.key)).toEqual([`${other}html/index.html`]);
    expect(await storage().deletePrefix(`ns-${name}/nothing/`)).toBe(0);
  });

  it('refuses keys and prefixes that could leave their place', async () => {
    for (const key of ['../x', 'a/../b', 'a/./b', '/etc/passwd', 'a//b', 'a/.hidden', 'a/b\\c', 'a/%2e%2e/b', '']) {
      await expect(storage().put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow(/refusing storage key/);
      await expect(storage().get(key), key).rejects.toThrow(/refusing storage key/);
    }
    await expect(storage().deletePrefix('')).rejects.toThrow(/refusing storage prefix/);
    await expect(storage().deletePrefix('a/..')).rejects.toThrow(/refusing/);
    await expect(storage().list('a/../')).rejects.toThrow(/refusing storage key/);
  });
});

describe('the filesystem backend', () => {
  it('removes folders a deleted prefix leaves empty, and temporary files a crash left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-reports-'));
    try {
      const fs = new FilesystemStorage(dir);
      await fs.init();
      await fs.put('ns/run/uid-1/blobs/1.zip', Readable.from([Buffer.from('x')]));
      await fs.deletePrefix('ns/run/uid-1/');
      expect(readdirSync(dir)).toEqual(['.tmp']);
      await expect(fs.put('ns/run/uid-1/blobs/1.zip', failingBody(Buffer.from('x')))).rejects.toThrow();
      expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
      await new FilesystemStorage(dir).init();
      expect(existsSync(join(dir, '.tmp'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
