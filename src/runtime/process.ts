// The shell of every server process (`fleetwright controller`, `gateway`,
// `report-store`): its logger, kubeconfig and API client, its metrics
// registry and /metrics, its health probes, and what SIGTERM does. Each
// process brings only its own parts.
import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Bind, metricsRoutes, probeRoutes, serve } from './http.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { createLogger } from './log.ts';
import type { ProcessMetrics } from './metrics.ts';
import { RestClient } from './rest.ts';

/** What the shell hands a process to build its parts with. */
export interface ProcessShell<M extends ProcessMetrics> {
  log: Logger;
  kubeConfig: KubeConfig;
  /** The API client; its requests count in rest_client_requests_total. */
  rest: RestClient;
  metrics: M;
}

/** A process's own parts, built by `setup` before anything waits on the cluster. */
export interface ProcessParts {
  /** Waits for what the process needs (its caches) and starts serving; resolves once it does. */
  start(): Promise<void>;
  /** Why /readyz fails, or undefined once the process is ready; for the shell's probe server. */
  notReady?(): string | undefined;
  /** On SIGTERM or SIGINT (once, also while `start` is still waiting): finish or hand back what is in flight. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

export interface ProcessOptions<M extends ProcessMetrics> {
  logLevel: string;
  /** Fields every log line carries, e.g. `component`. */
  logFields?: Record<string, unknown>;
  /** A kubeconfig file; unset: client-go's default ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeconfig?: string;
  /** The process's registry: ProcessMetrics or a subclass with the process's own metrics. */
  metrics: M;
  /** Where /metrics is served; unset: nowhere. */
  metricsBind?: Bind;
  /** Where /healthz and /readyz are served on a server of their own; unset: the process serves them itself. */
  probeBind?: Bind;
  setup(shell: ProcessShell<M>): ProcessParts | Promise<ProcessParts>;
}

export interface RunningProcess {
  /** The URLs the shell's servers listen at. */
  urls: { metrics?: string; probes?: string };
  /** What SIGTERM does, short of exiting: stops the parts, closes the servers and forgets the signal handlers. */
  shutdown(signal?: NodeJS.Signals): Promise<void>;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * Runs a process: builds its parts, serves /metrics (and the probes, with
 * `probeBind`), then starts the parts. On SIGTERM or SIGINT the parts stop,
 * the servers close and the process exits 0. Resolves once the parts have
 * started.
 */
export async function runProcess<M extends ProcessMetrics>(options: ProcessOptions<M>): Promise<RunningProcess> {
  const base = createLogger(options.logLevel);
  const log = options.logFields ? base.child(options.logFields) : base;
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const { metrics } = options;
  const rest = new RestClient(kubeConfig, (method, code) => metrics.restRequest(method, code));
  const parts = await options.setup({ log, kubeConfig, rest, metrics });

  const servers: Server[] = [];
  const urls: RunningProcess['urls'] = {};
  if (options.metricsBind) {
    const { server, url } = await serve(options.metricsBind, metricsRoutes(metrics.registry), log, 'metrics');
    servers.push(server);
    urls.metrics = url;
  }
  if (options.probeBind) {
    const notReady = () => parts.notReady?.();
    const { server, url } = await serve(options.probeBind, probeRoutes(notReady), log, 'health probes');
    servers.push(server);
    urls.probes = url;
  }

  let stopping: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals) => (stopping ??= (async () => {
    await parts.stop(signal);
    await Promise.all(servers.map(close));
    log.info('stopped');
  })());
  const onSignal = (signal: NodeJS.Signals) => void stop(signal).then(() => process.exit(0));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  await parts.start();
  return {
    urls,
    shutdown: (signal = 'SIGTERM') => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      return stop(signal);
    },
  };
}
