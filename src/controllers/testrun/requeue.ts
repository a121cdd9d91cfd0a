// When a TestRun is looked at again. A queued run follows its pool's queue of
// lease requests through the watch (queueChanged), not on a timer: with
// thousands of queued runs a timer kept every worker busy and the workqueue
// never empty while nothing changed.
import type { KubeObject } from '../../api/meta.ts';
import type { TestRunObject } from '../../api/objects.ts';
import { POOL_LABEL, REQUEST_LABEL } from '../../contracts/browser-lease.ts';
import type { Request } from '../../runtime/resource.ts';

const poolOf = (run: KubeObject) => (run as TestRunObject).spec?.poolRef?.name;
const phaseOf = (run: KubeObject) => (run as TestRunObject).status?.phase;

/**
 * The queued runs whose queuePosition a lease request's add, change or removal may move: those on the
 * request's pool in its namespace. A run not yet reconciled is left to its own event.
 */
export function queueChanged(request: KubeObject, runs: readonly KubeObject[]): Request[] {
  const labels = request.metadata.labels ?? {};
  const pool = labels[POOL_LABEL];
  if (labels[REQUEST_LABEL] !== 'true' || pool === undefined) return [];
  const namespace = request.metadata.namespace;
  return runs
    .filter((run) => run.metadata.namespace === namespace && poolOf(run) === pool && phaseOf(run) === 'Queued')
    .map((run) => ({ namespace: namespace ?? '', name: run.metadata.name ?? '' }));
}

/**
 * How long until an unfinished run's next pass: running shards are looked at every `progressMs` (which
 * also asks their runners for progress); otherwise only the deadline, since events bring every change.
 */
export function nextLookMs(running: number, untilDeadlineMs: number, progressMs: number): number {
  return running > 0 ? Math.min(progressMs, untilDeadlineMs) : untilDeadlineMs;
}
