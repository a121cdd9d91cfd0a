import { describe, expect, it } from 'vitest';
import {
  type BrowserView,
  finishReason,
  formatDuration,
  planShard,
  projectsVerdict,
  type RunnerView,
  runPhase,
  type ShardObservation,
  summarize,
} from '../../../src/controllers/testrun/plan.ts';
import type { ShardSummary } from '../../../src/contracts/shard-summary.ts';

const browser: BrowserView = { name: 'chromium-a', endpoint: 'ws://10.244.0.9:3000/pw-x', lost: false };
const summary = (failed: number): ShardSummary => ({
  passed: 4, failed, flaky: 1, skipped: 1, durationMs: 2100, status: failed ? 'failed' : 'passed',
  failures: failed ? [{ title: 'a.spec.ts › checkout', error: 'expect(received).toBe(expected)' }] : [], truncated: 0, errors: [],
});
const runner = (attempt: number, extra: Partial<RunnerView> = {}): RunnerView =>
  ({ name: `run-2-${attempt}`, attempt, phase: 'Running', terminating: false, ...extra });

function observe(extra: Partial<ShardObservation> = {}): ShardObservation {
  return {
    index: 2,
    runners: new Map(),
    browserOf: () => undefined,
    runnerName: (attempt) => `run-2-${attempt}`,
    ...extra,
  };
}

