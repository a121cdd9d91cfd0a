import { describe, expect, it } from 'vitest';
import { BrowserPoolSpec } from '../../../src/api/v1alpha1/index.ts';
import { type BrowserPodView, planPool } from '../../../src/controllers/browserpool/plan.ts';

const now = new Date('2026-11-23T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

function browser(name: string, state: BrowserPodView['state'], extra: Partial<BrowserPodView> = {}): BrowserPodView {
  return {
    name,
    state,
    ready: state !== 'starting',
    finished: false,
    terminating: false,
    idleSince: minutesAgo(10),
    sessions: 0,
    restarts: 0,
    crashLooping: false,
    ...extra,
  };
}

const fixed = (replicas: number, extra: object = {}) => BrowserPoolSpec.parse({ replicas, ...extra });
const autoscaled = (autoscaling: object) => BrowserPoolSpec.parse({ autoscaling });

describe('planPool', () => {
  it('creates the pods a new pool needs, as starting', () => {
    const plan = planPool(fixed(3), [], 0, now);
    expect(plan).toMatchObject({ create: 3, delete: [], desired: 3 });
    expect(plan.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'NoBrowsers' });
  });

  it('opens Ready pods for leasing and reports them idle', () => {
    const plan = planPool(fixed(2), [browser('a', 'starting', { ready: true }), browser('b', 'starting')], 0, now);
    expect(plan.markIdle).toEqual(['a']);
    expect(plan.status).toMatchObject({ replicas: 2, readyReplicas: 1, idle: 1, starting: 1, busy: 0 });
    expect(plan.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'BrowsersIdle' });
  });

  it('never deletes a leased browser when scaling down', () => {
    const pods = [browser('leased', 'leased'), ...['a', 'b', 'c', 'd'].map((n) => browser(n, 'idle'))];
    const plan = planPool(fixed(1), pods, 0, now);
    expect(plan.delete.map((d) => d.name).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(planPool(fixed(0), [browser('leased', 'leased')], 0, now).delete).toEqual([]);
  });

  it('removes starting pods before idle ones, and the longest-idle first', () => {
    const pods = [
      browser('recent', 'idle', { idleSince: minutesAgo(2) }),
      browser('old', 'idle', { idleSince: minutesAgo(30) }),
      browser('booting', 'starting'),
    ];
    expect(planPool(fixed(1), pods, 0, now).delete.map((d) => d.name)).toEqual(['booting', 'old']);
  });

  it('scales with busy + waiting + idleBuffer between min and max', () => {
    const spec = autoscaled({ minReplicas: 1, maxReplicas: 5, idleBuffer: 1 });
    expect(planPool(spec, [], 0, now).desired).toBe(1);
    expect(planPool(spec, [browser('a', 'leased'), browser('b', 'leased')], 1, now)).toMatchObject({ desired: 4, create: 2 });
  });

  it('reports ScalingLimited when demand exceeds maxReplicas, and waits there', () => {
    const spec = autoscaled({ maxReplicas: 2, idleBuffer: 1 });
    const plan = planPool(spec, [browser('a', 'leased'), browser('b', 'leased')], 3, now);
    expect(plan).toMatchObject({ desired: 2, create: 0 });
    expect(plan.conditions[1]).toMatchObject({ type: 'ScalingLimited', status: 'True', reason: 'MaxReplicas' });
    expect(plan.conditions[1]?.message).toBe(
      'demand is 6 browsers (busy 2 + waiting 3 + idleBuffer 1), above autoscaling.maxReplicas 2',
    );
  });

  it('keeps an idle browser until scaleDownDelaySeconds have passed, and says when to look again', () => {
    const spec = autoscaled({ maxReplicas: 5, idleBuffer: 0, scaleDownDelaySeconds: 300 });
    const plan = planPool(spec, [browser('fresh-idle', 'idle', { idleSince: minutesAgo(1) })], 0, now);
    expect(plan.delete).toEqual([]);
    expect(plan.requeueAfterMs).toBe(240_000);
    expect(planPool(spec, [browser('stale', 'idle', { idleSince: minutesAgo(6) })], 0, now).delete).toHaveLength(1);
  });

  it('replaces a pod that stopped for good, and recycles one past recycleAfterSessions', () => {
    const spec = fixed(2, { recycleAfterSessions: 10 });
    const pods = [
      browser('dead', 'idle', { finished: true, lastFailure: 'exit code 1: browser crashed' }),
      browser('worn', 'idle', { sessions: 10 }),
    ];
    const plan = planPool(spec, pods, 0, now);
    expect(plan.delete).toEqual([
      { name: 'dead', reason: 'browser pod dead stopped for good: exit code 1: browser crashed' },
      { name: 'worn', reason: 'browser pod worn served 10 sessions (recycleAfterSessions 10)' },
    ]);
    expect(plan.create).toBe(2);
  });

  it('marks the pool Degraded with the last failure when a browser crash-loops', () => {
    const pods = [browser('a', 'idle'), browser('b', 'starting', { restarts: 4, crashLooping: true, lastFailure: 'exit code 1' })];
    expect(planPool(fixed(2), pods, 0, now).conditions[2]).toEqual({
      type: 'Degraded',
      status: 'True',
      reason: 'BrowserCrashLoop',
      message: 'browser pod b restarted 4 times; last failure: exit code 1',
    });
  });

  it('ignores pods that are already terminating', () => {
    const plan = planPool(fixed(1), [browser('going', 'idle', { terminating: true })], 0, now);
    expect(plan).toMatchObject({ create: 1, delete: [], status: { replicas: 0 } });
  });
});
