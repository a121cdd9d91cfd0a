// The merge queue: finished TestRuns whose status has no reportURL yet are
// merged one at a time (merging is CPU-heavy, and the store has 1-2 cores),
// retried with backoff when a merge or the status write fails. Level-based:
// the informer hands every cached run over at start, so a restarted store
// finds the finished but unmerged runs by itself.
import type { Logger } from 'pino';
import { isFinishedPhase } from '../api/objects.ts';
import { TEST_RUN } from '../api/resources.ts';
import { objectPath, parseKey } from '../runtime/resource.ts';
import { isNotFound, type RestClient, statusCode } from '../runtime/rest.ts';
import { ExponentialBackoff, WorkQueue } from '../runtime/workqueue.ts';
import { processQueue } from './queue-loop.ts';
import type { RunView } from './auth.ts';
import { reportPath } from '../contracts/report-store.ts';
import { mergeAction, mergeRun } from './merge.ts';
import type { ReportMetrics } from './metrics.ts';
import { runPrefix } from './paths.ts';
import type { UploadsInFlight } from './uploads.ts';
import type { ReportStorage } from './storage.ts';

export interface MergerDeps {
  run(namespace: string, name: string): RunView | undefined;
  storage: ReportStorage;
  rest: RestClient;
  metrics: ReportMetrics;
  uploads: UploadsInFlight;
  publicUrl: string;
  /** Playwright's cli.js. */
  cli: string;
  log: Logger;
  /** Backoff of failed merges: 1 s doubling to 5 min unless told. */
  backoff?: ExponentialBackoff;
}

export const reportURL = (publicUrl: string, run: { namespace: string; name: string }) =>
  `${publicUrl}${reportPath(run.namespace, run.name)}`;

export class Merger {
  readonly queue: WorkQueue;
  private readonly deps: MergerDeps;
  private loop?: Promise<void>;

  constructor(deps: MergerDeps) {
    this.deps = deps;
    this.queue = new WorkQueue({ backoff: deps.backoff ?? new ExponentialBackoff(1000, 5 * 60_000) });
  }

  /** Queues `run` when it has finished and its status does not point at its report yet. */
  consider(run: RunView | undefined): void {
    if (run && isFinishedPhase(run.phase) && run.reportURL !== reportURL(this.deps.publicUrl, run)) {
      this.queue.add(`${run.namespace}/${run.name}`);
    }
  }

  start(): void {
    this.loop ??= processQueue(this.queue, (key) => this.process(key), (key, err, retryInMs) =>
      this.deps.log.error({ ...parseKey(key), err: String(err), retryInMs }, 'could not merge the report; retrying'));
  }

  /** Takes no more runs; the merge in progress finishes (or the next start does it again). */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.loop;
  }

  private async process(key: string): Promise<void> {
    const { namespace, name } = parseKey(key);
    const { storage, uploads, metrics, publicUrl } = this.deps;
    const run = this.deps.run(namespace, name);
    if (!run || !isFinishedPhase(run.phase)) return;
    // A shard's upload that began before the run finished is still part of it.
    if (uploads.active(key)) return this.queue.addAfter(key, 1000);
    const log = this.deps.log.child({ namespace, name, uid: run.uid });
    const url = reportURL(publicUrl, run);
    const action = mergeAction(run, await storage.list(runPrefix(run)), url);
    if (action.kind === 'none') return void log.debug({ why: action.why }, 'nothing to merge');
    if (action.kind === 'merge') {
      const started = performance.now();
      let result = 'error';
      try {
        const files = await mergeRun({ storage, run, blobs: action.blobs, cli: this.deps.cli, log });
        result = 'ok';
        log.info({ shards: action.blobs.length, files, seconds: (performance.now() - started) / 1000 }, 'merged the shards\' reports');
      } finally {
        metrics.mergeSeconds.observe({ result }, (performance.now() - started) / 1000);
      }
      // Deleted (or replaced by a new run of the name) while merging: the report goes with it.
      if (this.deps.run(namespace, name)?.uid !== run.uid) {
        await storage.deletePrefix(runPrefix(run));
        return void log.info('the run was deleted while merging; removed its report');
      }
    }
    await this.publish(run, url, log);
  }

  /**
   * Writes status.reportURL onto this incarnation of the run only. A merge
   * patch cannot say that (the /status subresource ignores metadata, uid
   * included); a JSON patch's `test` of the uid can: a new run of the same
   * name never gets the old one's URL (and so is merged itself in turn).
   */
  private async publish(run: RunView, url: string, log: Logger): Promise<void> {
    try {
      await this.deps.rest.request('PATCH', objectPath(TEST_RUN, run, 'status'), {
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/metadata/uid', value: run.uid },
          { op: 'add', path: '/status/reportURL', value: url },
        ],
      });
      log.info({ reportURL: url }, 'published the report');
    } catch (err) {
      // 422: the test failed (or the patch did not apply); the cache says whether the run is another one now.
      const replaced = statusCode(err) === 422 && this.deps.run(run.namespace, run.name)?.uid !== run.uid;
      if (isNotFound(err) || replaced) return void log.info({ err: String(err) }, 'the run is gone; not publishing');
      throw err;
    }
  }
}