describe('planShard', () => {
  it('asks for a browser, then starts attempt 1 on the browser it is granted', () => {
    expect(planShard(observe(), 2).actions).toEqual([{ type: 'requestBrowser', attempt: 1 }]);
    const plan = planShard(observe({ browserOf: (a) => (a === 1 ? browser : undefined) }), 2);
    expect(plan.actions).toEqual([{ type: 'createRunner', attempt: 1, browser }]);
    expect(plan.status).toMatchObject({ index: 2, phase: 'Running', attempts: 1, browserPod: 'chromium-a', runnerPod: 'run-2-1' });
  });

  it('adopts a runner whose creation was never recorded, instead of starting the shard twice', () => {
    const plan = planShard(observe({
      status: { index: 2, phase: 'Pending', attempts: 0 },
      runners: new Map([[1, runner(1)]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    expect(plan.actions).toEqual([]);
    expect(plan.status).toMatchObject({ phase: 'Running', attempts: 1, runnerPod: 'run-2-1' });
  });

  it('records a finished shard\'s counts and hands its browser back at once', () => {
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1, runnerPod: 'run-2-1', browserPod: 'chromium-a' },
      runners: new Map([[1, runner(1, { phase: 'Failed', exitCode: 1, summary: summary(1) })]]),
      browserOf: () => browser,
    }), 2);
    expect(plan.status).toMatchObject({
      phase: 'Failed', passed: 4, failed: 1, flaky: 1, skipped: 1,
      message: 'a.spec.ts › checkout: expect(received).toBe(expected)',
    });
    expect(plan.actions[0]).toEqual({ type: 'releaseBrowser', attempt: 1, browser: 'chromium-a' });
    expect(plan.actions[1]).toMatchObject({ type: 'event', reason: 'ShardFailed' });
  });

  it('retries on another browser when the browser is lost mid-shard, and not the tests\' failures', () => {
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1, runnerPod: 'run-2-1', browserPod: 'chromium-a' },
      runners: new Map([[1, runner(1)]]),
      browserOf: (a) => (a === 1 ? { ...browser, lost: true } : undefined),
    }), 2);
    expect(plan.actions).toEqual([
      { type: 'deleteRunner', name: 'run-2-1' },
      { type: 'retry', reason: 'BrowserLost' },
      { type: 'event', kind: 'Warning', reason: 'ShardRetried', note: 'shard 2: attempt 1 failed: browser pod chromium-a was lost; retrying' },
      { type: 'requestBrowser', attempt: 2 },
    ]);
    expect(plan.status).toEqual({ index: 2, phase: 'Pending', attempts: 1, message: 'attempt 1 failed: browser pod chromium-a was lost; retrying' });
  });

  it('retries a shard whose runner found its browser gone after failing, before the browser pod looks lost', () => {
    // The browser's node crashed: its pod still looks Running, and the runner's tests failed without it.
    const found = '10.244.1.7:3000: connect ECONNREFUSED 10.244.1.7:3000';
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1, runnerPod: 'run-2-1', browserPod: 'chromium-a' },
      runners: new Map([[1, runner(1, { phase: 'Failed', exitCode: 1, summary: { ...summary(2), browserLost: found } })]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    const message = `attempt 1 failed: browser pod chromium-a was lost (the runner found: ${found}); retrying`;
    expect(plan.actions).toEqual([
      { type: 'discardBrowser', browser: 'chromium-a', why: 'its runner could not reach it' },
      { type: 'retry', reason: 'BrowserLost' },
      { type: 'event', kind: 'Warning', reason: 'ShardRetried', note: `shard 2: ${message}` },
      { type: 'requestBrowser', attempt: 2 },
    ]);
    expect(plan.status).toEqual({ index: 2, phase: 'Pending', attempts: 1, message });
  });

  it('retries a shard whose runner is on a lost node, and deletes its browser rather than hand it to another', () => {
    const lost = 'node fw-node2 is NotReady (Ready=Unknown, NodeStatusUnknown)';
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1, runnerPod: 'run-2-1', browserPod: 'chromium-a' },
      runners: new Map([[1, runner(1, { nodeLost: lost })]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    const message = `attempt 1 failed: runner pod run-2-1 was on a lost node: ${lost}; retrying`;
    expect(plan.actions).toEqual([
      { type: 'deleteRunner', name: 'run-2-1' },
      { type: 'discardBrowser', browser: 'chromium-a', why: 'its runner is on a lost node and may still drive it' },
      { type: 'retry', reason: 'NodeLost' },
      { type: 'event', kind: 'Warning', reason: 'ShardRetried', note: `shard 2: ${message}` },
      { type: 'requestBrowser', attempt: 2 },
    ]);
    expect(plan.status).toEqual({ index: 2, phase: 'Pending', attempts: 1, message });
    // A runner that finished before its node was lost keeps its result.
    const finished = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1, runnerPod: 'run-2-1', browserPod: 'chromium-a' },
      runners: new Map([[1, runner(1, { phase: 'Succeeded', exitCode: 0, summary: summary(0), nodeLost: lost })]]),
      browserOf: () => browser,
    }), 2);
    expect(finished.status).toMatchObject({ phase: 'Succeeded', passed: 4 });
  });

  it('treats a runner without a summary, or OOMKilled, as an infrastructure failure; Error when retries run out', () => {
    const noSummary = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1 },
      runners: new Map([[1, runner(1, { phase: 'Failed', exitCode: 137, output: 'line 1\nKilled' })]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    expect(noSummary.status.message).toBe('attempt 1 failed: runner pod run-2-1 exited with code 137 and no summary; last output: line 1 | Killed; retrying');
    expect(noSummary.actions).toContainEqual({ type: 'releaseBrowser', attempt: 1, browser: 'chromium-a' });

    const oom = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 3 },
      runners: new Map([[3, runner(3, { phase: 'Failed', exitCode: 137, infraReason: 'OOMKilled', summary: summary(0) })]]),
      browserOf: () => browser,
    }), 2);
    expect(oom.status).toMatchObject({ phase: 'Error', message: 'attempt 3 failed: runner pod run-2-3 stopped: OOMKilled; no retries left (retries: 2)' });
  });

  it('ends a shard whose tests could not be fetched on fetch-source\'s message, retried only while retries last', () => {
    const sourceError = 'repository https://git.example.com/e2e.git at revision main: commit abc has no folder e2e: ' +
      'fix spec.source.git.path';
    const failed = runner(1, { phase: 'Failed', exitCode: 1, sourceError });
    const retried = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1 },
      runners: new Map([[1, failed]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    expect(retried.status.message).toBe(`attempt 1 failed: runner pod run-2-1 could not fetch the tests: ${sourceError}; retrying`);
    expect(retried.actions).toContainEqual({ type: 'retry', reason: 'SourceFetchFailed' });
    expect(retried.actions).toContainEqual({ type: 'releaseBrowser', attempt: 1, browser: 'chromium-a' });

    const last = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 3 },
      runners: new Map([[3, runner(3, { phase: 'Failed', exitCode: 1, sourceError })]]),
      browserOf: () => browser,
    }), 2);
    expect(last.status).toMatchObject({
      phase: 'Error',
      message: `attempt 3 failed: runner pod run-2-3 could not fetch the tests: ${sourceError}; no retries left (retries: 2)`,
    });
  });

  it('ends a shard whose dependencies could not be installed in Error at once: another attempt would fail the same way', () => {
    const output = 'DependenciesFailed: lockfile out of date with package.json: run the install locally\nnpm error `npm ci` can only…';
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1 },
      runners: new Map([[1, runner(1, { phase: 'Failed', exitCode: 1, output })]]),
      browserOf: (a) => (a === 1 ? browser : undefined),
    }), 2);
    expect(plan.status).toMatchObject({ phase: 'Error', attempts: 1, message: output });
    expect(plan.actions.map((a) => a.type)).toEqual(['releaseBrowser', 'event']);
    expect(plan.actions[1]).toMatchObject({ kind: 'Warning', reason: 'DependenciesFailed' });
    expect(finishReason('Error', [plan.status])).toEqual({
      reason: 'DependenciesFailed',
      detail: 'shard 2: DependenciesFailed: lockfile out of date with package.json: run the install locally',
    });
    expect(finishReason('Error', [{ index: 1, phase: 'Error', message: 'attempt 3 failed: …' }])).toEqual({ reason: 'InfrastructureError' });
    expect(finishReason('Failed', [])).toEqual({ reason: 'TestsFailed' });
  });

  it('keeps the result of a finished shard whose browser was already handed back (a restart lost the record)', () => {
    const plan = planShard(observe({
      status: { index: 2, phase: 'Running', attempts: 1 },
      runners: new Map([[1, runner(1, { phase: 'Succeeded', exitCode: 0, summary: summary(0) })]]),
    }), 2);
    expect(plan.status).toMatchObject({ phase: 'Succeeded', attempts: 1, passed: 4 });
    expect(plan.actions.map((a) => a.type)).toEqual(['event']);
  });

  it('leaves a final shard alone, but frees a browser it still holds', () => {
    const plan = planShard(observe({ status: { index: 2, phase: 'Succeeded', attempts: 1 }, browserOf: () => browser }), 2);
    expect(plan.actions).toEqual([{ type: 'releaseBrowser', attempt: 1, browser: 'chromium-a' }]);
  });
});

