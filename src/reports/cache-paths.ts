// Pure: what a dependency cache request asks for, and where its entries are
// stored. Entries belong to a namespace, not to a run: every run of the
// namespace with the same key shares one. They live under `_dependencies/`,
// a prefix no namespace can have (a DNS label has no `_`), so the reports'
// retention never mistakes them for a run's files.
import { DEPENDENCIES_PREFIX, DEPENDENCY_CACHE_KEY } from '../contracts/report-store.ts';
import { decodeSegment, isFileSegment, isNamespace, isRunName, type RunRef } from './paths.ts';
import type { StoredObject } from './storage.ts';

const ROOT = '_dependencies/';
const ENTRY = 'node_modules.tgz';

export type CacheRequest =
  | { kind: 'entry'; run: RunRef; key: string } |
  { kind: 'invalid'; reason: string } |
  { kind: 'unknown' };

/** What `rawUrl` asks for under `/dependencies/<namespace>/<testrun>/<key>`. */
export function parseCacheRequest(rawUrl: string): CacheRequest {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith(DEPENDENCIES_PREFIX)) return { kind: 'unknown' };
  const segments = rawPath.slice(DEPENDENCIES_PREFIX.length).split('/').map(decodeSegment);
  const [namespace, name, key] = segments;
  if (segments.length !== 3 || namespace === undefined || name === undefined || key === undefined) {
    return { kind: 'invalid', reason: 'dependency cache entries are at /dependencies/<namespace>/<testrun>/<key>' };
  }
  if (!isNamespace(namespace)) return { kind: 'invalid', reason: 'the namespace in the path is not a valid namespace name' };
  if (!isRunName(name)) return { kind: 'invalid', reason: 'the TestRun name in the path is not a valid object name' };
  if (!DEPENDENCY_CACHE_KEY.test(key) || !isFileSegment(key)) {
    return { kind: 'invalid', reason: 'the key is not a dependency cache key (<installer>-node<major>-<platform>-<arch>-<sha256>)' };
  }
  return { kind: 'entry', run: { namespace, name }, key };
}

/** Everything cached for `namespace`, or for every namespace. */
export const cachePrefix = (namespace?: string) => (namespace ? `${ROOT}${namespace}/` : ROOT);

/** The folder of one entry: deleted as a whole, as the storage interface deletes. */
export const cacheEntryPrefix = (namespace: string, key: string) => `${cachePrefix(namespace)}${key}/`;

export const cacheObjectKey = (namespace: string, key: string) => `${cacheEntryPrefix(namespace, key)}${ENTRY}`;

/** Entries stored more than `maxAgeMs` ago: the store's --max-age applies to them as to reports. */
export function expiredCacheEntries(stored: readonly StoredObject[], now: Date, maxAgeMs: number): string[] {
  return stored
    .filter((o) => o.key.startsWith(ROOT) && o.key.endsWith(`/${ENTRY}`) && now.getTime() - o.modified.getTime() > maxAgeMs)
    .map((o) => o.key.slice(0, -ENTRY.length))
    .sort();
}
