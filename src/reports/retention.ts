// Retention: a run's reports go with the run, and no report outlives
// --max-age. A deleted TestRun's prefix is removed when the informer reports
// the delete; a periodic sweep compares every stored <ns>/<name>/<uid> with
// the TestRuns that exist, so a delete missed while the store was down is
// caught up, and removes what is older than --max-age. A Tunnel's sessions
// (session-paths.ts) go the same ways: with the Tunnel, each once older than
// --max-age. Dependency cache entries (cache-paths.ts) belong to no run:
// --max-age alone ends them.
import type { Logger } from 'pino';
import type { RunView, TunnelView } from './auth.ts';
import { cachePrefix, expiredCacheEntries } from './cache-paths.ts';
import { runOfKey, runPrefix, type StoredRunRef } from './paths.ts';
import { sessionOfKey, sessionPrefix, sessionsRoot, tunnelSessionsPrefix } from './session-paths.ts';
import type { ReportStorage, StoredObject } from './storage.ts';

export interface Expired extends StoredRunRef {
  prefix: string;
  reason: 'deleted' | 'expired';
}

/**
 * Pure: the stored run prefixes to delete. A prefix whose uid is not the uid
 * of an existing TestRun of that name is `deleted`; one whose newest object
 * is older than `maxAgeMs` is `expired`. Keys of any other shape are left
 * alone (they are not the store's).
 */
