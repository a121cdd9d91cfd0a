import { Counter, Histogram } from 'prom-client';
import { ProcessMetrics } from '../runtime/metrics.ts';

/** Why an upload was refused or lost; the `reason` label of fleetwright_report_upload_failures_total. */
export type UploadFailure =
  | 'bad_request' |
  'not_found' |
  'unauthorized' |
  'forbidden' |
  'finished' |
  'too_large' |
  'aborted' |
  'storage_error';

export const CACHE_RESULTS = ['hit', 'miss', 'stored', 'refused'] as const;
export type CacheResult = (typeof CACHE_RESULTS)[number];

/** The `file` label of fleetwright_session_uploads_total: SESSION_FILES' keys, never a session id. */
export const SESSION_FILE_LABELS = ['record', 'video', 'log'] as const;
export type SessionFileLabel = (typeof SESSION_FILE_LABELS)[number];

/** The report store's metrics, beside every process's. */
export class ReportMetrics extends ProcessMetrics {
  readonly bytes = new Counter({
    name: 'fleetwright_report_bytes_total',
    help: 'Report bytes moved: blob reports received from runners (upload) and report files sent to readers (serve).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly uploadFailures = new Counter({
    name: 'fleetwright_report_upload_failures_total',
    help: 'Shard report uploads that were refused or lost, by reason (bad_request, not_found, unauthorized, ' +
      'forbidden, finished, too_large, aborted, storage_error).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly mergeSeconds = new Histogram({
    name: 'fleetwright_report_merge_seconds',
    help: 'Time to merge a TestRun\'s shard reports into one HTML report and store it, by result (ok, error).',
    labelNames: ['result'] as const,
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  readonly dependencyCacheRequests = new Counter({
    name: 'fleetwright_dependency_cache_requests_total',
    help: 'Dependency cache requests from runners, by result: hit (an entry was sent), miss (none under that key), ' +
      'stored (a runner stored one after installing), refused (wrong token, finished run, bad key or body, storage error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly sessionUploads = new Counter({
    name: 'fleetwright_session_uploads_total',
    help: 'Tunnel session files PUT by gateways and browser agents, by file (record, video, log) and result: stored, ' +
      'or why it was refused or lost (bad_request, not_found, unauthorized, forbidden, too_large, aborted, storage_error).',
    labelNames: ['file', 'result'] as const,
    registers: [this.registry],
  });

  readonly sessionBytes = new Counter({
    name: 'fleetwright_session_bytes_total',
    help: 'Tunnel session bytes moved: files received from gateways and agents (upload) and sent to readers (serve).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  constructor() {
    super();
    // Every direction and reason from the start, so rate() and alerts see a 0 rather than no series.
    for (const direction of ['upload', 'serve']) {
      this.bytes.inc({ direction }, 0);
      this.sessionBytes.inc({ direction }, 0);
    }
    for (const file of SESSION_FILE_LABELS) this.sessionUploads.inc({ file, result: 'stored' }, 0);
    for (const result of CACHE_RESULTS) this.dependencyCacheRequests.inc({ result }, 0);
  }
}
