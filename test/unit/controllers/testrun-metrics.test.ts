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
    expect(text).toContain('fleetwright_tests_total{pool="chromium",result="failed"} 2');
  });
});
