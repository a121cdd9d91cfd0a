// When a TestRun is looked at again. A queued run follows its pool's queue of
// lease requests through the watch, not on a timer: with thousands of queued
// runs a timer kept every worker busy and the workqueue never empty while
// nothing changed. And only the runs whose place moved: waking every queued
// run of the pool at each change made each change cost as many passes as the
// queue was long.
import type { KubeObject } from '../../api/meta.ts';
import type { TestRunObject } from '../../api/objects.ts';
import { TEST_RUN } from '../../api/resources.ts';
import type { QueueIndex } from '../../leasing/queue-index.ts';
import type { LeaseRequest } from '../../leasing/requests.ts';
import { keyOf, type Request } from '../../runtime/resource.ts';

/**
 * The queued runs owning the requests whose place moved, each once. A run not yet reconciled is left to its
 * own event; one running already shows no place.
 */
export function queuedOwners(
  moved: readonly LeaseRequest[],
  runOf: (key: string) => TestRunObject | undefined,
): Request[] {
  const runs = new Map<string, Request>();
  for (const request of moved) {
    const namespace = request.metadata.namespace ?? '';
    for (const ref of request.metadata.ownerReferences ?? []) {
      if (ref.kind !== TEST_RUN.kind) continue;
      const run = { namespace, name: ref.name };
      if (runOf(keyOf(run))?.status?.phase === 'Queued') runs.set(keyOf(run), run);
    }
  }
  return [...runs.values()];
}

/** The Lease watch of the TestRun controller: each change goes into `index`, and wakes the runs it moved. */
export function queueMoves(index: QueueIndex, runOf: (key: string) => TestRunObject | undefined) {
  return (before: KubeObject | undefined, after: KubeObject | undefined): Request[] => {
    const moved = after ? index.set(after) : before ? index.delete(before) : [];
    return queuedOwners(moved, runOf);
  };
}

/**
 * How long until an unfinished run's next pass: running shards are looked at every `progressMs` (which
 * also asks their runners for progress); otherwise only the deadline, since events bring every change.
 */
export function nextLookMs(running: number, untilDeadlineMs: number, progressMs: number): number {
  return running > 0 ? Math.min(progressMs, untilDeadlineMs) : untilDeadlineMs;
}
