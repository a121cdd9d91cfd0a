// The progress channel's pure parts: the reporter's running counts, the
// controller's background asks, and how progress enters a TestRun's status.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Progress } from '../../src/contracts/progress.ts';
import { onlyDurationDiffers, summarize, type ShardStatus, withProgress } from '../../src/controllers/testrun/plan.ts';
import { progressUrl, RunnerProgress } from '../../src/controllers/testrun/progress.ts';
import { ProgressCounter, type TestLike } from '../../src/reporter/progress.ts';

type Outcome = ReturnType<TestLike['outcome']>;

/** A test whose outcome follows the results given so far, as Playwright's TestCase.outcome() does. */
function testCase(id: string, retries = 0, expectedStatus = 'passed') {
  const results: string[] = [];
  const test: TestLike & { end(status: string): { status: string; retry: number } } = {
    id,
    retries,
    expectedStatus,
    outcome(): Outcome {
      const ran = results.filter((r) => r !== 'skipped' && r !== 'interrupted');
      if (ran.length === 0) return 'skipped';
      const good = ran.filter((r) => r === expectedStatus).length;
      if (good === ran.length) return 'expected';
      return good === 0 ? 'unexpected' : 'flaky';
    },
    end(status: string) {
      results.push(status);
      return { status, retry: results.length - 1 };
    },
  };
  return test;
}

describe('the reporter\'s running counts', () => {
  it('counts a test once its outcome is settled, so that the counts only grow', () => {
    const counter = new ProgressCounter();
    counter.begin(4);
    const passes = testCase('a');
    const flaky = testCase('b', 1);
    const fails = testCase('c', 2);
    const skipped = testCase('d');

    expect(counter.testEnd(passes, passes.end('passed'))).toBe(true);
    // Fails and will be retried: not counted yet, neither as failed nor as anything else.
    expect(counter.testEnd(flaky, flaky.end('failed'))).toBe(false);
    expect(counter.value).toEqual({ passed: 1, failed: 0, flaky: 0, skipped: 0, total: 4, done: false });
    expect(counter.testEnd(flaky, flaky.end('passed'))).toBe(true);
    expect(counter.testEnd(fails, fails.end('failed'))).toBe(false);
    expect(counter.testEnd(fails, fails.end('timedOut'))).toBe(false);
    expect(counter.testEnd(fails, fails.end('failed'))).toBe(true);
    expect(counter.testEnd(skipped, skipped.end('skipped'))).toBe(true);
    counter.end();

    expect(counter.value).toEqual({ passed: 1, failed: 1, flaky: 1, skipped: 1, total: 4, done: true });
  });

  it('counts a test that is expected to fail and fails as passed, and an interrupted one as skipped', () => {
    const counter = new ProgressCounter();
    const expectedToFail = testCase('a', 3, 'failed');
    const interrupted = testCase('b', 3);
    counter.testEnd(expectedToFail, expectedToFail.end('failed'));
    counter.testEnd(interrupted, interrupted.end('interrupted'));
    expect(counter.value).toMatchObject({ passed: 1, skipped: 1, failed: 0 });
  });
});

describe('progress in a TestRun\'s status', () => {
  const progress = { passed: 3, failed: 1, flaky: 0, skipped: 0, total: 10 };
  const running: ShardStatus = { index: 1, phase: 'Running', attempts: 1, runnerPod: 'run-1-1' };

  it('takes what the runner reported, else keeps what is stored for the same runner pod', () => {
    const newer = { ...progress, passed: 5 };
    expect(withProgress(running, { ...running, progress }, newer).progress).toEqual(newer);
    expect(withProgress(running, { ...running, progress }, undefined).progress).toEqual(progress);
  });

  it('starts a retried attempt from nothing and drops progress once the shard has its result', () => {
    const retry = { ...running, attempts: 2, runnerPod: 'run-1-2' };
    expect(withProgress(retry, { ...running, progress }, undefined)).not.toHaveProperty('progress');
    const done: ShardStatus = { ...running, phase: 'Succeeded', passed: 10, progress };
    expect(withProgress(done, { ...running, progress }, progress)).not.toHaveProperty('progress');
  });

  it('writes nothing for a running run whose duration alone moved on', () => {
    const stored = { phase: 'Running', duration: '12s', shards: [{ ...running, progress }] };
    expect(onlyDurationDiffers(stored, { ...stored, duration: '15s', queuePosition: undefined })).toBe(true);
    expect(onlyDurationDiffers(stored, { ...stored, duration: '15s', shards: [{ ...running, progress: { ...progress, passed: 4 } }] }))
      .toBe(false);
    expect(onlyDurationDiffers({ phase: 'Running' }, { phase: 'Running', duration: '1s' })).toBe(false);
  });

  it('adds running shards\' progress to the finished shards\' results', () => {
    const shards: ShardStatus[] = [
      { index: 1, phase: 'Failed', passed: 8, failed: 2, flaky: 0, skipped: 0 },
      { ...running, index: 2, progress },
      { index: 3, phase: 'Pending' },
    ];
    expect(summarize(shards, [])).toEqual({ passed: 11, failed: 3, flaky: 0, skipped: 0 });
  });
});

describe('asking runners for progress', () => {
  const log = pino({ level: 'silent' });
  const pod = (uid: string, phase = 'Running') => ({
    metadata: { uid },
    spec: { containers: [{ name: 'runner', ports: [{ name: 'progress', containerPort: 7357 }] }] },
    status: { phase, podIP: '10.244.0.7' },
  });
  const answer: Progress = { passed: 2, failed: 0, flaky: 0, skipped: 1, total: 9, done: false };

  it('finds the progress port a running runner pod declares', () => {
    expect(progressUrl(pod('a'))).toBe('http://10.244.0.7:7357/progress');
    expect(progressUrl(pod('a', 'Pending'))).toBeUndefined();
    expect(progressUrl({ ...pod('a'), spec: { containers: [{ name: 'runner' }] } })).toBeUndefined();
  });

  it('never waits for a runner: a read returns the last answer and asks again at most once per interval', async () => {
    let clock = 0;
    const asked: string[] = [];
    let reply: (p: Progress) => void = () => undefined;
    const progress = new RunnerProgress({
      now: () => clock,
      intervalMs: 2_500,
      fetch: (url) => {
        asked.push(url);
        return new Promise((resolve) => (reply = resolve));
      },
    });

    expect(progress.read(pod('a'), log)).toBeUndefined();
    expect(progress.read(pod('a'), log)).toBeUndefined();
    expect(asked).toHaveLength(1);
    reply(answer);
    await Promise.resolve();
    await Promise.resolve();
    expect(progress.pending).toBe(0);
    clock = 1_000;
    expect(progress.read(pod('a'), log)).toEqual({ passed: 2, failed: 0, flaky: 0, skipped: 1, total: 9 });
    expect(asked).toHaveLength(1);
    clock = 2_500;
    progress.read(pod('a'), log);
    expect(asked).toHaveLength(2);
  });

  it('keeps the last answer when a runner stops answering', async () => {
    let clock = 0;
    let fail = false;
    const progress = new RunnerProgress({
      now: () => clock,
      fetch: async () => {
        if (fail) throw new Error('connect ECONNREFUSED');
        return answer;
      },
    });
    progress.read(pod('a'), log);
    await new Promise((r) => setImmediate(r));
    fail = true;
    clock = 10_000;
    progress.read(pod('a'), log);
    await new Promise((r) => setImmediate(r));
    expect(progress.read(pod('a'), log)).toMatchObject({ passed: 2, total: 9 });
  });
});
