// `fleetwright gateway`: serves every Tunnel at its path. Any number of
// replicas may run; each leases browsers on its own and reports its counts
// through its heartbeat Lease.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { BrowserLeaser } from '../leasing/leaser.ts';
import { runProcess, type RunningProcess } from '../runtime/process.ts';
import type { GatewayConfig } from './config.ts';
import { GatewayMetrics } from './metrics.ts';
import { ConnectionCounts, ReplicaHeartbeat } from './replica.ts';
import { Gateway } from './server.ts';
import { SessionReports } from './sessions.ts';
import { ClusterState, tunnelKey } from './state.ts';

export function runGateway(config: GatewayConfig): Promise<RunningProcess> {
  return runProcess({
    logLevel: config.logLevel,
    logFields: { component: 'gateway', replica: config.replica.name },
    kubeconfig: config.kubeconfig,
    metrics: new GatewayMetrics(),
    metricsBind: config.metricsBind,
    // /healthz and /readyz are the Gateway server's own, on --bind-address.
    setup: ({ log, rest, metrics }) => {
      const identity = `${config.replica.name}_${randomUUID()}`;
      const state = new ClusterState(rest, log, { namespace: config.watchNamespace, identity });
      const leaser = new BrowserLeaser(rest, log, { namespace: config.watchNamespace });
      const counts = new ConnectionCounts();
      const heartbeat = new ReplicaHeartbeat(rest, log, {
        ref: config.replica,
        identity,
        report: () => {
          const tunnels = counts.snapshot(state.servedKeys());
          const busy = [...state.tunnelsByPath().values()].filter((t) => (tunnels[tunnelKey(t)]?.active ?? 0) > 0);
          const pools = busy.flatMap((t) => t.spec.poolRefs.map((p) => `${t.metadata.namespace}/${p.name}`));
          return { tunnels, pools: [...new Set(pools)].sort() };
        },
      });
      const gateway = new Gateway({
        state,
        leaser,
        counts,
        onCountsChanged: () => heartbeat.changed(),
        metrics,
        sessions: new SessionReports(config.reportStoreUrl),
        replica: config.replica,
        identity,
        limits: config.limits,
        log,
      });
      let beating = false;
      return {
        async start() {
          await Promise.all([state.start(), leaser.start()]);
          // Browsers are leased only once the heartbeat exists, or the pools would take them back at once.
          await heartbeat.start();
          beating = true;
          state.tunnels.addHandler({
            onAdd: () => heartbeat.changed(),
            onDelete: (t) => {
              gateway.closeTunnel(tunnelKey(t), 'the Tunnel was deleted');
              heartbeat.changed();
            },
          });
          await new Promise<void>((resolve, reject) => {
            gateway.server.once('error', reject);
            gateway.server.listen(config.bind.port, config.bind.host, resolve);
          });
          const address = gateway.server.address() as AddressInfo;
          log.info({ url: `http://${address.address}:${address.port}`, identity }, 'serving Tunnels');
        },
        async stop(signal) {
          log.info({ signal, active: gateway.activeSessions, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'draining');
          await gateway.drain(config.shutdownTimeoutMs);
          if (beating) {
            await heartbeat.stop().catch((err: unknown) => log.warn({ err: String(err) }, 'could not remove the heartbeat Lease'));
          }
          await Promise.all([state.stop(), leaser.stop()]);
        },
      };
    },
  });
}
