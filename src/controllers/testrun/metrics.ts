import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TestRunObject } from '../../api/objects.ts';
import { type TestRun, TestRunPhase } from '../../api/v1alpha1/index.ts';

export interface TestCounts {
  passed?: number;
  failed?: number;
  flaky?: number;
  skipped?: number;
}

const durationBuckets = [5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
const queueBuckets = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

/** A run's pool as the pool gauges label it: a poolRef names a pool of the run's own namespace. */
const poolLabels = (run: TestRun) => ({ namespace: run.metadata.namespace ?? '', pool: run.spec.poolRef.name });

/** The TestRun controller's metrics, registered beside controller-runtime's. */
export class TestRunMetrics {
  private readonly duration: Histogram<'namespace' | 'pool' | 'result'>;
  private readonly tests: Counter<'namespace' | 'pool' | 'result'>;
  private readonly queue: Histogram<'namespace' | 'pool'>;
  private readonly retries: Counter<'reason'>;
  private readonly finishedRuns: Counter<'namespace' | 'result'>;

  constructor(registry: Registry, runs: () => TestRunObject[]) {
    const registers = [registry];
    new Gauge({
      name: 'fleetwright_testruns',
      help: 'TestRuns in the cache, by phase.',
      labelNames: ['phase'] as const,
      registers,
      collect() {
        this.reset();
        for (const phase of TestRunPhase.options) this.set({ phase }, 0);
        for (const run of runs()) {
          this.inc({ phase: run.status?.phase ?? 'Pending' });
        }
      },
    });
    this.duration = new Histogram({
      name: 'fleetwright_testrun_duration_seconds',
      help: 'Time from a TestRun\'s first runner to its completion, by pool (and its namespace) and result (the final ' +
        'phase).',
      labelNames: ['namespace', 'pool', 'result'] as const,
      buckets: durationBuckets,
      registers,
    });
    this.tests = new Counter({
      name: 'fleetwright_tests_total',
      help: 'Tests of finished TestRuns, by pool (and its namespace) and result (passed, failed, flaky, skipped).',
      labelNames: ['namespace', 'pool', 'result'] as const,
      registers,
    });
    this.queue = new Histogram({
      name: 'fleetwright_testrun_queue_seconds',
      help: 'Time from a TestRun\'s creation until its first runner started, by pool (and its namespace).',
      labelNames: ['namespace', 'pool'] as const,
      buckets: queueBuckets,
      registers,
    });
    this.retries = new Counter({
      name: 'fleetwright_shard_retries_total',
      help: 'Shards started again after an infrastructure failure, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.finishedRuns = new Counter({
      name: 'fleetwright_testruns_finished_total',
      help: 'TestRuns that reached a final phase, by namespace and result (Succeeded, Failed, Error).',
      labelNames: ['namespace', 'result'] as const,
      registers,
    });
  }

  started(run: TestRun, created: string, now: Date): void {
    this.queue.observe(poolLabels(run), (now.getTime() - Date.parse(created)) / 1000);
  }

  /**
   * Called once per run, by the pass whose status write moved it to a final
   * phase: a run already final in the cache (another replica's, or this
   * process's before a restart) is never counted again. A crash between that
   * write and this call loses the one run, which a counter's rate tolerates.
   */
  finished(run: TestRun, result: string, ms: number, summary: TestCounts): void {
    const pool = poolLabels(run);
    this.finishedRuns.inc({ namespace: pool.namespace, result });
    this.duration.observe({ ...pool, result }, ms / 1000);
    for (const key of ['passed', 'failed', 'flaky', 'skipped'] as const) this.tests.inc({ ...pool, result: key }, summary[key] ?? 0);
  }

  retried(reason: string): void {
    this.retries.inc({ reason });
  }
}
