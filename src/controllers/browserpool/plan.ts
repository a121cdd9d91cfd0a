// What a BrowserPool should look like, computed from what is observed: a pure
// function, so every scaling rule is a unit test away.
import { type BrowserPoolSpec, DEFAULT_REPLICAS } from '../../api/v1alpha1/index.ts';
import type { BrowserState } from '../../contracts/browser-lease.ts';

/** What the controller needs to know about one browser pod. */
export interface BrowserPodView {
  name: string;
  state: BrowserState;
  ready: boolean;
  /** When the agent exited for good (pod phase Failed or Succeeded; browser pods never restart in place). */
  finishedAt?: Date;
  terminating: boolean;
  /** When it last became idle (annotation), else when it was created. */
  idleSince: Date;
  /** Leases it has served (annotation written by each acquire). */
  sessions: number;
  /** Why it stopped, or why its container cannot start (image pull, config): for Degraded. */
  failure?: string;
  /** Its container cannot start and will not without a change (ImagePullBackOff and the like). */
  stuck: boolean;
  createdAt: Date;
  /** The Playwright versions its agent reported (annotation), the default first, once the controller has asked. */
  playwrightVersions?: string[];
  /** Set: the node it runs on is NotReady, and why. The pod serves nobody any more, whatever its status says. */
  nodeLost?: string;
}

export interface PoolStatusCounts {
  replicas: number;
  /** What the pool aims for (the printer column Desired): spec.replicas, or what autoscaling asks for now. */
  desiredReplicas: number;
  readyReplicas: number;
  idle: number;
  busy: number;
  starting: number;
  waiting: number;
}

export interface PodRemoval {
  name: string;
  reason: 'ScaledDown' | 'Recycled' | 'FailedPodRemoved' | 'NodeLost';
  message: string;
}

