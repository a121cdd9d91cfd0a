// The S3 backend: one object per key in a bucket of any S3-compatible server
// (AWS, MinIO, Ceph, ...). A put streams through lib-storage's Upload: a
// single PutObject for a small body, a multipart upload in 8 MiB parts for a
// large one. Either way S3 makes the object visible only when the whole
// body is in (PutObject, CompleteMultipartUpload), and a failed body aborts
// the multipart upload, so a put is atomic as the interface asks.
import { pipeline, type Readable, Transform } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  NotFound,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertSafeKey } from './paths.ts';
import { checkPrefix, type ReportStorage, type StoredObject } from './storage.ts';

export interface S3Options {
  bucket: string;
  /** Unset: AWS's own endpoint for the region. */
  endpoint?: string;
  region: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`: what most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY first (what the store uses). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const PART_BYTES = 8 * 1024 * 1024;
/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;

const notFound = (err: unknown) =>
  err instanceof NoSuchKey || err instanceof NotFound ||
  (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404);

export class S3Storage implements ReportStorage {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3Options) {
    this.bucket = options.bucket;
    this.description = `s3 ${options.endpoint ?? `(AWS ${options.region})`} bucket ${options.bucket}`;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // The SDK's default since 2025 adds CRC32 checksums to every request and answer; many
      // S3-compatible servers reject or mangle those. Checksums only where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Fails with the fix named when the bucket is missing or the credentials do not reach it. */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      const why = status === 404
        ? 'it does not exist: create it or fix --s3-bucket'
        : status === 403 || status === 401
          ? 'access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'
          : `${err instanceof Error ? err.message : String(err)}: check --s3-endpoint and --s3-region`;
      throw new Error(`S3 bucket ${this.bucket}: ${why}`, { cause: err });
    }
  }

  async put(key: string, body: Readable): Promise<number> {
    assertSafeKey(key);
    let bytes = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    // Upload stops reading a failed body but does not always reject for it: race the two.
    const failed = new Promise<never>((_resolve, reject) => pipeline(body, counted, (err) => err && reject(err)));
    failed.catch(() => undefined);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counted },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await Promise.race([upload.done(), failed]);
    } catch (err) {
      await upload.abort().catch(() => undefined);
      throw err;
    }
    return bytes;
  }

  async get(key: string): Promise<{ body: Readable; size: number } | undefined> {
    assertSafeKey(key);
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      // In Node the SDK's body is the response stream itself.
      return { body: answer.Body as Readable, size: answer.ContentLength ?? 0 };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix, true);
    if (prefix) assertSafeKey(prefix);
    const objects: StoredObject[] = [];
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix })) {
      for (const o of page.Contents ?? []) {
        if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
      }
    }
    return objects;
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix, false);
    assertSafeKey(prefix);
    const keys = (await this.list(prefix)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const answer = await this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }));
      const errors = answer.Errors ?? [];
      if (errors.length > 0) {
        throw new Error(`S3 could not delete ${errors.length} objects under ${prefix}: ${errors[0]?.Message ?? errors[0]?.Code}`);
      }
    }
    return keys.length;
  }

  destroy(): void {
    this.client.destroy();
  }
}
