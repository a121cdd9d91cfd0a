import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueObserver } from './workqueue.ts';

/** controller-runtime's buckets for reconcile_time_seconds (pkg/internal/controller/metrics). */
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
  1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** client-go's workqueue buckets: prometheus.ExponentialBuckets(10e-9, 10, 12), 10 ns to 1000 s. */
const queueBuckets = Array.from({ length: 12 }, (_, i) => 10e-9 * 10 ** i);

/**
 * What every server process exports (runProcess, process.ts): prom-client's
 * process and Node.js metrics, and client-go's rest_client_requests_total for
 * the process's requests to the API server. Each process adds its own to the
 * registry.
 */
export class ProcessMetrics {
  readonly registry = new Registry();

  private readonly restRequests = new Counter({
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests to the API server, partitioned by status code and method (watches excluded)',
    labelNames: ['code', 'method'] as const,
    registers: [this.registry],
  });

  /**
   * `eventLoopSampleMs`: how often the event loop's delay is sampled
   * (prom-client's default, 10 ms, is a wake-up 100 times a second).
   */
  constructor(options: { eventLoopSampleMs?: number } = {}) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: options.eventLoopSampleMs ?? 10 });
    // Gauges that prom-client names *_total, which promtool (and OpenMetrics) reserve for counters.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** The RestClient's observer; client-go's label for a request that got no response. */
  restRequest(method: string, code: number): void {
    this.restRequests.inc({ method, code: code === 0 ? '<error>' : String(code) });
  }
}

/**
 * The metrics of the controller process, under controller-runtime's names and
 * labels so that its dashboards and alerts work unchanged, plus
 * `fleetwright_leader`.
 */
export class Metrics extends ProcessMetrics {
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });

  readonly terminalReconcileErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });

  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: reconcileBuckets,
    registers: [this.registry],
  });

  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });

  readonly maxConcurrentReconciles = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'fleetwright_leader',
    help: 'Whether this replica holds the leader election lease (1) or not (0)',
    registers: [this.registry],
  });

  private readonly queueLabels = ['name', 'controller'] as const;
  private readonly depth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: this.queueLabels,
    registers: [this.registry],
  });

  private readonly adds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: this.queueLabels,
    registers: [this.registry],
  });

  private readonly retries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: this.queueLabels,
    registers: [this.registry],
  });

  private readonly queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: this.queueLabels,
    buckets: queueBuckets,
    registers: [this.registry],
  });

  private readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: this.queueLabels,
    buckets: queueBuckets,
    registers: [this.registry],
  });

  private readonly inFlight = new Map<string, () => number[]>();
  private readonly unfinished: Gauge<'name' | 'controller'> = new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration. ' +
      'Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at ' +
      'which this increases.',
    labelNames: this.queueLabels,
    registers: [this.registry],
    collect: (): void => this.collectInFlight(this.unfinished, (starts, t) => starts.reduce((n, s) => n + t - s, 0)),
  });

  private readonly longest: Gauge<'name' | 'controller'> = new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames: this.queueLabels,
    registers: [this.registry],
    collect: (): void => this.collectInFlight(this.longest, (starts, t) => Math.max(0, ...starts.map((s) => t - s))),
  });

  constructor() {
    super();
    this.leader.set(0);
  }

  /** Every series of `controller` at zero, as controller-runtime does, so that rates work from the first scrape. */
  initController(controller: string, workers: number): void {
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      this.reconcileTotal.inc({ controller, result }, 0);
    }
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalReconcileErrors.inc({ controller }, 0);
    this.maxConcurrentReconciles.set({ controller }, workers);
    this.activeWorkers.set({ controller }, 0);
  }

  /** The queue's observer for `controller`; `processingSince` feeds the unfinished-work gauges at scrape time. */
  queueObserver(controller: string, processingSince: () => number[]): QueueObserver {
    const labels = { name: controller, controller };
    this.inFlight.set(controller, processingSince);
    this.depth.set(labels, 0);
    this.adds.inc(labels, 0);
    this.retries.inc(labels, 0);
    return {
      added: () => this.adds.inc(labels),
      depth: (n) => this.depth.set(labels, n),
      retried: () => this.retries.inc(labels),
      waited: (s) => this.queueDuration.observe(labels, s),
      worked: (s) => this.workDuration.observe(labels, s),
    };
  }

  private collectInFlight(gauge: Gauge<'name' | 'controller'>, value: (starts: number[], nowMs: number) => number) {
    const t = performance.now();
    for (const [controller, since] of this.inFlight) {
      gauge.set({ name: controller, controller }, value(since(), t) / 1000);
    }
  }
}
