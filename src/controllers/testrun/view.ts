// How the TestRun controller reads pods: its runner pods, as what each
// attempt of a shard did, and the browser pods leased to it.
import { type NodeObject, POD, type PodObject } from '../../api/builtin.ts';
import type { TestRunObject } from '../../api/objects.ts';
import { FETCH_SOURCE_CONTAINER } from '../../contracts/git-source.ts';
import { parseShardSummary } from '../../contracts/shard-summary.ts';
import { endpointOf } from '../../leasing/lease.ts';
import { podNodeLost } from '../../leasing/nodes.ts';
import { isControlledBy } from '../../runtime/owners.ts';
import type { Pass } from '../../runtime/reconciler.ts';
import type { BrowserView, RunnerView } from './plan.ts';
import { ATTEMPT_LABEL } from './pod.ts';

/** The lease holder of one attempt of one shard: unique per attempt, so a lease names exactly what holds it. */
export const holderOf = (uid: string, index: number, attempt: number) => `${uid}/${index}/${attempt}`;

/** The runner pods the run controls. */
export function runnerPods(pass: Pass, run: TestRunObject): PodObject[] {
  return pass.cache<PodObject>(POD).ownedBy(run.metadata.uid ?? '').filter((p) => isControlledBy(p, run));
}

export function browserView(pod: PodObject | undefined): BrowserView | undefined {
  if (!pod) return undefined;
  const lost = pod.metadata.deletionTimestamp !== undefined || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
  const endpoint = endpointOf(pod);
  return { name: pod.metadata.name ?? '', lost, ...(endpoint ? { endpoint } : {}) };
}

/**
 * What one runner pod did, as far as its status says; with `nodeOf`, also
 * whether its node is lost (its status then says nothing true any more).
 */
export function runnerView(
  pod: PodObject,
  nodeOf: (name: string) => NodeObject | undefined = () => undefined,
): RunnerView {
  const nodeLost = podNodeLost(pod, nodeOf);
  const fetch = pod.status?.initContainerStatuses?.find((c) => c.name === FETCH_SOURCE_CONTAINER)?.state?.terminated;
  if (fetch && fetch.exitCode !== 0) {
    // The runner never started: the shard ends on fetch-source's message, not on a missing summary.
    return {
      name: pod.metadata.name ?? '',
      attempt: Number(pod.metadata.labels?.[ATTEMPT_LABEL]),
      phase: 'Failed',
      terminating: pod.metadata.deletionTimestamp !== undefined,
      ...(fetch.exitCode !== undefined ? { exitCode: fetch.exitCode } : {}),
      sourceError: fetch.message?.trim() || `fetch-source exited with code ${fetch.exitCode ?? '?'}`,
      ...(nodeLost ? { nodeLost } : {}),
    };
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === 'runner')?.state?.terminated;
  // The runner is the pod's one container and never restarts: once it has terminated the shard is done, even
  // while the pod's phase lags behind (a sandbox whose teardown hangs keeps the pod Running).
  const containerPhase = terminated && (terminated.exitCode === 0 ? 'Succeeded' : 'Failed');
  const phase = (containerPhase || pod.status?.phase || 'Pending') as RunnerView['phase'];
  const parsed = terminated?.message ? parseShardSummary(terminated.message) : undefined;
  const infraReason = terminated?.reason === 'OOMKilled' ? 'OOMKilled' : pod.status?.reason;
  return {
    name: pod.metadata.name ?? '',
    attempt: Number(pod.metadata.labels?.[ATTEMPT_LABEL]),
    phase: ['Pending', 'Running', 'Succeeded', 'Failed'].includes(phase) ? phase : 'Pending',
    terminating: pod.metadata.deletionTimestamp !== undefined,
    ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
    ...(infraReason ? { infraReason } : {}),
    ...(parsed?.ok ? { summary: parsed.value } : {}),
    ...(terminated?.message && !parsed?.ok ? { output: terminated.message } : {}),
    ...(nodeLost ? { nodeLost } : {}),
  };
}
