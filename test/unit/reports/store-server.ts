// A ReportServer on loopback over a filesystem backend in a temporary
// folder, with the cluster's state given as plain values: how the unit
// tests of the store's routes exercise them without an API server.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FilesystemStorage } from '../../../src/reports/filesystem.ts';
import { ReportMetrics } from '../../../src/reports/metrics.ts';
import { ReportServer, type StoreState } from '../../../src/reports/server.ts';
import { UploadsInFlight } from '../../../src/reports/uploads.ts';

export interface TestStore {
  root: string;
  storage: FilesystemStorage;
  metrics: ReportMetrics;
  server: ReportServer;
  port: number;
  close(): void;
}

export async function startTestStore(options: {
  state: StoreState;
  publicUrl: string;
  maxUploadBytes: number;
}): Promise<TestStore> {
  const root = mkdtempSync(join(tmpdir(), 'fw-report-store-'));
  const storage = new FilesystemStorage(root);
  await storage.init();
  const metrics = new ReportMetrics();
  const server = new ReportServer({ ...options, storage, metrics, uploads: new UploadsInFlight(), log: pino({ level: 'silent' }) });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  return {
    root,
    storage,
    metrics,
    server,
    port: (server.server.address() as AddressInfo).port,
    close: () => {
      server.server.close();
      server.server.closeAllConnections();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