export function retentionPlan(
  stored: readonly StoredObject[],
  runs: readonly RunView[],
  now: Date,
  maxAgeMs: number,
): Expired[] {
  const newest = new Map<string, { ref: StoredRunRef; modified: number }>();
  for (const object of stored) {
    const ref = runOfKey(object.key);
    if (!ref) continue;
    const prefix = runPrefix(ref);
    const seen = newest.get(prefix);
    const modified = object.modified.getTime();
    if (!seen || modified > seen.modified) newest.set(prefix, { ref, modified });
  }
  const existing = new Set(runs.map((r) => runPrefix(r)));
  const plan: Expired[] = [];
  for (const [prefix, { ref, modified }] of newest) {
    if (!existing.has(prefix)) plan.push({ ...ref, prefix, reason: 'deleted' });
    else if (now.getTime() - modified > maxAgeMs) plan.push({ ...ref, prefix, reason: 'expired' });
  }
  return plan.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

export interface ExpiredSessions extends StoredRunRef {
  prefix: string;
  /** deleted: every session of a Tunnel that no longer exists; expired: one session. */
  reason: 'deleted' | 'expired';
  /** The session, when one expired. */
  id?: string;
}

/**
 * Pure: the stored session prefixes to delete. All sessions of a Tunnel
 * whose uid is not the uid of an existing Tunnel of that name go at once;
 * of an existing Tunnel, each session whose newest file is older than
 * `maxAgeMs`. Keys of any other shape are left alone.
 */
export function sessionRetentionPlan(
  stored: readonly StoredObject[],
  tunnels: readonly TunnelView[],
  now: Date,
  maxAgeMs: number,
): ExpiredSessions[] {
  const existing = new Set(tunnels.map((t) => tunnelSessionsPrefix(t)));
  const plan = new Map<string, ExpiredSessions>();
  const newest = new Map<string, { ref: StoredRunRef; id: string; modified: number }>();
  for (const object of stored) {
    const session = sessionOfKey(object.key);
    if (!session) continue;
    const ref = { namespace: session.namespace, name: session.name, uid: session.uid };
    const tunnelPrefix = tunnelSessionsPrefix(ref);
    if (!existing.has(tunnelPrefix)) {
      plan.set(tunnelPrefix, { ...ref, prefix: tunnelPrefix, reason: 'deleted' });
      continue;
    }
    const prefix = sessionPrefix(ref, session.id);
    const modified = object.modified.getTime();
    if ((newest.get(prefix)?.modified ?? -Infinity) < modified) newest.set(prefix, { ref, id: session.id, modified });
  }
  for (const [prefix, { ref, id, modified }] of newest) {
    if (now.getTime() - modified > maxAgeMs) plan.set(prefix, { ...ref, prefix, reason: 'expired', id });
  }
  return [...plan.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
}

export interface RetentionDeps {
  storage: ReportStorage;
  /** The TestRuns that exist (the informer cache, synced). */
  runs(): RunView[];
  /** The Tunnels that exist (the informer cache, synced). */
  tunnels(): TunnelView[];
  /** Only this namespace's reports are the store's (--watch-namespace); all when unset. */
  namespace?: string;
  maxAgeMs: number;
  intervalMs: number;
  log: Logger;
  now?: () => Date;
}

export class Retention {
  private readonly deps: RetentionDeps;
  private timer?: NodeJS.Timeout;
  /** One deletion or sweep at a time, in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(deps: RetentionDeps) {
    this.deps = deps;
  }

  /** Sweeps now and then every interval. */
  start(): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }

  /** The informer saw `run` deleted: remove its reports. */
  deleted(run: RunView): void {
    this.enqueue(async () => {
      const count = await this.deps.storage.deletePrefix(runPrefix(run));
      if (count > 0) this.deps.log.info({ namespace: run.namespace, name: run.name, uid: run.uid, objects: count }, 'deleted the report of a deleted TestRun');
    }, run);
  }

  /** The informer saw `tunnel` deleted: remove its sessions. */
  tunnelDeleted(tunnel: TunnelView): void {
    this.enqueue(async () => {
      const count = await this.deps.storage.deletePrefix(tunnelSessionsPrefix(tunnel));
      if (count > 0) {
        this.deps.log.info({ namespace: tunnel.namespace, name: tunnel.name, uid: tunnel.uid, objects: count }, 'deleted the sessions of a deleted Tunnel');
      }
    }, tunnel);
  }

  sweep(): Promise<void> {
    return this.enqueue(async () => {
      const { storage, namespace, log } = this.deps;
      const stored = await storage.list(namespace ? `${namespace}/` : '');
      const plan = retentionPlan(stored, this.deps.runs(), this.deps.now?.() ?? new Date(), this.deps.maxAgeMs);
      for (const item of plan) {
        const count = await storage.deletePrefix(item.prefix);
        const why = item.reason === 'deleted' ? 'its TestRun no longer exists' : 'it is older than --max-age';
        log.info({ namespace: item.namespace, name: item.name, uid: item.uid, objects: count }, `deleted a report: ${why}`);
      }
      const sessions = await storage.list(sessionsRoot(namespace));
      const now = this.deps.now?.() ?? new Date();
      for (const item of sessionRetentionPlan(sessions, this.deps.tunnels(), now, this.deps.maxAgeMs)) {
        const count = await storage.deletePrefix(item.prefix);
        const what = item.reason === 'deleted' ? 'the sessions of a Tunnel that no longer exists' : 'a session older than --max-age';
        log.info({ namespace: item.namespace, name: item.name, uid: item.uid, session: item.id, objects: count }, `deleted ${what}`);
      }
      const cached = await storage.list(cachePrefix(namespace));
      for (const prefix of expiredCacheEntries(cached, this.deps.now?.() ?? new Date(), this.deps.maxAgeMs)) {
        await storage.deletePrefix(prefix);
        log.info({ entry: prefix }, 'deleted a dependency cache entry: it is older than --max-age');
      }
    });
  }

  private enqueue(work: () => Promise<void>, owner?: StoredRunRef): Promise<void> {
    this.chain = this.chain.then(work).catch((err: unknown) => {
      const ref = owner ? { namespace: owner.namespace, name: owner.name, uid: owner.uid } : {};
      // The next sweep tries again.
      this.deps.log.error({ ...ref, err: String(err) }, 'could not delete reports');
    });
    return this.chain;
  }
}