export interface ConditionPlan {
  type: 'Ready' | 'ScalingLimited' | 'Degraded' | 'ScaleIgnored';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface PoolPlan {
  /** How many new browser pods to create. */
  create: number;
  /** Pods to delete, each with the reason and message an Event and a log line will give. */
  delete: PodRemoval[];
  /** Ready pods still labelled starting, to open for leasing. */
  markIdle: string[];
  desired: number;
  status: PoolStatusCounts;
  conditions: ConditionPlan[];
  /** Set: autoscaling overrides the size spec.replicas asks for; said as a condition, and an Event when it appears. */
  scaleIgnored?: ConditionPlan;
  /** When to look again though nothing changes (an idle pod passes scaleDownDelaySeconds). */
  requeueAfterMs?: number;
}

/**
 * Failed browser pods stay for `kubectl logs` for this long, at most
 * KEEP_FAILED of them, and count as recent failures: from FAILING_AFTER of
 * them the pool is Degraded and waits before each new pod, doubling the wait
 * as kubelet's CrashLoopBackOff does (browser pods run with restartPolicy
 * Never, so a dead browser is a new pod, never a reused one).
 */
export const FAILURE_WINDOW_MS = 15 * 60_000;
const KEEP_FAILED = 8;
const FAILING_AFTER = 3;
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 5 * 60_000;

/** How long after the last failure the next pod may start, given `failures` recent ones. */
export function failureBackoffMs(failures: number): number {
  if (failures < FAILING_AFTER) return 0;
  return Math.min(BACKOFF_BASE_MS * 2 ** (failures - FAILING_AFTER), BACKOFF_MAX_MS);
}

/** The pod count to keep: spec.replicas, or clamp(busy + waiting + idleBuffer, min, max) when autoscaling. */
export function desiredReplicas(spec: BrowserPoolSpec, busy: number, waiting: number): number {
  const scaling = spec.autoscaling;
  if (!scaling) return spec.replicas;
  return Math.min(Math.max(busy + waiting + scaling.idleBuffer, scaling.minReplicas), scaling.maxReplicas);
}

/**
 * Whether spec.replicas asks for something autoscaling overrides. The API
 * server stores DEFAULT_REPLICAS for a pool that gave none, so any other
 * number was asked for (`kubectl scale`, a HorizontalPodAutoscaler, an edit)
 * and is ignored: said on the pool with how to change its size instead.
 */
export function scaleIgnored(spec: BrowserPoolSpec): ConditionPlan | undefined {
  const scaling = spec.autoscaling;
  if (!scaling || spec.replicas === DEFAULT_REPLICAS) return undefined;
  return {
    type: 'ScaleIgnored',
    status: 'True',
    reason: 'AutoscalingEnabled',
    message:
      `spec.replicas ${spec.replicas} is ignored while spec.autoscaling is set: the pool scales with demand between ` +
      `autoscaling.minReplicas ${scaling.minReplicas} and maxReplicas ${scaling.maxReplicas} (status.desiredReplicas ` +
      'is what it aims for now). Change autoscaling.minReplicas or maxReplicas, or remove spec.autoscaling for a ' +
      'fixed size of spec.replicas',
  };
}

export function planPool(spec: BrowserPoolSpec, pods: BrowserPodView[], waiting: number, now: Date): PoolPlan {
  const live = pods.filter((p) => !p.terminating);
  const remove: PodRemoval[] = [];
  let requeueAfterMs: number | undefined;
  const requeueIn = (ms: number) => (requeueAfterMs = Math.min(requeueAfterMs ?? ms, ms));

  const failed = live
    .filter((p): p is BrowserPodView & { finishedAt: Date } => p.finishedAt !== undefined)
    .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const recentFailures = failed.filter(
    (p, i) => i < KEEP_FAILED && now.getTime() - p.finishedAt.getTime() < FAILURE_WINDOW_MS,
  );
  for (const p of failed.slice(recentFailures.length)) {
    const message = `removing browser pod ${p.name}, failed at ${p.finishedAt.toISOString()}`;
    remove.push({ name: p.name, reason: 'FailedPodRemoved', message });
  }
  const oldest = recentFailures.at(-1);
  if (oldest) requeueIn(oldest.finishedAt.getTime() + FAILURE_WINDOW_MS - now.getTime());

  // A lost node's browsers are gone for the pool at once, leased ones too: their holders see them deleted
  // and retry or close as for any lost browser, and the pool replaces them on the nodes that are left.
  // The node lifecycle controller would evict them only after their 300 s tolerations.
  for (const p of live) {
    if (p.finishedAt || !p.nodeLost) continue;
    const message = `browser pod ${p.name} was ${p.state} on a lost node: ${p.nodeLost}; replacing it`;
    remove.push({ name: p.name, reason: 'NodeLost', message });
  }

  const recycle = spec.recycleAfterSessions;
  for (const p of live) {
    if (!p.finishedAt && !p.nodeLost && recycle !== undefined && p.state === 'idle' && p.sessions >= recycle) {
      const message = `browser pod ${p.name} served ${p.sessions} sessions (recycleAfterSessions ${recycle})`;
      remove.push({ name: p.name, reason: 'Recycled', message });
    }
  }
  const removed = new Set(remove.map((r) => r.name));
  const active = live.filter((p) => !p.finishedAt && !removed.has(p.name));
  const busy = active.filter((p) => p.state === 'leased');
  const idle = active.filter((p) => p.ready && p.state !== 'leased');
  const starting = active.filter((p) => !p.ready && p.state !== 'leased');
  const desired = desiredReplicas(spec, busy.length, waiting);

  let create = Math.max(0, desired - active.length);
  const lastFailure = recentFailures[0];
  if (create > 0 && lastFailure) {
    const waitMs = lastFailure.finishedAt.getTime() + failureBackoffMs(recentFailures.length) - now.getTime();
    if (waitMs > 0) {
      create = 0;
      requeueIn(waitMs);
    }
  }
  let excess = active.length - desired;
  if (excess > 0) {
    // Starting pods go first (nobody waits on them yet), then the longest-idle ones; leased pods never.
    const scaledDown = (p: BrowserPodView) =>
      remove.push({ name: p.name, reason: 'ScaledDown', message: `scaling down to ${desired}: removing ${p.name}` });
    for (const p of starting.slice(0, excess)) scaledDown(p);
    excess -= Math.min(excess, starting.length);
    const delayMs = (spec.autoscaling?.scaleDownDelaySeconds ?? 0) * 1000;
    const byIdleAge = [...idle].sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime());
    for (const p of byIdleAge) {
      if (excess === 0) break;
      const eligibleInMs = p.idleSince.getTime() + delayMs - now.getTime();
      if (eligibleInMs <= 0) {
        scaledDown(p);
        excess--;
      } else {
        requeueIn(eligibleInMs);
      }
    }
  }

