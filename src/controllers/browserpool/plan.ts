// What a BrowserPool should look like, computed from what is observed: a pure
// function, so every scaling rule is a unit test away.
import type { BrowserPoolSpec } from '../../api/v1alpha1/index.ts';
import type { BrowserState } from '../../leasing/lease.ts';

/** What the controller needs to know about one browser pod. */
export interface BrowserPodView {
  name: string;
  state: BrowserState;
  ready: boolean;
  /** Pod phase Failed or Succeeded: the agent exited for good. */
  finished: boolean;
  terminating: boolean;
  /** When it last became idle (annotation), else when it was created. */
  idleSince: Date;
  /** Leases it has served (annotation written by each acquire). */
  sessions: number;
  restarts: number;
  /** The last container termination, for Degraded. */
  lastFailure?: string;
  crashLooping: boolean;
}

export interface PoolStatusCounts {
  replicas: number;
  readyReplicas: number;
  idle: number;
  busy: number;
  starting: number;
  waiting: number;
}

export interface ConditionPlan {
  type: 'Ready' | 'ScalingLimited' | 'Degraded';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface PoolPlan {
  /** How many new browser pods to create. */
  create: number;
  /** Pods to delete, each with the reason an Event and a log line will give. */
  delete: { name: string; reason: string }[];
  /** Ready pods still labelled starting, to open for leasing. */
  markIdle: string[];
  desired: number;
  status: PoolStatusCounts;
  conditions: ConditionPlan[];
  /** When to look again though nothing changes (an idle pod passes scaleDownDelaySeconds). */
  requeueAfterMs?: number;
}

/** Pods whose containers restarted this often in a row are reported as Degraded. */
const CRASH_RESTARTS = 3;

/** The pod count to keep, and the demand it came from (which may exceed maxReplicas). */
export function desiredReplicas(
  spec: BrowserPoolSpec,
  busy: number,
  waiting: number,
): { desired: number; wanted: number } {
  const scaling = spec.autoscaling;
  if (!scaling) return { desired: spec.replicas, wanted: spec.replicas };
  const wanted = busy + waiting + scaling.idleBuffer;
  return { desired: Math.min(Math.max(wanted, scaling.minReplicas), scaling.maxReplicas), wanted };
}

export function planPool(spec: BrowserPoolSpec, pods: BrowserPodView[], waiting: number, now: Date): PoolPlan {
  const live = pods.filter((p) => !p.terminating);
  const remove: { name: string; reason: string }[] = live
    .filter((p) => p.finished)
    .map((p) => ({ name: p.name, reason: `browser pod ${p.name} stopped for good: ${p.lastFailure ?? 'no reason given'}` }));
  const recycle = spec.recycleAfterSessions;
  for (const p of live) {
    if (!p.finished && recycle !== undefined && p.state === 'idle' && p.sessions >= recycle) {
      remove.push({ name: p.name, reason: `browser pod ${p.name} served ${p.sessions} sessions (recycleAfterSessions ${recycle})` });
    }
  }
  const removed = new Set(remove.map((r) => r.name));
  const active = live.filter((p) => !removed.has(p.name));
  const busy = active.filter((p) => p.state === 'leased');
  const idle = active.filter((p) => p.ready && p.state !== 'leased');
  const starting = active.filter((p) => !p.ready && p.state !== 'leased');
  const { desired, wanted } = desiredReplicas(spec, busy.length, waiting);

  const create = Math.max(0, desired - active.length);
  let requeueAfterMs: number | undefined;
  let excess = active.length - desired;
  if (excess > 0) {
    // Starting pods go first (nobody waits on them yet), then the longest-idle ones; leased pods never.
    for (const p of starting.slice(0, excess)) remove.push({ name: p.name, reason: `scaling down to ${desired}` });
    excess -= Math.min(excess, starting.length);
    const delayMs = (spec.autoscaling?.scaleDownDelaySeconds ?? 0) * 1000;
    const byIdleAge = [...idle].sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime());
    for (const p of byIdleAge) {
      if (excess === 0) break;
      const eligibleInMs = p.idleSince.getTime() + delayMs - now.getTime();
      if (eligibleInMs <= 0) {
        remove.push({ name: p.name, reason: `scaling down to ${desired}` });
        excess--;
      } else {
        requeueAfterMs = Math.min(requeueAfterMs ?? eligibleInMs, eligibleInMs);
      }
    }
  }

  const crashing = active.find((p) => p.crashLooping || p.restarts >= CRASH_RESTARTS);
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
    scaling && wanted > scaling.maxReplicas
      ? {
          type: 'ScalingLimited',
          status: 'True',
          reason: 'MaxReplicas',
          message: `demand is ${wanted} browsers (busy ${busy.length} + waiting ${waiting} + idleBuffer ${scaling.idleBuffer}), above autoscaling.maxReplicas ${scaling.maxReplicas}`,
        }
      : { type: 'ScalingLimited', status: 'False', reason: 'WithinLimits', message: `${desired} browser pod(s) wanted` },
    crashing
      ? {
          type: 'Degraded',
          status: 'True',
          reason: 'BrowserCrashLoop',
          message: `browser pod ${crashing.name} restarted ${crashing.restarts} times; last failure: ${crashing.lastFailure ?? 'unknown'}`,
        }
      : { type: 'Degraded', status: 'False', reason: 'BrowsersHealthy', message: 'no browser pod is failing repeatedly' },
  ];

  return {
    create,
    delete: remove,
    markIdle: active.filter((p) => p.ready && p.state === 'starting').map((p) => p.name),
    desired,
    status: {
      replicas: active.length,
      readyReplicas: active.filter((p) => p.ready).length,
      idle: idle.length,
      busy: busy.length,
      starting: starting.length,
      waiting,
    },
    conditions,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}
