// The runner's side of the report store's dependency cache: restore an
// installed node_modules by key (a gzipped tar), or store one after an
// install. Neither ever fails the shard: a cache that cannot be read means an
// install, one that cannot be written means the next run installs too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import { create as createTar, extract as extractTar } from 'tar';
import { DEPENDENCY_CACHE_TYPE } from '../contracts/report-store.ts';
import { PROVIDED_PACKAGES } from '../suite/dependencies.ts';
import { Deadline, UPLOAD_BUDGET_MS, uploadReport } from './upload.ts';

/** Longest a restore may take before the runner installs instead. */
const RESTORE_BUDGET_MS = 120_000;

export interface CacheEntry {
  /** The entry's URL: the store's DEPENDENCY_CACHE_URL_ENV with the key appended. */
  url: string;
  key: string;
  tokenFile: string;
}

export type Restored = { hit: true; bytes: number; ms: number } | { hit: false; reason: string };

const readToken = (file: string) => readFileSync(file, 'utf8').trim();

/**
 * Fleetwright's own Playwright is linked in after every install or restore:
 * the suite's copies are never cached (about 10 MB that would only be
 * replaced).
 */
const isProvided = (path: string) =>
  PROVIDED_PACKAGES.some((name) => path === `node_modules/${name}` || path.startsWith(`node_modules/${name}/`));

/** Extracts the entry into `dir` (which gets `node_modules`); on any failure leaves no node_modules behind. */
export async function restoreDependencies(entry: CacheEntry, dir: string): Promise<Restored> {
  const started = performance.now();
  try {
    const response = await fetch(entry.url, {
      headers: { authorization: `Bearer ${readToken(entry.tokenFile)}` },
      signal: AbortSignal.timeout(RESTORE_BUDGET_MS),
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return { hit: false, reason: 'no entry under this key yet' };
    }
    if (!response.ok || !response.body) {
      const text = (await response.text()).trim().slice(0, 200);
      return { hit: false, reason: `the report store answered HTTP ${response.status}${text ? `: ${text}` : ''}` };
    }
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    await pipeline(body, counter, extractTar({ cwd: dir, strict: true }));
    return { hit: true, bytes, ms: Math.round(performance.now() - started) };
  } catch (err) {
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    return { hit: false, reason: `could not restore it: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Packs `dir`/node_modules and PUTs it under the entry's key; logs the outcome, never throws. */
export async function storeDependencies(entry: CacheEntry, dir: string, log: Logger): Promise<void> {
  const started = performance.now();
  const scratch = mkdtempSync(join(dir, '..', 'dependency-cache-'));
  const file = join(scratch, 'node_modules.tgz');
  const deadline = new Deadline(UPLOAD_BUDGET_MS);
  try {
    await createTar({ gzip: true, cwd: dir, file, portable: true, filter: (path) => !isProvided(path) }, ['node_modules']);
    const { url, tokenFile } = entry;
    const outcome = await uploadReport({ file, url, tokenFile, deadline, log, contentType: DEPENDENCY_CACHE_TYPE });
    const seconds = Math.round(performance.now() - started) / 1000;
    if (outcome.ok) log.info({ key: entry.key, bytes: outcome.bytes, seconds }, 'dependencies stored in the cache');
    else log.warn({ key: entry.key, reason: outcome.reason, seconds }, 'could not store the dependencies in the cache; the run goes on');
  } catch (err) {
    log.warn({ key: entry.key, err: String(err) }, 'could not pack the dependencies for the cache; the run goes on');
  } finally {
    deadline.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}
