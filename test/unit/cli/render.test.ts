// What `fleetwright run --follow` and `fleetwright status` print, from TestRuns as the API server sends them.
import { describe, expect, it } from 'vitest';
import type { TestRunObject as RunObject } from '../../../src/api/objects.ts';
import {
  exitCodeOf,
  finalReport,
  frame,
  headline,
  plainUpdates,
  progressBar,
  shardLine,
} from '../../../src/cli/render.ts';
import { statusTables } from '../../../src/cli/status.ts';
import { age, table } from '../../../src/cli/table.ts';

const progress = (passed: number, failed: number, total: number) => ({ passed, failed, flaky: 0, skipped: 0, total });

function run(status: RunObject['status'], shards = 2): RunObject {
  return {
    metadata: { name: 'checkout-1a2b3', namespace: 'team-a', creationTimestamp: '2026-11-23T10:00:00Z' },
    spec: { poolRef: { name: 'chromium' }, shards },
    status,
  };
}

const running = run({
  phase: 'Running',
  startTime: '2026-11-23T10:00:01Z',
  shards: [
    { index: 1, phase: 'Running', attempts: 1, runnerPod: 'checkout-1a2b3-1-1', progress: progress(5, 1, 12) },
    { index: 2, phase: 'Running', attempts: 1, runnerPod: 'checkout-1a2b3-2-1', browserPod: 'chromium-x7k2p' },
  ],
  summary: { passed: 5, failed: 1, flaky: 0, skipped: 0 },
});

describe('progress of a run', () => {
  it('draws a bar of tests done out of the shard\'s total', () => {
    expect(progressBar(6, 12, 10)).toBe('█████░░░░░');
    expect(progressBar(12, 12, 10)).toBe('██████████');
    expect(progressBar(0, undefined, 4)).toBe('░░░░');
  });

  it('shows each shard with a bar on a terminal, and as a sentence in logs', () => {
    expect(frame(running, '0m12s')).toEqual([
      'TestRun team-a/checkout-1a2b3: Running, 0/2 shard(s) done  0m12s',
      '  shard 1/2  ██████████░░░░░░░░░░    6/12  running  5 passed, 1 failed',
      '  shard 2/2  ░░░░░░░░░░░░░░░░░░░░     0/?  starting on chromium-x7k2p',
    ]);
    for (const line of frame(running, '0m12s')) expect(line.length).toBeLessThanOrEqual(80);
    expect(shardLine(running.status?.shards?.[0], 1, 2, false)).toBe(
      'shard 1/2 running, 6/12 tests: 5 passed, 1 failed, 0 flaky, 0 skipped');
    expect(shardLine(undefined, 2, 2, false)).toBe('shard 2/2 waiting for a browser');
    expect(shardLine({ index: 1, phase: 'Pending', attempts: 1, message: 'attempt 1 failed: browser pod x was lost; retrying' },
      1, 1, false)).toBe('shard 1/1 retrying: attempt 1 failed: browser pod x was lost; retrying');
  });

  it('says why a run waits', () => {
    expect(headline(run({ phase: 'Queued', queuePosition: 3 }))).toBe(
      'TestRun team-a/checkout-1a2b3: Queued on BrowserPool chromium (position 3)');
    const message = 'BrowserPool chromium does not exist in namespace team-a: create it or fix spec.poolRef';
    const pending = run({ phase: 'Pending', conditions: [
      { type: 'Scheduled', status: 'False', reason: 'PoolNotFound', message, lastTransitionTime: '2026-11-23T10:00:00Z' },
    ] });
    expect(headline(pending)).toBe(`TestRun team-a/checkout-1a2b3: Pending: ${message}`);
  });

  it('prints to logs only the lines that changed', () => {
    const printed = new Map<string, string>();
    expect(plainUpdates(running, printed)).toHaveLength(3);
    expect(plainUpdates(running, printed)).toEqual([]);
    const later = structuredClone(running);
    later.status!.shards![0]!.progress = progress(9, 1, 12);
    expect(plainUpdates(later, printed)).toEqual([
      'shard 1/2 running, 10/12 tests: 9 passed, 1 failed, 0 flaky, 0 skipped',
    ]);
  });
});

