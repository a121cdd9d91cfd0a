// Follows one TestRun through the API server (a list+watch of the namespace's
// TestRuns, the runtime's informer) and draws it until it finishes: bars
// redrawn in place on a terminal, changed lines only anywhere else.
import { pino } from 'pino';
import type { KubeObject } from '../api/meta.ts';
import { isFinished, type TestRunObject } from '../api/objects.ts';
import { TEST_RUN } from '../api/resources.ts';
import { Informer } from '../runtime/informer.ts';
import type { Cluster } from './kube.ts';
import { awaitsReport, elapsedSince, frame, plainUpdates } from './render.ts';

const SYNC_TIMEOUT_MS = 20_000;

export interface FollowOptions {
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Redraw bars in place (a terminal); else print changed lines. */
  tty: boolean;
  signal?: AbortSignal;
}

/** Draws `lines` over the ones drawn before (cursor up, clear each line). */
class Redraw {
  private drawn = 0;
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.out = out;
  }

  draw(lines: string[]): void {
    const columns = (this.out as NodeJS.WriteStream).columns ?? 120;
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    // Cut to the terminal's width: a wrapped line would take two rows and break the next redraw.
    const body = lines.map((l) => `\x1b[2K${l.length >= columns ? `${l.slice(0, columns - 2)}…` : l}\n`).join('');
    this.out.write(up + body);
    this.drawn = lines.length;
  }
}

/** Resolves with the finished run; rejects when it is deleted, or when the API server cannot be reached at first. */
export async function followRun(cluster: Cluster, name: string, options: FollowOptions): Promise<TestRunObject> {
  const informer = new Informer<KubeObject>(cluster.rest, TEST_RUN, pino({ level: 'silent' }), {
    namespace: cluster.namespace,
  });
  let latest: TestRunObject | undefined;
  const redraw = new Redraw(options.out);
  const printed = new Map<string, string>();
  const show = () => {
    if (!latest) return;
    if (options.tty) redraw.draw(frame(latest, elapsedSince(latest.status?.startTime, Date.now())));
    else for (const line of plainUpdates(latest, printed)) options.out.write(`${line}\n`);
  };

  let settle: { resolve: (run: TestRunObject) => void; reject: (err: Error) => void } | undefined;
  const finished = new Promise<TestRunObject>((resolve, reject) => (settle = { resolve, reject }));
  const seen = (obj: KubeObject) => {
    if (obj.metadata.name !== name) return;
    latest = obj as TestRunObject;
    show();
    if (isFinished(latest)) settle?.resolve(latest);
  };
  informer.addHandler({
    onAdd: seen,
    onUpdate: (_old, obj) => seen(obj),
    onDelete: (obj) => {
      if (obj.metadata.name === name) settle?.reject(new Error(`TestRun ${cluster.namespace}/${name} was deleted`));
    },
  });
  informer.start();
  const ticker = options.tty ? setInterval(show, 1000) : undefined;
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new Error('stopped following'));
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
  });
  // Either may settle after this returns; the races below are what reads them.
  aborted.catch(() => undefined);
  finished.catch(() => undefined);
  try {
    const synced = informer.waitForSync().then(() => true);
    const timeout = new Promise<false>((r) => setTimeout(() => r(false), SYNC_TIMEOUT_MS).unref());
    if (!(await Promise.race([synced, timeout, aborted]))) {
      // The informer retries quietly; one plain request says why it does not get through.
      await cluster.get(`/apis/${TEST_RUN.apiVersion}/namespaces/${cluster.namespace}/testruns/${name}`);
      throw new Error(`cannot list TestRuns in namespace ${cluster.namespace} within ${SYNC_TIMEOUT_MS / 1000} s`);
    }
    if (!latest) throw new Error(`TestRun ${cluster.namespace}/${name} not found`);
    return await Promise.race([finished, aborted]);
  } finally {
    if (ticker) clearInterval(ticker);
    show();
    await informer.stop();
  }
}

/** How long `fleetwright run --follow` waits for the merged report after the run has finished. */
export const REPORT_WAIT_MS = 60_000;

/**
 * The run once status.reportURL is set, or as last read when `timeoutMs`
 * passes or `signal` aborts first; reads it with `get` every `intervalMs`.
 * Never waits for a run none of whose shards uploaded a report.
 */
export async function waitForReport(
  run: TestRunObject,
  get: () => Promise<TestRunObject>,
  options: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<TestRunObject> {
  const { timeoutMs = REPORT_WAIT_MS, intervalMs = 1000, signal } = options;
  const deadline = Date.now() + timeoutMs;
  let latest = run;
  while (awaitsReport(latest) && Date.now() < deadline && !signal?.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(intervalMs, Math.max(0, deadline - Date.now())));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
    if (signal?.aborted) break;
    try {
      latest = await get();
    } catch {
      // Deleted meanwhile, or the API server did not answer: the report is not to be had here.
      break;
    }
  }
  return latest;
}
