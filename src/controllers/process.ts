// `fleetwright controller`: the three controllers on the runtime's manager,
// in the process shell every server shares (runtime/process.ts).
import type { Registry } from 'prom-client';
import type { Controller } from '../runtime/controller.ts';
import { parseBindAddress } from '../runtime/http.ts';
import { Manager } from '../runtime/manager.ts';
import { Metrics } from '../runtime/metrics.ts';
import { runProcess, type RunningProcess } from '../runtime/process.ts';
import { browserPoolController } from './browserpool/index.ts';
import type { ControllerConfig } from './config.ts';
import { testRunController } from './testrun/index.ts';
import { tunnelController } from './tunnel/index.ts';

/** The controllers `fleetwright controller` runs. */
export const controllers = (config: ControllerConfig) => (registry: Registry): Controller[] => [
  browserPoolController({ image: config.image, registry, networkPolicy: config.networkPolicy }),
  testRunController({
    image: config.image, reportStoreUrl: config.reportStoreUrl, registry, networkPolicy: config.networkPolicy,
  }),
  tunnelController({ gatewayUrl: config.gatewayUrl, reportStoreUrl: config.reportStoreUrl }),
];

/**
 * `fleetwright controller`, also what test fixtures run with their own
 * controllers. On SIGTERM (or SIGINT) it stops taking work, lets the
 * reconciles in flight finish within the graceful shutdown timeout, releases
 * the lease and exits 0. Losing the lease exits 1 at once, as
 * controller-runtime does: the replica restarts as a follower.
 */
export function runControllerCommand(
  config: ControllerConfig,
  list: Controller[] | ((registry: Registry) => Controller[]),
): Promise<RunningProcess> {
  return runProcess({
    logLevel: config.logLevel,
    kubeconfig: config.kubeconfig,
    metrics: new Metrics(),
    metricsBind: parseBindAddress(config.metricsBindAddress, '--metrics-bind-address'),
    probeBind: parseBindAddress(config.healthProbeBindAddress, '--health-probe-bind-address'),
    setup: ({ log, kubeConfig, rest, metrics }) => {
      const manager = new Manager({
        kubeConfig,
        log,
        metrics,
        rest,
        controllers: typeof list === 'function' ? list(metrics.registry) : list,
        namespace: config.watchNamespace,
        leaderElection: config.leaderElect ? config.leaderElection : undefined,
        onLeadershipLost: () => process.exit(1),
      });
      return {
        start: () => manager.start(),
        notReady: () => (manager.ready ? undefined : 'informer caches have not synced yet'),
        stop: async (signal) => {
          log.info({ signal, gracefulShutdownMs: config.gracefulShutdownMs }, 'shutting down');
          await manager.shutdown(config.gracefulShutdownMs);
        },
      };
    },
  });
}
