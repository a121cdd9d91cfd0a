// `fleetwright gateway`: serves every Tunnel at its path. Any number of
// replicas may run; each leases browsers on its own and reports its counts
// through its heartbeat Lease.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { BrowserLeaser } from '../leasing/leaser.ts';
import { createLogger } from '../runtime/log.ts';
import { serve } from '../runtime/http.ts';
import { loadKubeConfig } from '../runtime/kubeconfig.ts';
import { RestClient } from '../runtime/rest.ts';
import type { GatewayConfig } from './config.ts';
import { GatewayMetrics } from './metrics.ts';
import { ConnectionCounts, ReplicaHeartbeat } from './replica.ts';
import { Gateway } from './server.ts';
import { ClusterState, tunnelKey } from './state.ts';

export async function runGateway(config: GatewayConfig): Promise<void> {
  const log = createLogger(config.logLevel).child({ component: 'gateway', replica: config.replica.name });
  const rest = new RestClient(loadKubeConfig(config.kubeconfig));
  const identity = `${config.replica.name}_${randomUUID()}`;

  const state = new ClusterState(rest, log, { namespace: config.watchNamespace, identity });
  const leaser = new BrowserLeaser(rest, log, { namespace: config.watchNamespace });
  await Promise.all([state.start(), leaser.start()]);

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
  // Browsers are leased only once the heartbeat exists, or the pools would take them back at once.
  await heartbeat.start();

  const metrics = new GatewayMetrics();
  const gateway = new Gateway({
    state,
    leaser,
    counts,
    onCountsChanged: () => heartbeat.changed(),
    metrics,
    replica: config.replica,
    identity,
    limits: config.limits,
    log,
  });
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
  const metricsServer = config.metricsBind
    ? (await serve(config.metricsBind, {
        '/metrics': async () => ({ status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      }, log, 'metrics')).server
    : undefined;

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, active: gateway.activeSessions, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'draining');
    await gateway.drain(config.shutdownTimeoutMs);
    await heartbeat.stop().catch((err: unknown) => log.warn({ err: String(err) }, 'could not remove the heartbeat Lease'));
    await Promise.all([state.stop(), leaser.stop()]);
    metricsServer?.close();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));
}
