// `fleetwright report-store`: takes the shards' blob reports, merges each
// finished TestRun's into one HTML report, serves it, and deletes reports
// with their runs; keeps, lists and serves Tunnels' sessions the same way
// (sessions-server.ts) and writes each Tunnel's status.sessionsURL. One
// replica: the filesystem backend has one writer, and
// merges are queued one at a time. Its own process rather than part of the
// gateway, which scales out on the latency-sensitive path.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess, type RunningProcess } from '../runtime/process.ts';
import { parseKey } from '../runtime/resource.ts';
import type { ReportStoreConfig } from './config.ts';
import { FilesystemStorage } from './filesystem.ts';
import { playwrightCli } from './merge.ts';
import { Merger } from './merger.ts';
import { ReportMetrics } from './metrics.ts';
import { Retention } from './retention.ts';
import { S3Storage } from './s3.ts';
import { ReportServer } from './server.ts';
import { UploadsInFlight } from './uploads.ts';
import { SessionsURLWriter } from './sessions-url.ts';
import { ReportState, runView, tunnelView } from './state.ts';
import type { ReportStorage } from './storage.ts';

async function openStorage(config: ReportStoreConfig): Promise<ReportStorage> {
  if (config.backend.kind === 'filesystem') {
    const storage = new FilesystemStorage(config.backend.path);
    await storage.init();
    return storage;
  }
  const storage = new S3Storage(config.backend);
  await storage.init();
  return storage;
}

export function runReportStore(config: ReportStoreConfig): Promise<RunningProcess> {
  return runProcess({
    logLevel: config.logLevel,
    logFields: { component: 'report-store' },
    kubeconfig: config.kubeconfig,
    metrics: new ReportMetrics(),
    metricsBind: config.metricsBind,
    // /healthz and /readyz are the ReportServer's own, on --bind-address.
    setup: async ({ log, rest, metrics }) => {
      const cli = playwrightCli();
      const storage = await openStorage(config);
      log.info({ storage: storage.description, maxUploadBytes: config.maxUploadBytes, maxAgeMs: config.maxAgeMs }, 'storage ready');

      const state = new ReportState(rest, log, { namespace: config.watchNamespace });
      // A run that finished while a shard was uploading is merged once that upload is in.
      const uploads = new UploadsInFlight((key) => {
        const { namespace, name } = parseKey(key);
        merger.consider(state.run(namespace, name));
      });
      const merger = new Merger({
        run: (ns, name) => state.run(ns, name),
        storage,
        rest,
        metrics,
        uploads,
        publicUrl: config.publicUrl,
        cli,
        log,
      });
      const retention = new Retention({
        storage,
        runs: () => state.allRuns(),
        tunnels: () => state.allTunnels(),
        namespace: config.watchNamespace,
        maxAgeMs: config.maxAgeMs,
        intervalMs: config.sweepIntervalMs,
        log,
      });
      state.runs.addHandler({
        onAdd: (obj) => merger.consider(runView(obj)),
        onUpdate: (_old, obj) => merger.consider(runView(obj)),
        onDelete: (obj) => {
          const run = runView(obj);
          if (run) retention.deleted(run);
        },
      });

      const sessionsURLs = new SessionsURLWriter({
        tunnel: (ns, name) => state.tunnel(ns, name),
        rest,
        publicUrl: config.publicUrl,
        log,
      });
      state.tunnels.addHandler({
        onAdd: (obj) => sessionsURLs.consider(tunnelView(obj)),
        onUpdate: (_old, obj) => sessionsURLs.consider(tunnelView(obj)),
        onDelete: (obj) => {
          const tunnel = tunnelView(obj);
          if (tunnel) retention.tunnelDeleted(tunnel);
        },
      });

      const reports = new ReportServer({
        state,
        storage,
        metrics,
        uploads,
        publicUrl: config.publicUrl,
        maxUploadBytes: config.maxUploadBytes,
        log,
      });
      // Listening before the caches sync: /healthz answers at once, /readyz once they have.
      await new Promise<void>((resolve, reject) => {
        reports.server.once('error', reject);
        reports.server.listen(config.bind.port, config.bind.host, resolve);
      });
      const address = reports.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      log.info({ url: `http://${host}:${address.port}`, publicUrl: config.publicUrl }, 'serving reports');

      return {
        async start() {
          await state.start();
          merger.start();
          sessionsURLs.start();
          retention.start();
          log.info('caches synced; merging and sweeping');
        },
        async stop(signal) {
          log.info({ signal, uploads: uploads.total }, 'shutting down');
          await reports.drain(20_000);
          // A merge in progress is not waited for: the next start merges that run again.
          await Promise.all([
            Promise.race([merger.stop(), sleep(5_000)]), sessionsURLs.stop(), retention.stop(), state.stop(),
          ]);
          if (storage instanceof S3Storage) storage.destroy();
        },
      };
    },
  });
}
