// Stopping a TestRun: its runners stopped, its queued requests withdrawn and
// every browser it holds handed back; when it times out, once it has finished
// (and deleted after ttlSecondsAfterFinished), and when it is deleted.
import { LEASE, POD, type PodObject } from '../../api/builtin.ts';
import type { TestRunObject } from '../../api/objects.ts';
import { TEST_RUN } from '../../api/resources.ts';
import type { TestRun } from '../../api/v1alpha1/index.ts';
import { releaseBrowser } from '../../leasing/acquire.ts';
import { leaseOf } from '../../leasing/lease.ts';
import type { LeaseRequest } from '../../leasing/requests.ts';
import type { Outcome, Pass } from '../../runtime/reconciler.ts';
import { objectPath } from '../../runtime/resource.ts';
import { ignoreNotFound } from '../../runtime/rest.ts';
import type { TestRunMetrics } from './metrics.ts';
import { isFinalShard } from './plan.ts';
import { finish } from './status.ts';
import { runnerPods, runnerView } from './view.ts';

export async function deletePod(pass: Pass, name: string): Promise<void> {
  await ignoreNotFound(pass.rest.delete(objectPath(POD, { namespace: pass.request.namespace, name })));
}

/** Deletes the run's waiting lease requests. */
async function withdrawRequests(pass: Pass, run: TestRunObject): Promise<void> {
  const requests = pass.cache<LeaseRequest>(LEASE).ownedBy(run.metadata.uid ?? '');
  for (const r of requests) {
    const ref = { namespace: pass.request.namespace, name: r.metadata.name ?? '' };
    await ignoreNotFound(pass.rest.delete(objectPath(LEASE, ref)));
  }
}

/** Stops the run's runners and hands back every browser it holds. */
async function stopEverything(pass: Pass, run: TestRunObject): Promise<void> {
  const { namespace } = pass.request;
  await withdrawRequests(pass, run);
  for (const pod of runnerPods(pass, run)) {
    // A runner that has finished keeps its pod (and its log) even while the pod's phase still says Running.
    const { phase } = runnerView(pod);
    if (phase !== 'Succeeded' && phase !== 'Failed') await deletePod(pass, pod.metadata.name ?? '');
  }
  const prefix = `${run.metadata.uid}/`;
  for (const pod of pass.cache<PodObject>(POD).list({ namespace })) {
    const holder = leaseOf(pod)?.holder;
    if (holder?.startsWith(prefix)) {
      await releaseBrowser(pass.rest, { namespace, name: pod.metadata.name ?? '' }, holder);
    }
  }
}

/** A run past its timeoutSeconds: runners stopped, unfinished shards failed, the run Failed. */
export async function timeOut(
  pass: Pass,
  run: TestRunObject,
  spec: TestRun,
  metrics: TestRunMetrics,
): Promise<Outcome> {
  await stopEverything(pass, run);
  const message = `the run did not finish within timeoutSeconds (${spec.spec.timeoutSeconds} s); its runners were stopped`;
  const shards = (run.status?.shards ?? []).map((s) =>
    isFinalShard(s) ? s : { ...s, phase: 'Failed' as const, message: 'stopped: the run timed out' });
  await pass.events.emit(run, { type: 'Warning', reason: 'Timeout', action: 'Reconcile', note: message });
  return finish(run, spec, { phase: 'Failed', reason: 'Timeout', message, shards }, pass, metrics);
}

/** A finished run: leftovers released, and deleted after ttlSecondsAfterFinished when its policy says so. */
export async function finishedRun(pass: Pass, run: TestRunObject, spec: TestRun): Promise<Outcome | void> {
  await stopEverything(pass, run);
  const ttl = spec.spec.ttlSecondsAfterFinished;
  const completed = Date.parse(run.status?.completionTime ?? '');
  if (ttl === undefined || Number.isNaN(completed)) return;
  if (spec.spec.cleanupPolicy === 'OnSuccess' && run.status?.phase !== 'Succeeded') return;
  const dueInMs = completed + ttl * 1000 - pass.now.getTime();
  if (dueInMs > 0) return { requeueAfter: dueInMs };
  pass.log.info({ ttlSecondsAfterFinished: ttl }, 'deleting the finished run (ttlSecondsAfterFinished)');
  await pass.rest.delete(objectPath(TEST_RUN, pass.request), { propagationPolicy: 'Background' });
}

/** The run is being deleted: once this returns, the frame removes the cleanup finalizer. */
export async function cleanUp(run: TestRunObject, pass: Pass): Promise<void> {
  await stopEverything(pass, run);
  pass.log.info('TestRun deleted: runners stopped, browsers released');
}
