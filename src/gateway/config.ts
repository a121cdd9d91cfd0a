import { hostname } from 'node:os';
import { REPORT_STORE_URL_ENV } from '../contracts/controller.ts';
import { GATEWAY_METRICS_PORT, GATEWAY_PORT } from '../contracts/ports.ts';
import { flagLines, type FlagTable, parseDuration, parseFlags, serverFlags } from '../runtime/flags.ts';
import { type Bind, parseBindAddress } from '../runtime/http.ts';
import { ownNamespace } from '../runtime/kubeconfig.ts';
import { UsageError } from '../runtime/usage.ts';
import type { GatewayLimits } from './server.ts';

export const gatewayFlags = {
  'kubeconfig': serverFlags.kubeconfig,
  'bind-address': { type: 'string', default: `:${GATEWAY_PORT}`, help: 'address Tunnels, /healthz and /readyz are served at' },
  'metrics-bind-address': { type: 'string', default: `:${GATEWAY_METRICS_PORT}`, help: 'address of /metrics; 0 disables it' },
  'watch-namespace': { type: 'string', help: 'serve only the Tunnels of this namespace (default: all)' },
  'replica-namespace': {
    type: 'string',
    help: 'namespace of this replica\'s heartbeat Lease (default: the pod\'s own, else default)',
  },
  'replica-name': {
    type: 'string',
    help: 'name of this replica, unique among replicas (default: $POD_NAME, else <hostname>-<pid>)',
  },
  'report-store-url': {
    type: 'string',
    help: 'URL the gateway and browser pods reach the report store at; each Tunnel session\'s record and ' +
      `recordings are kept there (default: $${REPORT_STORE_URL_ENV}, else none are kept)`,
  },
  'max-header-bytes': { type: 'string', default: '16384', help: 'largest request header block (431 above)' },
  'max-body-bytes': { type: 'string', default: '1048576', help: 'largest proxied HTTP request body (413 above)' },
  'max-message-bytes': {
    type: 'string',
    default: '67108864',
    help: 'largest WebSocket message either side may send (the connection closes with 1009 above)',
  },
  'header-timeout': { type: 'string', default: '10s', help: 'how long a client may take to send its request headers' },
  'upstream-timeout': { type: 'string', default: '10s', help: 'how long a leased browser may take to accept' },
  'shutdown-timeout': {
    type: 'string',
    default: '30s',
    help: 'on SIGTERM, how long open sessions may go on before they are closed with 1001',
  },
  'log-level': serverFlags.logLevel,
} as const satisfies FlagTable;

export interface GatewayConfig {
  kubeconfig?: string;
  bind: Bind;
  metricsBind?: Bind;
  watchNamespace?: string;
  replica: { namespace: string; name: string };
  /** Where session records and recordings go; undefined: nowhere. */
  reportStoreUrl?: URL;
  limits: GatewayLimits;
  shutdownTimeoutMs: number;
  logLevel: string;
}

export const gatewayUsage = () => flagLines(gatewayFlags).join('\n');

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${flag}=${value}: expected a positive whole number of bytes`);
  return n;
}

/** A Lease name from any replica name: lowercase DNS label characters, at most 253. */
const leaseName = (replica: string) =>
  `fleetwright-gateway-${replica.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 253).replace(/-+$/, '');

/** Parses `fleetwright gateway` arguments; throws a UsageError with the offending flag named. */
export function parseGatewayArgs(args: string[], env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const { values: v } = parseFlags('gateway', args, gatewayFlags);
  const bind = parseBindAddress(v['bind-address'], '--bind-address');
  if (!bind) throw new UsageError('--bind-address=0: the gateway must listen somewhere');
  return {
    kubeconfig: v.kubeconfig,
    bind,
    metricsBind: parseBindAddress(v['metrics-bind-address'], '--metrics-bind-address'),
    watchNamespace: v['watch-namespace'],
    replica: {
      namespace: v['replica-namespace'] ?? ownNamespace(),
      name: leaseName(v['replica-name'] ?? env.POD_NAME ?? `${hostname()}-${process.pid}`),
    },
    reportStoreUrl: parseStoreUrl(v['report-store-url'] ?? env[REPORT_STORE_URL_ENV]),
    limits: {
      maxHeaderBytes: positiveInt(v['max-header-bytes'], 'max-header-bytes'),
      maxBodyBytes: positiveInt(v['max-body-bytes'], 'max-body-bytes'),
      maxMessageBytes: positiveInt(v['max-message-bytes'], 'max-message-bytes'),
      headersTimeoutMs: parseDuration(v['header-timeout'], '--header-timeout'),
      upstreamTimeoutMs: parseDuration(v['upstream-timeout'], '--upstream-timeout'),
    },
    shutdownTimeoutMs: parseDuration(v['shutdown-timeout'], '--shutdown-timeout'),
    logLevel: v['log-level'],
  };
}

function parseStoreUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash) {
    throw new UsageError(`--report-store-url=${value}: expected an http(s) URL without query or fragment`);
  }
  return url;
}
