import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TestRun } from '../../../src/api/v1alpha1/index.ts';
import { TestRunMetrics } from '../../../src/controllers/testrun/metrics.ts';

const run = (namespace: string, pool: string) =>
  ({ metadata: { namespace, name: 'suite' }, spec: { poolRef: { name: pool } } }) as unknown as TestRun;

describe('TestRunMetrics', () => {
  it('counts finished runs by namespace and result, for failure ratios over time', async () => {
    const registry = new Registry();
    const metrics = new TestRunMetrics(registry, () => []);
    metrics.finished(run('team-a', 'chromium'), 'Succeeded', 60_000, { passed: 10 });
    metrics.finished(run('team-a', 'chromium'), 'Failed', 30_000, { passed: 8, failed: 2 });
    metrics.finished(run('team-a', 'chromium'), 'Failed', 0, {});
    metrics.finished(run('team-b', 'chromium'), 'Error', 0, {});
    const text = await registry.metrics();
    expect(text).toContain('# TYPE fleetwright_testruns_finished_total counter');
    expect(text).toContain('fleetwright_testruns_finished_total{namespace="team-a",result="Succeeded"} 1');
    expect(text).toContain('fleetwright_testruns_finished_total{namespace="team-a",result="Failed"} 2');
    expect(text).toContain('fleetwright_testruns_finished_total{namespace="team-b",result="Error"} 1');
    expect(text).toContain('fleetwright_tests_total{namespace="team-a",pool="chromium",result="failed"} 2');
  });

  it('keeps same-named pools of two namespaces apart in every per-pool series', async () => {
    const registry = new Registry();
    const metrics = new TestRunMetrics(registry, () => []);
    const created = '2026-01-01T00:00:00Z';
    metrics.started(run('team-a', 'chromium'), created, new Date('2026-01-01T00:00:02Z'));
    metrics.started(run('team-b', 'chromium'), created, new Date('2026-01-01T00:00:30Z'));
    metrics.finished(run('team-a', 'chromium'), 'Succeeded', 60_000, { passed: 3 });
    metrics.finished(run('team-b', 'chromium'), 'Failed', 90_000, { passed: 1, failed: 4 });
    const lines = (await registry.metrics()).split('\n');
    const a = 'namespace="team-a",pool="chromium"';
    const b = 'namespace="team-b",pool="chromium"';
    expect(lines).toEqual(expect.arrayContaining([
      `fleetwright_testrun_queue_seconds_sum{${a}} 2`,
      `fleetwright_testrun_queue_seconds_sum{${b}} 30`,
      `fleetwright_testrun_duration_seconds_count{${a},result="Succeeded"} 1`,
      `fleetwright_testrun_duration_seconds_count{${b},result="Failed"} 1`,
      `fleetwright_tests_total{${a},result="passed"} 3`,
      `fleetwright_tests_total{${b},result="failed"} 4`,
    ]));
  });
});