  const stuck = active.find((p) => p.stuck);
  const scaling = spec.autoscaling;
  const conditions: ConditionPlan[] = [
    idle.length > 0
      ? { type: 'Ready', status: 'True', reason: 'BrowsersIdle', message: `${idle.length} idle browser(s) ready to lease` }
      : {
          type: 'Ready',
          status: 'False',
          reason: active.length === 0 ? 'NoBrowsers' : 'NoIdleBrowsers',
          message:
            active.length === 0
              ? 'no browser pods yet'
              : `all ${active.length} browser pod(s) are busy or starting; ${waiting} lease request(s) waiting`,
        },
    // Limited when someone waits because of the cap; an idle buffer that does not fit is no one's loss.
    scaling && busy.length + waiting > scaling.maxReplicas
      ? {
          type: 'ScalingLimited',
          status: 'True',
          reason: 'MaxReplicas',
          message:
            `demand is ${busy.length + waiting} browsers (busy ${busy.length} + waiting ${waiting}), ` +
            `above autoscaling.maxReplicas ${scaling.maxReplicas}`,
        }
      : { type: 'ScalingLimited', status: 'False', reason: 'WithinLimits', message: `${desired} browser pod(s) wanted` },
    degraded(stuck, recentFailures, now),
  ];
  const ignored = scaleIgnored(spec);

  return {
    create,
    delete: remove,
    markIdle: active.filter((p) => p.ready && p.state === 'starting').map((p) => p.name),
    desired,
    status: {
      replicas: active.length,
      desiredReplicas: desired,
      readyReplicas: active.filter((p) => p.ready).length,
      idle: idle.length,
      busy: busy.length,
      starting: starting.length,
      waiting,
    },
    conditions,
    ...(ignored ? { scaleIgnored: ignored } : {}),
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

function degraded(
  stuck: BrowserPodView | undefined,
  failures: (BrowserPodView & { finishedAt: Date })[],
  now: Date,
): ConditionPlan {
  if (stuck) {
    const message = `browser pod ${stuck.name} cannot start: ${stuck.failure ?? 'unknown'}`;
    return { type: 'Degraded', status: 'True', reason: 'BrowserCannotStart', message };
  }
  const last = failures[0];
  if (last && failures.length >= FAILING_AFTER) {
    const retryInMs = last.finishedAt.getTime() + failureBackoffMs(failures.length) - now.getTime();
    return {
      type: 'Degraded',
      status: 'True',
      reason: 'BrowsersFailing',
      message:
        `${failures.length} browser pods failed in the last ${FAILURE_WINDOW_MS / 60_000} minutes; ` +
        `last: ${last.name}: ${last.failure ?? 'no reason given'}` +
        (retryInMs > 0 ? `; next pod in ${Math.ceil(retryInMs / 1000)} s` : ''),
    };
  }
  return { type: 'Degraded', status: 'False', reason: 'BrowsersHealthy', message: 'no browser pod is failing repeatedly' };
}
