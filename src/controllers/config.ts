// `fleetwright controller`'s flags and what they configure.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { GATEWAY_URL_ENV, IMAGE_ENV, REPORT_STORE_URL_ENV } from '../contracts/controller.ts';
import { DEFAULT_IMAGE } from '../contracts/image.ts';
import { CONTROLLER_METRICS_PORT, CONTROLLER_PROBE_PORT, REPORT_STORE_PORT } from '../contracts/ports.ts';
import { flagLines, type FlagTable, parseDuration, parseFlags, serverFlags } from '../runtime/flags.ts';
import { parseBindAddress } from '../runtime/http.ts';
import { ownNamespace } from '../runtime/kubeconfig.ts';
import { leaderElectionDefaults } from '../runtime/leaderelection.ts';
import { UsageError } from '../runtime/usage.ts';
import type { NetworkPolicyConfig } from './networkpolicy.ts';

export interface ControllerConfig {
  kubeconfig?: string;
  /** Image of browser and runner pods (the operator's own). */
  image: string;
  /** The gateway's external URL, which Tunnel status.url starts with; unset: status.url is the path alone. */
  gatewayUrl?: string;
  /** The report store's URL as runner pods reach it; unset: runners upload no report, Tunnels store no sessions. */
  reportStoreUrl?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElection: {
    namespace: string;
    name: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  watchNamespace?: string;
  /** Set: each BrowserPool and TestRun gets its NetworkPolicy (controllers/networkpolicy.ts). */
  networkPolicy?: NetworkPolicyConfig;
  gracefulShutdownMs: number;
  logLevel: string;
}

const ms = (n: number) => `${n / 1000}s`;
const REPORT_STORE_EXAMPLE = `http://fleetwright-report-store.fleetwright-system.svc:${REPORT_STORE_PORT}`;

/** Flags of `fleetwright controller`, with controller-runtime's (and component-base's) names and defaults. */
export const controllerFlags = {
  'kubeconfig': serverFlags.kubeconfig,
  'image': {
    type: 'string',
    help: `image of browser and runner pods (default: $${IMAGE_ENV}, else ${DEFAULT_IMAGE})`,
  },
  'gateway-url': {
    type: 'string',
    help: 'external URL of the gateway, e.g. wss://browsers.example.com, for Tunnel status.url ' +
      `(default: $${GATEWAY_URL_ENV}, else status.url is the path alone)`,
  },
  'report-store-url': {
    type: 'string',
    help: `URL runner pods reach the report store at, e.g. ${REPORT_STORE_EXAMPLE}; ` +
      'each shard uploads its Playwright report there, and each Tunnel gets a session token to store its sessions ' +
      `with (default: $${REPORT_STORE_URL_ENV}, else no reports and no sessions stored)`,
  },
  'metrics-bind-address': { type: 'string', default: `:${CONTROLLER_METRICS_PORT}`, help: 'address of /metrics; 0 disables it' },
  'health-probe-bind-address': {
    type: 'string',
    default: `:${CONTROLLER_PROBE_PORT}`,
    help: 'address of /healthz and /readyz; 0 disables',
  },
  'leader-elect': { type: 'boolean', default: false, help: 'reconcile only while holding the leader election Lease' },
  'leader-election-id': { type: 'string', default: 'fleetwright-controller', help: 'name of the Lease' },
  'leader-election-namespace': { type: 'string', help: 'namespace of the Lease (default: the pod\'s own)' },
  'leader-elect-lease-duration': {
    type: 'string',
    default: ms(leaderElectionDefaults.leaseDurationMs),
    help: 'how long followers wait after the last renewal before taking over',
  },
  'leader-elect-renew-deadline': {
    type: 'string',
    default: ms(leaderElectionDefaults.renewDeadlineMs),
    help: 'how long the leader retries renewing before it stops leading',
  },
  'leader-elect-retry-period': {
    type: 'string',
    default: ms(leaderElectionDefaults.retryPeriodMs),
    help: 'between attempts to acquire or renew',
  },
  'watch-namespace': { type: 'string', help: 'watch only this namespace (default: all)' },
  'network-policy-namespace': {
    type: 'string',
    help: 'the namespace of the gateway and controller pods; set: each BrowserPool and TestRun gets a ' +
      'NetworkPolicy that admits only them and the run\'s runners (default: no NetworkPolicies)',
  },
  'gateway-pod-labels': { type: 'string', help: 'labels of the gateway pods, k=v,k=v (with --network-policy-namespace)' },
  'controller-pod-labels': {
    type: 'string',
    help: 'labels of the controller pods, k=v,k=v (with --network-policy-namespace)',
  },
  'graceful-shutdown-timeout': { type: 'string', default: '30s', help: 'how long reconciles in flight may finish' },
  'log-level': serverFlags.logLevel,
} as const satisfies FlagTable;

export const usage = () => flagLines(controllerFlags).join('\n');

function parseGatewayUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!URL.canParse(value)) {
    throw new UsageError(`--gateway-url=${value}: expected an absolute URL such as wss://browsers.example.com`);
  }
  return value;
}

function parseReportStoreUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
    throw new UsageError(`--report-store-url=${value}: expected an http(s) URL without query or fragment, such as ` +
      REPORT_STORE_EXAMPLE);
  }
  return value.replace(/\/+$/, '');
}

/** `k=v,k=v` to labels; throws naming the flag. */
export function parsePodLabels(value: string | undefined, flag: string): Record<string, string> {
  const pairs = (value ?? '').split(',').filter((p) => p !== '').map((p) => p.split('='));
  if (pairs.length === 0 || pairs.some((p) => p.length !== 2 || !p[0])) {
    throw new UsageError(`--${flag}=${value ?? ''}: expected labels such as app.kubernetes.io/component=gateway,a=b`);
  }
  return Object.fromEntries(pairs);
}

function parseNetworkPolicy(v: Record<string, unknown>): ControllerConfig['networkPolicy'] {
  const namespace = v['network-policy-namespace'] as string | undefined;
  if (!namespace) {
    if (v['gateway-pod-labels'] || v['controller-pod-labels']) {
      throw new UsageError('--gateway-pod-labels and --controller-pod-labels need --network-policy-namespace');
    }
    return undefined;
  }
  return {
    namespace,
    gatewayPodLabels: parsePodLabels(v['gateway-pod-labels'] as string | undefined, 'gateway-pod-labels'),
    controllerPodLabels: parsePodLabels(v['controller-pod-labels'] as string | undefined, 'controller-pod-labels'),
  };
}

/** A bind address checked now, so that a bad one is a usage error rather than a failure once the manager runs. */
function bindAddress(value: string, flag: string): string {
  parseBindAddress(value, flag);
  return value;
}

/** Parses `fleetwright controller` arguments; throws a UsageError with the offending flag named. */
export function parseControllerArgs(args: string[]): ControllerConfig {
  const { values: v } = parseFlags('controller', args, controllerFlags);
  const str = (name: keyof typeof v) => v[name] as string;
  const leaseDurationMs = parseDuration(str('leader-elect-lease-duration'), '--leader-elect-lease-duration');
  const renewDeadlineMs = parseDuration(str('leader-elect-renew-deadline'), '--leader-elect-renew-deadline');
  const retryPeriodMs = parseDuration(str('leader-elect-retry-period'), '--leader-elect-retry-period');
  if (leaseDurationMs <= renewDeadlineMs || renewDeadlineMs <= retryPeriodMs) {
    throw new UsageError('leader election: need lease duration > renew deadline > retry period (defaults 15s > 10s > 2s)');
  }
  return {
    kubeconfig: v.kubeconfig,
    image: v.image ?? process.env[IMAGE_ENV] ?? DEFAULT_IMAGE,
    gatewayUrl: parseGatewayUrl(v['gateway-url'] ?? process.env[GATEWAY_URL_ENV]),
    reportStoreUrl: parseReportStoreUrl(v['report-store-url'] ?? process.env[REPORT_STORE_URL_ENV]),
    metricsBindAddress: bindAddress(str('metrics-bind-address'), '--metrics-bind-address'),
    healthProbeBindAddress: bindAddress(str('health-probe-bind-address'), '--health-probe-bind-address'),
    leaderElect: v['leader-elect'],
    leaderElection: {
      namespace: v['leader-election-namespace'] ?? ownNamespace(),
      name: str('leader-election-id'),
      identity: `${hostname()}_${randomUUID()}`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    watchNamespace: v['watch-namespace'],
    networkPolicy: parseNetworkPolicy(v),
    gracefulShutdownMs: parseDuration(str('graceful-shutdown-timeout'), '--graceful-shutdown-timeout'),
    logLevel: str('log-level'),
  };
}