describe('the run', () => {
  it('is Queued until a shard starts, Running then, and Error > Failed > Succeeded at the end', () => {
    expect(runPhase([{ index: 1, phase: 'Pending', attempts: 0 }])).toBe('Queued');
    expect(runPhase([{ index: 1, phase: 'Pending', attempts: 1 }, { index: 2, phase: 'Succeeded' }])).toBe('Running');
    expect(runPhase([{ index: 1, phase: 'Succeeded' }, { index: 2, phase: 'Failed' }])).toBe('Failed');
    expect(runPhase([{ index: 1, phase: 'Error' }, { index: 2, phase: 'Failed' }])).toBe('Error');
    expect(runPhase([{ index: 1, phase: 'Succeeded' }])).toBe('Succeeded');
  });

  it('adds up the shards\' counts, and prints durations as kubectl does', () => {
    expect(summarize([{ index: 1, phase: 'Failed', passed: 3, failed: 1 }, { index: 2, phase: 'Succeeded', passed: 2, skipped: 1 }], [2100, 3400]))
      .toEqual({ passed: 5, failed: 1, flaky: 0, skipped: 1, durationSeconds: 3.4 });
    expect([formatDuration(4_200), formatDuration(83_000), formatDuration(3_723_000)]).toEqual(['4s', '1m23s', '1h2m3s']);
  });
});

describe('projects the pool\'s browser does not serve', () => {
  const pool = { name: 'chromium', browser: 'chromium' };
  const initProjects = [{ name: 'firefox', browser: 'firefox' }, { name: 'webkit', browser: 'webkit' }];

  it('are nothing to say when every project ran', () => {
    expect(projectsVerdict([], 6, pool)).toBeUndefined();
  });

  it('are a warning that names them while the others ran', () => {
    expect(projectsVerdict(initProjects, 2, pool)).toEqual({
      reason: 'BrowserNotServed',
      message: '2 project(s) did not run, BrowserPool chromium serves chromium: firefox (firefox), webkit (webkit)',
    });
  });

  it('are why the run failed when none of its projects could run', () => {
    expect(projectsVerdict(initProjects, 0, pool)).toEqual({
      reason: 'NoProjectForBrowser',
      message: 'no project of the suite uses chromium, the browser of BrowserPool chromium: firefox (firefox), webkit (webkit). ' +
        'Add a project for chromium or point spec.poolRef at a pool of their browser',
    });
  });
});