describe('the end of a run', () => {
  const failed = run({
    phase: 'Failed',
    duration: '41s',
    summary: { passed: 9, failed: 2, flaky: 1, skipped: 1 },
    shards: [
      { index: 1, phase: 'Succeeded', passed: 5, failed: 0, flaky: 1, skipped: 0 },
      { index: 2, phase: 'Failed', passed: 4, failed: 2, flaky: 0, skipped: 1,
        message: 'a.spec.ts:19 › cart › adds an item: Error: expect(locator).toHaveText()\nb.spec.ts:3 › pays: Timeout' },
    ],
  });

  it('sums up, lists the failed tests by shard, and says where the logs are', () => {
    expect(finalReport(failed)).toEqual([
      'TestRun team-a/checkout-1a2b3 Failed in 41s: 9 passed, 2 failed, 1 flaky, 1 skipped',
      'Failed:',
      '  shard 2: a.spec.ts:19 › cart › adds an item: Error: expect(locator).toHaveText()',
      '  shard 2: b.spec.ts:3 › pays: Timeout',
      'Runner logs: fleetwright logs checkout-1a2b3 -n team-a',
    ]);
    expect(shardLine(failed.status?.shards?.[1], 2, 2, true)).toContain('7/7  failed  4 passed, 2 failed, 1 skipped');
  });

  it('says which projects did not run and why', () => {
    const message = '2 project(s) did not run, BrowserPool chromium serves chromium: firefox (firefox), webkit (webkit)';
    const partial = run({
      phase: 'Succeeded',
      duration: '12s',
      summary: { passed: 2, failed: 0, flaky: 0, skipped: 0 },
      projectsNotRun: [{ name: 'firefox', browser: 'firefox' }, { name: 'webkit', browser: 'webkit' }],
      conditions: [{ type: 'ProjectsNotRun', status: 'True', reason: 'BrowserNotServed', message, lastTransitionTime: '2026-11-23T10:00:12Z' }],
    });
    expect(finalReport(partial)).toEqual([
      'TestRun team-a/checkout-1a2b3 Succeeded in 12s: 2 passed, 0 failed, 0 flaky, 0 skipped',
      `Not run: ${message}`,
    ]);
  });

  it('names the commit a git-sourced run ran', () => {
    const commit = 'ab'.repeat(20);
    const fromGit = { ...failed, status: { ...failed.status, source: { revision: 'refs/heads/main', commit } } };
    expect(finalReport(fromGit).slice(0, 2)).toEqual([
      'TestRun team-a/checkout-1a2b3 Failed in 41s: 9 passed, 2 failed, 1 flaky, 1 skipped',
      `Commit: ${commit} (refs/heads/main)`,
    ]);
  });

  it('exits 0 only when every test passed', () => {
    expect(exitCodeOf(run({ phase: 'Succeeded' }))).toBe(0);
    expect(exitCodeOf(failed)).toBe(1);
    expect(exitCodeOf(run({ phase: 'Error' }))).toBe(3);
  });
});

describe('fleetwright status', () => {
  const now = Date.parse('2026-11-23T10:05:00Z');
  const pool = {
    metadata: { name: 'chromium', namespace: 'team-a', creationTimestamp: '2026-11-23T08:00:00Z' },
    spec: { browser: 'chromium', replicas: 3 },
    status: { readyReplicas: 3, idle: 1, busy: 2, waiting: 0, playwrightVersion: '1.65.1' },
  };
  const tunnel = {
    metadata: { name: 'dev', namespace: 'team-a', creationTimestamp: '2026-11-23T10:04:30Z' },
    spec: { poolRefs: [{ name: 'chromium' }] },
    status: { url: 'wss://browsers.example.com/tunnels/team-a/dev', activeConnections: 1,
      conditions: [{ type: 'Ready', status: 'True' as const, reason: 'Serving', message: '', lastTransitionTime: '' }] },
  };

  it('lists pools, runs with their progress, and Tunnels', () => {
    expect(statusTables({ pools: [pool], runs: [running], tunnels: [tunnel] }, now,
      { namespace: 'team-a', allNamespaces: false })).toEqual([
      'BrowserPools:',
      'NAME       BROWSER    DESIRED   READY   IDLE   BUSY   WAITING   PLAYWRIGHT   AGE',
      'chromium   chromium   3         3       1      2      0         1.65.1       125m',
      '',
      'TestRuns:',
      'NAME             PHASE     POOL       SHARDS   TESTS   PASSED   FAILED   FLAKY   SKIPPED   DURATION   AGE',
      'checkout-1a2b3   Running   chromium   0/2      6/?     5        1        0       0                    5m',
      '',
      'Tunnels:',
      'NAME   POOLS      READY   URL                                             ACTIVE   AGE',
      'dev    chromium   True    wss://browsers.example.com/tunnels/team-a/dev   1        30s',
    ]);
  });

  it('shows the default Playwright version of a pool and the major.minor of the others it serves', () => {
    const multi = { ...pool, status: { ...pool.status, playwrightVersions: ['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0'] } };
    const lines = statusTables({ pools: [multi], runs: [], tunnels: [] }, now, { namespace: 'team-a', allNamespaces: false });
    expect(lines[2]).toContain(' 1.65.1 +1.66,1.64,1.63 ');
  });

  it('says when a namespace has nothing, and names namespaces with -A', () => {
    expect(statusTables({ pools: [], runs: [], tunnels: [] }, now, { namespace: 'x', allNamespaces: false }))
      .toEqual(['No BrowserPools, TestRuns or Tunnels in namespace x.']);
    const lines = statusTables({ pools: [pool], runs: [], tunnels: [] }, now, { namespace: 'x', allNamespaces: true });
    expect(lines[1]).toMatch(/^NAMESPACE {3}NAME/);
    expect(lines[2]).toMatch(/^team-a {6}chromium/);
    expect(lines.slice(3)).toEqual(['', 'TestRuns: none', '', 'Tunnels: none']);
  });

  it('prints ages as kubectl does, and aligns columns', () => {
    const at = (s: number) => age(new Date(now - s * 1000).toISOString(), now);
    expect([at(45), at(330), at(42 * 60), at(3 * 3600 + 720), at(20 * 3600), at(76 * 3600), at(12 * 86400)])
      .toEqual(['45s', '5m30s', '42m', '3h12m', '20h', '3d4h', '12d']);
    expect(table(['A', 'LONGER'], [['xyz', '1']])).toEqual(['A     LONGER', 'xyz   1']);
  });
});
