// Pure, but for the records it is handed a reader for: a Tunnel's sessions
// as the store lists them, newest first by the record's start, each with
// the URLs of the recordings stored beside it. Reading every record of a
// busy Tunnel on each listing would be slow (each is an object of its own in
// S3), so records are read newest-written first, and the reading stops once
// no unread record can start later than the last one kept: a record is
// written at and after its session's start, so its object is never older
// than its start (give or take the clocks' skew).
import { type ListedSession, SESSION_FILES, type SessionFile, type SessionRecord, sessionPath } from '../contracts/tunnel-session.ts';
import { sessionOfKey } from './session-paths.ts';
import type { StoredObject } from './storage.ts';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
/** How far the gateway's clock may run ahead of the storage's without a session going missing from a listing. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** Records read at once. */
const BATCH = 16;

/** One stored session: which of its files exist, and when its record was last written. */
export interface SessionFolder {
  id: string;
  files: ReadonlySet<SessionFile>;
  recordModified: number;
}

/** The sessions of `stored` (one Tunnel's objects) that have a record, the most recently written record first. */
export function sessionFolders(stored: readonly StoredObject[]): SessionFolder[] {
  const folders = new Map<string, { files: Set<SessionFile>; recordModified?: number }>();
  for (const object of stored) {
    const ref = sessionOfKey(object.key);
    if (!ref) continue;
    const folder = folders.get(ref.id) ?? { files: new Set<SessionFile>() };
    folder.files.add(ref.file);
    if (ref.file === SESSION_FILES.record) folder.recordModified = object.modified.getTime();
    folders.set(ref.id, folder);
  }
  return [...folders]
    .flatMap(([id, { files, recordModified }]) => (recordModified === undefined ? [] : [{ id, files, recordModified }]))
    .sort((a, b) => b.recordModified - a.recordModified || a.id.localeCompare(b.id));
}

export interface FoundSession {
  record: SessionRecord;
  files: ReadonlySet<SessionFile>;
}

const newestFirst = (a: FoundSession, b: FoundSession) =>
  Date.parse(b.record.start) - Date.parse(a.record.start) || a.record.id.localeCompare(b.record.id);

/**
 * The `limit` sessions that started last, newest first. `read` gives a
 * folder's record, or undefined when it is gone or unreadable (skipped).
 */
export async function newestSessions(
  folders: readonly SessionFolder[],
  limit: number,
  read: (id: string) => Promise<SessionRecord | undefined>,
): Promise<FoundSession[]> {
  let kept: FoundSession[] = [];
  for (let i = 0; i < folders.length; i += BATCH) {
    const oldestKept = kept.length >= limit ? Date.parse(kept[limit - 1]?.record.start ?? '') : -Infinity;
    const batch = folders.slice(i, i + BATCH).filter((f) => f.recordModified + CLOCK_SKEW_MS >= oldestKept);
    if (batch.length === 0) break;
    const records = await Promise.all(batch.map(async (f) => ({ record: await read(f.id), files: f.files })));
    const found = records.filter((r): r is FoundSession => r.record !== undefined);
    kept = [...kept, ...found].sort(newestFirst).slice(0, limit);
  }
  return kept;
}

/** A session as listed: its record, and the URLs of the recordings stored beside it. */
export function listedSession(found: FoundSession, publicUrl: string): ListedSession {
  const { record, files } = found;
  const folder = `${publicUrl}${sessionPath(record.namespace, record.tunnel, record.id)}`;
  return {
    ...record,
    ...(files.has(SESSION_FILES.video) ? { video: `${folder}${SESSION_FILES.video}` } : {}),
    ...(files.has(SESSION_FILES.log) ? { log: `${folder}${SESSION_FILES.log}` } : {}),
  };
}

/** `?limit=`: a whole number from 1 to MAX_LIMIT, DEFAULT_LIMIT when absent; a message when it is neither. */
export function parseLimit(value: string | null): number | { error: string } {
  if (value === null) return DEFAULT_LIMIT;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_LIMIT) return { error: `?limit=${value}: expected a whole number from 1 to ${MAX_LIMIT}` };
  return n;
}
