// Live progress of running shards: each runner serves its running counts on
// its progress port (src/runner/progress.ts). The controller asks every
// running runner at most every PROGRESS_INTERVAL_MS, in the background, so
// that a reconcile never waits on a runner: a pass reads the last answer and
// starts the next ask, and the pass after it writes what came back. A runner
// that does not answer (another image, a network policy) only has no progress.
import type { Logger } from 'pino';
import type { PodObject } from '../../api/builtin.ts';
import { Progress, PROGRESS_PATH, PROGRESS_PORT_NAME } from '../../contracts/progress.ts';
import type { ShardProgress } from './plan.ts';

/** How often one runner is asked at most; a running run is reconciled this often. */
export const PROGRESS_INTERVAL_MS = 2_500;
const PROGRESS_TIMEOUT_MS = 1_500;
/** A runner not read for this long has finished or moved on: its entry goes. */
const FORGET_AFTER_MS = 60_000;

/** Where a running runner pod serves its progress; undefined when it does not run or declares no progress port. */
export function progressUrl(pod: PodObject): string | undefined {
  if (pod.status?.phase !== 'Running' || !pod.status.podIP) return undefined;
  const containers = pod.spec?.containers ?? [];
  const port = containers.flatMap((c) => c.ports ?? []).find((p) => p.name === PROGRESS_PORT_NAME)?.containerPort;
  if (!port) return undefined;
  const host = pod.status.podIP.includes(':') ? `[${pod.status.podIP}]` : pod.status.podIP;
  return `http://${host}:${port}${PROGRESS_PATH}`;
}

export async function fetchProgress(url: string): Promise<Progress> {
  const response = await fetch(url, { signal: AbortSignal.timeout(PROGRESS_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return Progress.parse(await response.json());
}

interface Entry {
  value?: ShardProgress;
  askedAt: number;
  asking: boolean;
  readAt: number;
}

export interface RunnerProgressOptions {
  fetch?: (url: string) => Promise<Progress>;
  intervalMs?: number;
  now?: () => number;
}

/** The last progress each running runner pod reported, keyed by pod UID (one per attempt). */
export class RunnerProgress {
  private readonly entries = new Map<string, Entry>();
  private readonly fetch: (url: string) => Promise<Progress>;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(options: RunnerProgressOptions = {}) {
    this.fetch = options.fetch ?? fetchProgress;
    this.intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * What the runner last reported (undefined before its first answer); asks
   * again when the last ask is due, logging a failed ask at debug on `log`.
   */
  read(pod: PodObject, log: Logger): ShardProgress | undefined {
    const now = this.now();
    this.forgetOld(now);
    const uid = pod.metadata.uid;
    const url = progressUrl(pod);
    if (!uid || !url) return undefined;
    const entry = this.entries.get(uid) ?? { askedAt: -Infinity, asking: false, readAt: now };
    this.entries.set(uid, entry);
    entry.readAt = now;
    if (!entry.asking && now - entry.askedAt >= this.intervalMs) this.ask(uid, entry, url, now, log);
    return entry.value;
  }

  /** Answers still expected, for tests. */
  get pending(): number {
    return [...this.entries.values()].filter((e) => e.asking).length;
  }

  private ask(uid: string, entry: Entry, url: string, now: number, log: Logger): void {
    entry.asking = true;
    entry.askedAt = now;
    this.fetch(url).then(
      ({ passed, failed, flaky, skipped, total }) => {
        entry.value = { passed, failed, flaky, skipped, total };
      },
      (err: unknown) => log.debug({ runner: uid, url, err: String(err) }, 'runner did not report progress'),
    ).finally(() => {
      entry.asking = false;
    });
  }

  private forgetOld(now: number): void {
    for (const [uid, entry] of this.entries) if (now - entry.readAt > FORGET_AFTER_MS) this.entries.delete(uid);
  }
}
