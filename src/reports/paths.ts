// Pure: what a request path asks for, and the storage keys it may touch.
// Nothing from a URL reaches a key unchecked: the path is split on `/` as the
// client sent it (before any normalisation that would resolve `..`), each
// segment is percent-decoded on its own, and every decoded segment must be a
// plain name. An encoded slash, a dot segment or a NUL is refused, never
// interpreted.
import { REPORTS_PREFIX } from '../contracts/report-store.ts';

/** A namespace: a DNS label, as the API server validates it. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A custom resource's name: a DNS subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A file or folder name of a report (`index.html`, `data/<sha1>.zip`, `trace/assets/x-Ab_1.js`): no leading dot. */
const FILE_SEGMENT = /^[A-Za-z0-9_@+~-][A-Za-z0-9._@+~-]*$/;
/**
 * A TestRun's uid as the API server assigns it (an RFC 4122 UUID). Strict on
 * purpose: the retention sweep deletes what has this shape and no TestRun,
 * so little else in a shared bucket can look like a report.
 */
export const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Shard numbers are 1..100 (TestRun spec.shards). */
const SHARD_INDEX = /^[1-9][0-9]{0,2}$/;

export interface RunRef {
  namespace: string;
  name: string;
}

export interface StoredRunRef extends RunRef {
  uid: string;
}

export type ReportRequest =
  | { kind: 'upload'; run: RunRef; index: number } |
  /** `path` is relative to the report's root; '' is the root itself (index.html). */
  { kind: 'file'; run: RunRef; path: string } |
  /** `/reports/<ns>/<run>` without the slash: relative URLs in index.html need it. */
  { kind: 'root'; run: RunRef } |
  { kind: 'invalid'; reason: string } |
  { kind: 'unknown' };

export const isNamespace = (s: string) => s.length <= 63 && DNS_LABEL.test(s);
export const isRunName = (s: string) => s.length <= 253 && DNS_SUBDOMAIN.test(s);
export const isFileSegment = (s: string) => s.length <= 255 && FILE_SEGMENT.test(s);

/** Decodes one segment; undefined when its percent-encoding is malformed. */
export function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** A report-relative file path from its raw URL segments; undefined when any segment is not a plain file name. */
export function filePath(rawSegments: readonly string[]): string | undefined {
  const names: string[] = [];
  for (const raw of rawSegments) {
    const name = decodeSegment(raw);
    if (name === undefined || !isFileSegment(name)) return undefined;
    names.push(name);
  }
  return names.join('/');
}

/**
 * What `rawUrl` (a request's `req.url`, query included) asks for under
 * `/reports/`. Only the first `?` starts the query; the path is never
 * normalised.
 */
export function parseReportRequest(method: string, rawUrl: string): ReportRequest {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith(REPORTS_PREFIX)) return { kind: 'unknown' };
  const segments = rawPath.slice(REPORTS_PREFIX.length).split('/');
  const [rawNs = '', rawRun = '', ...rest] = segments;
  const namespace = decodeSegment(rawNs);
  const name = decodeSegment(rawRun);
  if (namespace === undefined || !isNamespace(namespace)) {
    return { kind: 'invalid', reason: 'the namespace in the path is not a valid namespace name' };
  }
  if (name === undefined || !isRunName(name)) {
    return { kind: 'invalid', reason: 'the TestRun name in the path is not a valid object name' };
  }
  const run = { namespace, name };
  if (method === 'PUT') {
    if (rest.length !== 2 || rest[0] !== 'shards') {
      return { kind: 'invalid', reason: 'upload to /reports/<namespace>/<testrun>/shards/<index>' };
    }
    const index = rest[1] ?? '';
    if (!SHARD_INDEX.test(index)) return { kind: 'invalid', reason: 'the shard index must be a whole number from 1' };
    return { kind: 'upload', run, index: Number(index) };
  }
  if (rest.length === 0) return { kind: 'root', run };
  if (rest.length === 1 && rest[0] === '') return { kind: 'file', run, path: '' };
  // Empty segments fail too: `a//b` and the folder `a/` name no file.
  const path = filePath(rest);
  if (path === undefined) {
    return { kind: 'invalid', reason: 'the path may only name files of the report (no `..`, `.` or encoded `/`)' };
  }
  return { kind: 'file', run, path };
}

/** Checks a key before any backend uses it: every segment a plain name, so it can never leave its prefix. */
export function assertSafeKey(key: string): void {
  const segments = key.replace(/\/$/, '').split('/');
  if (key === '' || key.startsWith('/') || !segments.every(isFileSegment)) {
    throw new Error(`refusing storage key ${JSON.stringify(key)}: every segment must be a plain name`);
  }
}

function checkRun(run: StoredRunRef): void {
  if (!isNamespace(run.namespace) || !isRunName(run.name) || !UID.test(run.uid)) {
    throw new Error(`not a valid TestRun reference: ${JSON.stringify(run)}`);
  }
}

/** `<ns>/<name>/<uid>/`: everything stored for one TestRun, deleted with it. */
export function runPrefix(run: StoredRunRef): string {
  checkRun(run);
  return `${run.namespace}/${run.name}/${run.uid}/`;
}

export const blobsPrefix = (run: StoredRunRef) => `${runPrefix(run)}blobs/`;
export const htmlPrefix = (run: StoredRunRef) => `${runPrefix(run)}html/`;

export function blobKey(run: StoredRunRef, index: number): string {
  if (!Number.isSafeInteger(index) || index < 1) throw new Error(`not a shard index: ${index}`);
  return `${blobsPrefix(run)}${index}.zip`;
}

/** The key of a report file; `path` must already be a checked report-relative path. */
export function htmlKey(run: StoredRunRef, path: string): string {
  const key = `${htmlPrefix(run)}${path || 'index.html'}`;
  assertSafeKey(key);
  return key;
}

/** What a run's prefix holds: its shards' blobs and its merged report. */
const RUN_FOLDERS = ['blobs', 'html'];

/**
 * The TestRun a stored key belongs to; undefined for keys that do not have
 * the `<ns>/<name>/<uid>/{blobs,html}/...` shape (a Tunnel's sessions, under
 * `_sessions/`, never have it: session-paths.ts).
 */
export function runOfKey(key: string): StoredRunRef | undefined {
  const [namespace = '', name = '', uid = '', folder = '', ...rest] = key.split('/');
  if (rest.length === 0 || !RUN_FOLDERS.includes(folder)) return undefined;
  if (!isNamespace(namespace) || !isRunName(name) || !UID.test(uid)) return undefined;
  return { namespace, name, uid };
}
