import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Controller } from './controller.ts';
import { parseBindAddress, probe, serve } from './http.ts';
import type { LeaderElectionConfig } from './leaderelection.ts';
import { Manager } from './manager.ts';
import { Metrics } from './metrics.ts';

export interface ProcessOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** The controllers, or a function that builds them with the registry their own metrics join. */
  controllers: Controller[] | ((registry: Registry) => Controller[]);
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  /** Set when --leader-elect is on. */
  leaderElection?: LeaderElectionConfig;
  namespace?: string;
  gracefulShutdownMs: number;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * The controller process: metrics and probe servers, the manager, and the
 * signal handling. On SIGTERM (or SIGINT) it stops taking work, lets the
 * reconciles in flight finish within the graceful shutdown timeout, releases
 * the lease and exits 0. Losing the lease exits 1 at once, as
 * controller-runtime does: the replica restarts as a follower.
 */
export async function runControllerProcess(options: ProcessOptions): Promise<void> {
  const { log } = options;
  const metrics = new Metrics();
  const manager = new Manager({
    kubeConfig: options.kubeConfig,
    log,
    metrics,
    controllers: typeof options.controllers === 'function' ? options.controllers(metrics.registry) : options.controllers,
    namespace: options.namespace,
    leaderElection: options.leaderElection,
    onLeadershipLost: () => process.exit(1),
  });

  const servers: Server[] = [];
  const metricsBind = parseBindAddress(options.metricsBindAddress, '--metrics-bind-address');
  if (metricsBind) {
    const routes = {
      '/metrics': async () => ({
        status: 200,
        type: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
    };
    servers.push((await serve(metricsBind, routes, log, 'metrics')).server);
  }
  const probeBind = parseBindAddress(options.healthProbeBindAddress, '--health-probe-bind-address');
  if (probeBind) {
    const routes = {
      '/healthz': probe(() => undefined),
      '/readyz': probe(() => (manager.ready ? undefined : 'informer caches have not synced yet')),
    };
    servers.push((await serve(probeBind, routes, log, 'health probes')).server);
  }

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, gracefulShutdownMs: options.gracefulShutdownMs }, 'shutting down');
    await manager.shutdown(options.gracefulShutdownMs);
    await Promise.all(servers.map(close));
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));

  await manager.start();
}
