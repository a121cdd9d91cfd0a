// Where reports live. Two backends implement it: a filesystem path (one
// writer: the store's single replica on a PersistentVolumeClaim) and an
// S3-compatible bucket. Keys are `<namespace>/<name>/<uid>/blobs/<index>.zip`
// and `<namespace>/<name>/<uid>/html/<path>` (see paths.ts); every backend
// checks each key with assertSafeKey before it touches anything.
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

export interface ReportStorage {
  /** For logs: `filesystem /data` or `s3 http://host/bucket`. */
  readonly description: string;
  /**
   * Stores `body` under `key` and resolves with its size. Atomic: the
   * object appears only once the whole body is stored; when `body` fails or
   * the write does, the previous object under `key` (if any) stays as it
   * was, and nothing partial is left visible.
   */
  put(key: string, body: Readable): Promise<number>;
  /** The object as a stream with its size; undefined when there is none. */
  get(key: string): Promise<{ body: Readable; size: number } | undefined>;
  /** Every object whose key starts with `prefix` ('' or ending in '/'). */
  list(prefix: string): Promise<StoredObject[]>;
  /** Deletes every object under `prefix` (ending in '/'); resolves with how many there were. */
  deletePrefix(prefix: string): Promise<number>;
}

/** Prefixes given to list and deletePrefix: '' (everything) or a safe key ending in '/'. */
export function checkPrefix(prefix: string, allowEmpty: boolean): void {
  if (prefix === '' ? !allowEmpty : !prefix.endsWith('/')) {
    throw new Error(`refusing storage prefix ${JSON.stringify(prefix)}: it must end with '/'`);
  }
}
