import { describe, expect, it } from 'vitest';
import { BrowserPoolSpec } from '../../../src/api/v1alpha1/index.ts';
import {
  type BrowserPodView,
  FAILURE_WINDOW_MS,
  failureBackoffMs,
  planPool,
  scaleIgnored,
} from '../../../src/controllers/browserpool/plan.ts';

const now = new Date('2026-11-23T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

function browser(name: string, state: BrowserPodView['state'], extra: Partial<BrowserPodView> = {}): BrowserPodView {
  return {
    name,
    state,
    ready: state !== 'starting',
    terminating: false,
    idleSince: minutesAgo(10),
    sessions: 0,
    stuck: false,
    createdAt: minutesAgo(20),
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

  it('counts the browsers of a lost node as gone at once, leased ones too, and replaces them', () => {
    const lost = 'node fw-node2 is NotReady (Ready=Unknown, NodeStatusUnknown)';
    const pods = [
      browser('a', 'idle'),
      browser('b', 'leased'),
      browser('c', 'idle', { nodeLost: lost }),
      browser('d', 'leased', { nodeLost: lost }),
      browser('e', 'starting', { nodeLost: lost }),
    ];
    const plan = planPool(fixed(4), pods, 0, now);
    expect(plan.delete).toEqual([
      { name: 'c', reason: 'NodeLost', message: `browser pod c was idle on a lost node: ${lost}; replacing it` },
      { name: 'd', reason: 'NodeLost', message: `browser pod d was leased on a lost node: ${lost}; replacing it` },
      { name: 'e', reason: 'NodeLost', message: `browser pod e was starting on a lost node: ${lost}; replacing it` },
    ]);
    expect(plan.create).toBe(2);
    expect(plan.status).toMatchObject({ replicas: 2, readyReplicas: 2, idle: 1, busy: 1, starting: 0 });
  });

  it('opens no browser of a lost node for leasing, and recycles none twice', () => {
    const lost = 'node n is NotReady (Ready=False)';
    const pods = [browser('ready', 'starting', { ready: true, nodeLost: lost }), browser('used', 'idle', { sessions: 9, nodeLost: lost })];
    const plan = planPool(fixed(2, { recycleAfterSessions: 5 }), pods, 0, now);
    expect(plan.markIdle).toEqual([]);
    expect(plan.delete.map((d) => [d.name, d.reason])).toEqual([['ready', 'NodeLost'], ['used', 'NodeLost']]);
    expect(plan.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'NoBrowsers' });
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

  it('reports what it aims for as status.desiredReplicas: spec.replicas, or what autoscaling asks for now', () => {
    expect(planPool(fixed(3), [], 0, now).status.desiredReplicas).toBe(3);
    // spec.replicas 5 (kubectl scale) is not what an autoscaled pool aims for: three busy plus one idle is.
    const spec = BrowserPoolSpec.parse({ replicas: 5, autoscaling: { minReplicas: 1, maxReplicas: 8, idleBuffer: 1 } });
    const busy = ['a', 'b', 'c'].map((n) => browser(n, 'leased'));
    expect(planPool(spec, busy, 0, now)).toMatchObject({ desired: 4, create: 1, status: { desiredReplicas: 4 } });
    expect(planPool(spec, [], 0, now).status.desiredReplicas).toBe(1);
  });

  it('says that spec.replicas is ignored, and how to change the size, when autoscaling is set and replicas asked for one', () => {
    const spec = BrowserPoolSpec.parse({ replicas: 5, autoscaling: { minReplicas: 1, maxReplicas: 3 } });
    const plan = planPool(spec, [], 0, now);
    expect(plan.scaleIgnored).toEqual({
      type: 'ScaleIgnored',
      status: 'True',
      reason: 'AutoscalingEnabled',
      message: 'spec.replicas 5 is ignored while spec.autoscaling is set: the pool scales with demand between ' +
        'autoscaling.minReplicas 1 and maxReplicas 3 (status.desiredReplicas is what it aims for now). Change ' +
        'autoscaling.minReplicas or maxReplicas, or remove spec.autoscaling for a fixed size of spec.replicas',
    });
    // Nothing is said of the other conditions: they keep their places.
    expect(plan.conditions.map((c) => c.type)).toEqual(['Ready', 'ScalingLimited', 'Degraded']);
  });

  it('says nothing of spec.replicas for a pool without autoscaling, or whose replicas is the default it never set', () => {
    expect(planPool(fixed(5), [], 0, now).scaleIgnored).toBeUndefined();
    expect(scaleIgnored(autoscaled({ maxReplicas: 3 }))).toBeUndefined();
    expect(scaleIgnored(BrowserPoolSpec.parse({ replicas: 0, autoscaling: { maxReplicas: 3 } }))?.reason)
      .toBe('AutoscalingEnabled');
  });

  it('reports ScalingLimited when demand exceeds maxReplicas, and waits there', () => {
    const spec = autoscaled({ maxReplicas: 2, idleBuffer: 1 });
    const plan = planPool(spec, [browser('a', 'leased'), browser('b', 'leased')], 3, now);
    expect(plan).toMatchObject({ desired: 2, create: 0 });
    expect(plan.conditions[1]).toMatchObject({ type: 'ScalingLimited', status: 'True', reason: 'MaxReplicas' });
    expect(plan.conditions[1]?.message).toBe(
      'demand is 5 browsers (busy 2 + waiting 3), above autoscaling.maxReplicas 2',
    );
  });

  it('keeps an idle browser until scaleDownDelaySeconds have passed, and says when to look again', () => {
    const spec = autoscaled({ maxReplicas: 5, idleBuffer: 0, scaleDownDelaySeconds: 300 });
    const plan = planPool(spec, [browser('fresh-idle', 'idle', { idleSince: minutesAgo(1) })], 0, now);
    expect(plan.delete).toEqual([]);
    expect(plan.requeueAfterMs).toBe(240_000);
    expect(planPool(spec, [browser('stale', 'idle', { idleSince: minutesAgo(6) })], 0, now).delete).toHaveLength(1);
  });

  it('replaces a failed pod at once, keeps it for inspection, and recycles one past recycleAfterSessions', () => {
    const spec = fixed(2, { recycleAfterSessions: 10 });
    const pods = [
      browser('dead', 'leased', { finishedAt: minutesAgo(1), failure: 'exit code 1: the warm browser died' }),
      browser('worn', 'idle', { sessions: 10 }),
    ];
    const plan = planPool(spec, pods, 0, now);
    expect(plan.delete).toEqual([
      { name: 'worn', reason: 'Recycled', message: 'browser pod worn served 10 sessions (recycleAfterSessions 10)' },
    ]);
    expect(plan.create).toBe(2);
    expect(plan.status).toMatchObject({ replicas: 0, busy: 0 });
    expect(plan.conditions[2]).toMatchObject({ type: 'Degraded', status: 'False' });
    // Looked at again when the failed pod leaves the failure window, to clean it up.
    expect(plan.requeueAfterMs).toBe(FAILURE_WINDOW_MS - 60_000);
  });

  it('cleans up failed pods past the failure window', () => {
    const plan = planPool(fixed(1), [browser('a', 'idle'), browser('old', 'idle', { finishedAt: minutesAgo(20) })], 0, now);
    expect(plan.delete).toEqual([
      { name: 'old', reason: 'FailedPodRemoved', message: 'removing browser pod old, failed at 2026-11-23T11:40:00.000Z' },
    ]);
  });

  it('goes Degraded when pods keep failing, and backs off before the next one', () => {
    const failed = [3, 2, 1].map((m) => browser(`f${m}`, 'idle', { finishedAt: minutesAgo(m / 60), failure: 'exit code 1: the browser did not start: ENOENT' }));
    const plan = planPool(fixed(1), failed, 0, now);
    expect(plan.create).toBe(0);
    expect(plan.requeueAfterMs).toBe(failureBackoffMs(3) - 1000);
    expect(plan.conditions[2]).toEqual({
      type: 'Degraded',
      status: 'True',
      reason: 'BrowsersFailing',
      message: '3 browser pods failed in the last 15 minutes; last: f1: exit code 1: the browser did not start: ENOENT; next pod in 9 s',
    });
    expect(failureBackoffMs(4)).toBe(2 * failureBackoffMs(3));
    expect(failureBackoffMs(20)).toBe(300_000);
    // Once the backoff has passed, the replacement is created.
    expect(planPool(fixed(1), failed, 0, new Date(now.getTime() + failureBackoffMs(3))).create).toBe(1);
  });

  it('goes Degraded, naming the reason, when a pod cannot start at all', () => {
    const pods = [browser('b', 'starting', { stuck: true, failure: 'ErrImageNeverPull: image "nope:1" is not present' })];
    expect(planPool(fixed(1), pods, 0, now).conditions[2]).toEqual({
      type: 'Degraded',
      status: 'True',
      reason: 'BrowserCannotStart',
      message: 'browser pod b cannot start: ErrImageNeverPull: image "nope:1" is not present',
    });
  });

  it('ignores pods that are already terminating', () => {
    const plan = planPool(fixed(1), [browser('going', 'idle', { terminating: true })], 0, now);
    expect(plan).toMatchObject({ create: 1, delete: [], status: { replicas: 0 } });
  });
});
