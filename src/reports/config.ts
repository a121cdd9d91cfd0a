import { REPORT_STORE_METRICS_PORT, REPORT_STORE_PORT } from '../contracts/ports.ts';
import { flagLines, type FlagTable, parseDuration, parseFlags, serverFlags } from '../runtime/flags.ts';
import { type Bind, parseBindAddress } from '../runtime/http.ts';
import { UsageError } from '../runtime/usage.ts';
import type { S3Options } from './s3.ts';

export const reportStoreFlags = {
  'kubeconfig': serverFlags.kubeconfig,
  'log-level': serverFlags.logLevel,
  'watch-namespace': { type: 'string', help: 'store and serve only the reports of this namespace (default: all)' },
  'bind-address': { type: 'string', default: `:${REPORT_STORE_PORT}`, help: 'address of uploads, reports, /healthz and /readyz' },
  'metrics-bind-address': { type: 'string', default: `:${REPORT_STORE_METRICS_PORT}`, help: 'address of /metrics; 0 disables it' },
  'public-url': {
    type: 'string',
    help: 'URL readers reach the store at, e.g. https://reports.example.com: status.reportURL starts with it (required)',
  },
  'backend': { type: 'string', default: 'filesystem', help: 'where reports are kept: filesystem or s3' },
  'path': { type: 'string', help: 'root folder of the filesystem backend (required with --backend=filesystem)' },
  's3-bucket': { type: 'string', help: 'bucket of the s3 backend (required with --backend=s3)' },
  's3-endpoint': { type: 'string', help: 'URL of an S3-compatible server, e.g. http://minio:9000 (default: AWS)' },
  's3-region': { type: 'string', default: 'us-east-1', help: 'region of the bucket' },
  's3-force-path-style': {
    type: 'string',
    default: 'true',
    help: 'true: <endpoint>/<bucket>/<key>, as most S3-compatible servers need; false: <bucket>.<endpoint host>',
  },
  'max-upload-bytes': { type: 'string', default: String(256 * 1024 * 1024), help: 'largest shard report accepted (413 above)' },
  'max-age': { type: 'string', default: '720h', help: 'delete reports this long after they were stored (720h: 30 days)' },
  'sweep-interval': {
    type: 'string',
    default: '10m',
    help: 'how often to delete expired reports and those of TestRuns deleted while the store was down',
  },
} as const satisfies FlagTable;

export type Backend = { kind: 'filesystem'; path: string } | ({ kind: 's3' } & S3Options);

export interface ReportStoreConfig {
  kubeconfig?: string;
  logLevel: string;
  watchNamespace?: string;
  bind: Bind;
  metricsBind?: Bind;
  /** Without a trailing slash. */
  publicUrl: string;
  backend: Backend;
  maxUploadBytes: number;
  maxAgeMs: number;
  sweepIntervalMs: number;
}

export function reportStoreUsage(): string {
  return [
    ...flagLines(reportStoreFlags),
    '',
    'The s3 backend reads its credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS SDK\'s other',
    'sources: a web identity token, an instance profile).',
  ].join('\n');
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`--${flag}=${value}: expected a positive whole number of bytes, such as 268435456 for 256 MiB`);
  }
  return n;
}

function positiveDuration(value: string, flag: string): number {
  const ms = parseDuration(value, `--${flag}`);
  if (ms <= 0) throw new UsageError(`--${flag}=${value}: must be longer than 0, e.g. 720h`);
  return ms;
}

function publicUrl(value: string | undefined): string {
  if (!value) {
    throw new UsageError('--public-url is required: the URL readers reach this store at, e.g. https://reports.example.com ' +
      '(status.reportURL starts with it)');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--public-url=${value}: not a URL; expected e.g. https://reports.example.com`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
    throw new UsageError(`--public-url=${value}: expected an http(s) URL without query or fragment, e.g. https://reports.example.com`);
  }
  return value.replace(/\/+$/, '');
}

function backend(v: Record<string, string | undefined>): Backend {
  switch (v.backend) {
    case 'filesystem':
      if (!v.path) throw new UsageError('--backend=filesystem needs --path: the folder reports are kept in');
      return { kind: 'filesystem', path: v.path };
    case 's3': {
      if (!v['s3-bucket']) throw new UsageError('--backend=s3 needs --s3-bucket: the bucket reports are kept in');
      const style = v['s3-force-path-style'];
      if (style !== 'true' && style !== 'false') throw new UsageError(`--s3-force-path-style=${style}: expected true or false`);
      const endpoint = v['s3-endpoint'];
      if (endpoint !== undefined && !/^https?:$/.test(URL.parse(endpoint)?.protocol ?? '')) {
        throw new UsageError(`--s3-endpoint=${endpoint}: not an http(s) URL; expected e.g. http://minio.storage:9000`);
      }
      return {
        kind: 's3',
        bucket: v['s3-bucket'],
        endpoint,
        region: v['s3-region'] ?? 'us-east-1',
        forcePathStyle: style === 'true',
      };
    }
    default:
      throw new UsageError(`--backend=${v.backend}: expected filesystem or s3`);
  }
}

/** Parses `fleetwright report-store` arguments; throws a UsageError with the offending flag and the fix named. */
export function parseReportStoreArgs(args: string[]): ReportStoreConfig {
  const { values: v } = parseFlags('report-store', args, reportStoreFlags);
  const bind = parseBindAddress(v['bind-address'], '--bind-address');
  if (!bind) throw new UsageError('--bind-address=0: the report store must listen somewhere');
  return {
    kubeconfig: v.kubeconfig,
    logLevel: v['log-level'],
    watchNamespace: v['watch-namespace'],
    bind,
    metricsBind: parseBindAddress(v['metrics-bind-address'], '--metrics-bind-address'),
    publicUrl: publicUrl(v['public-url']),
    backend: backend(v),
    maxUploadBytes: positiveInt(v['max-upload-bytes'], 'max-upload-bytes'),
    maxAgeMs: positiveDuration(v['max-age'], 'max-age'),
    sweepIntervalMs: positiveDuration(v['sweep-interval'], 'sweep-interval'),
  };
}
