import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, ExponentialBackoff, WorkQueue } from '../../../src/runtime/workqueue.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('per-key exponential backoff', () => {
  it('starts at 5 ms and doubles up to 1000 s, as controller-runtime', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n))).toEqual([5, 10, 20, 40, 5120]);
    expect(backoffDelay(17)).toBe(655_360);
    expect(backoffDelay(18)).toBe(1_000_000);
    expect(backoffDelay(5000)).toBe(1_000_000);
  });

  it('counts failures per key and forgets a key that succeeded', () => {
    const b = new ExponentialBackoff();
    expect([b.when('a'), b.when('a'), b.when('a'), b.when('b')]).toEqual([5, 10, 20, 5]);
    expect(b.retries('a')).toBe(3);
    b.forget('a');
    expect(b.retries('a')).toBe(0);
    expect(b.when('a')).toBe(5);
  });
});

describe('WorkQueue', () => {
  it('hands keys out in the order they were added', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('ignores adding a key that is already waiting', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('never hands a key to a second worker while the first has it, and hands it back after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    const first = await q.get();
    q.add('ns/a');
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    expect(q.length).toBe(0);
    q.done(first as string);
    await Promise.resolve();
    expect(second).toBe('ns/a');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add('ns/a');
    expect(await got).toBe('ns/a');
  });

  it('schedules addAfter and keeps the earliest of two schedules', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('ns/a', 1000);
    q.addAfter('ns/a', 200);
    q.addAfter('ns/a', 5000);
    vi.advanceTimersByTime(199);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(q.length).toBe(1);
  });

  it('requeues a failing key with growing delays until it is forgotten', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      q.addRateLimited('ns/a');
      let waited = 0;
      while (q.length === 0 && waited < 1000) {
        vi.advanceTimersByTime(1);
        waited++;
      }
      delays.push(waited);
      q.done((await q.get()) as string);
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    q.forget('ns/a');
    expect(q.backoff.retries('ns/a')).toBe(0);
  });

  it('after shutdown hands out nothing, takes no keys and drops delayed ones', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.addAfter('ns/c', 10);
    const a = await q.get();
    q.shutDown();
    q.shutDown();
    expect(await q.get()).toBeUndefined();
    q.add('ns/d');
    vi.advanceTimersByTime(100);
    expect(q.length).toBe(1);
    q.add(a as string);
    q.done(a as string);
    expect(q.length).toBe(1);
    expect(q.processingSince()).toEqual([]);
  });
});
