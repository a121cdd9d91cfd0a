// The filesystem backend: one file per key under a root directory (in the
// chart, a PersistentVolumeClaim). A put writes a temporary file in
// <root>/.tmp, flushes it to disk and renames it into place: rename(2) on one
// filesystem replaces the target atomically, so a reader sees the old file or
// the whole new one, never a part.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertSafeKey } from './paths.ts';
import { checkPrefix, type ReportStorage, type StoredObject } from './storage.ts';

/** Temporary files of puts in flight; a key never starts with a dot, so it is never listed. */
const TMP = '.tmp';

const missing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export class FilesystemStorage implements ReportStorage {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `filesystem ${this.root}`;
  }

  /**
   * Creates the root and clears temporary files a crash left (this process
   * is the only writer, so none of them belongs to a put in flight).
   */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await rm(join(this.root, TMP), { recursive: true, force: true });
    await mkdir(join(this.root, TMP));
  }

  async put(key: string, body: Readable): Promise<number> {
    const target = this.pathOf(key);
    const temp = join(this.root, TMP, randomUUID());
    try {
      // flush: fsync before close, so a crash after the rename cannot leave an empty file in place.
      const file = createWriteStream(temp, { flags: 'wx', flush: true });
      await pipeline(body, file);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      return file.bytesWritten;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<{ body: Readable; size: number } | undefined> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      return { body: createReadStream(path), size: info.size };
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix, true);
    const base = prefix ? this.pathOf(prefix) : this.root;
    let entries;
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (missing(err)) return [];
      throw err;
    }
    const objects: StoredObject[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (key.startsWith(`${TMP}/`)) continue;
      const info = await stat(path).catch((err: unknown) => (missing(err) ? undefined : Promise.reject(err)));
      if (info) objects.push({ key, size: info.size, modified: info.mtime });
    }
    return objects.sort((a, b) => a.key.localeCompare(b.key));
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix, false);
    const count = (await this.list(prefix)).length;
    const dir = this.pathOf(prefix);
    await rm(dir, { recursive: true, force: true });
    // Remove the folders left empty above it (<ns>/<name>/), never the root.
    for (let parent = dirname(dir); parent.startsWith(this.root + sep); parent = dirname(parent)) {
      const empty = await rmdir(parent).then(() => true, () => false);
      if (!empty) break;
    }
    return count;
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return join(this.root, ...key.replace(/\/$/, '').split('/'));
  }
}
