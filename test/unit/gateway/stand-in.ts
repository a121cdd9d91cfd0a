// The gateway's front (server.ts) in this process, with a stand-in for the
// cluster: one Tunnel (team-a/ci, over pool chromium, at /tunnels/team-a/ci)
// and a leaser that hands out one browser at `endpoint` and counts its returns.
// With `sessions`, the Tunnel records as told and its session records go to
// the store at `sessions.store`.
import { pino } from 'pino';
import type { Tunnel } from '../../../src/api/v1alpha1/index.ts';
import { GatewayMetrics } from '../../../src/gateway/metrics.ts';
import { ConnectionCounts } from '../../../src/gateway/replica.ts';
import { SessionReports } from '../../../src/gateway/sessions.ts';
import { Gateway } from '../../../src/gateway/server.ts';
import type { BrowserLeaser, LeasedBrowser } from '../../../src/leasing/leaser.ts';

export const TOKEN = 'tunnel-token-for-the-test';
export const TUNNEL_PATH = '/tunnels/team-a/ci';

export const SESSION_TOKEN = 'session-token-for-the-test';
export const READER_TOKEN = 'reader-token-for-the-test';

const tunnel = {
  apiVersion: 'fleetwright.dev/v1alpha1',
  kind: 'Tunnel',
  metadata: { namespace: 'team-a', name: 'ci' },
  spec: {
    poolRefs: [{ name: 'chromium' }],
    auth: { secretRef: { name: 'token', key: 'token' } },
    maxConnections: 10,
    queueTimeoutSeconds: 5,
    idleTimeoutSeconds: 60,
    maxSessionSeconds: 600,
    allowExposeNetwork: false,
    allowCDP: true,
    recording: { video: 'Never', log: 'Never' },
    liveView: { takeover: false },
  },
} as unknown as Tunnel;

export function standInGateway(options: {
  endpoint: string;
  maxMessageBytes: number;
  onRelease: (pod: string) => void;
  sessions?: { store: URL; recording: Tunnel['spec']['recording']; takeover: boolean };
}) {
  let holder = '';
  const recorded = options.sessions && {
    recording: options.sessions.recording,
    liveView: { takeover: options.sessions.takeover },
  };
  const served = recorded ? { ...tunnel, spec: { ...tunnel.spec, ...recorded } } : tunnel;
  // What the leaser's onLost was given: the sessions to end as their pod is lost.
  const watchingLoss = new Set<() => void>();
  const leaser = {
    onLost: (_pod: unknown, lost: () => void) => {
      watchingLoss.add(lost);
      return () => watchingLoss.delete(lost);
    },
    lease: async (_pool: unknown, want: { holder: string }): Promise<LeasedBrowser> => {
      holder = want.holder;
      return {
        pod: { namespace: 'team-a', name: 'chromium-1' },
        endpoint: options.endpoint,
        lease: {} as LeasedBrowser['lease'],
        source: 'idle',
        release: async () => {
          holder = '';
          options.onRelease('chromium-1');
          return true;
        },
      };
    },
    leasedEndpoint: (_namespace: string, matches: (lease: LeasedBrowser['lease']) => boolean) =>
      holder && matches({ holder, kind: 'Tunnel', ref: 'team-a/ci', since: '' }) ? options.endpoint : undefined,
  } as unknown as BrowserLeaser;
  const metrics = new GatewayMetrics();
  const gateway = new Gateway({
    state: {
      tunnelsByPath: () => new Map([[TUNNEL_PATH, served]]),
      token: () => TOKEN,
      sessionToken: () => (options.sessions ? SESSION_TOKEN : undefined),
      readerToken: () => (options.sessions ? READER_TOKEN : undefined),
      pools: () => [{ name: 'chromium', exists: true, browser: 'chromium', versions: ['1.65.1'] }],
      activeElsewhere: () => 0,
      ready: true,
    },
    leaser,
    counts: new ConnectionCounts(),
    onCountsChanged: () => undefined,
    sessions: new SessionReports(options.sessions?.store),
    metrics,
    replica: { namespace: 'fleetwright-system', name: 'fleetwright-gateway-test' },
    identity: 'test',
    limits: {
      maxHeaderBytes: 16_384,
      maxBodyBytes: 1_048_576,
      maxMessageBytes: options.maxMessageBytes,
      headersTimeoutMs: 10_000,
      upstreamTimeoutMs: 10_000,
    },
    log: pino({ level: 'silent' }),
  });
  /** The leased browser's pod is gone (deleted on a lost node), as the leaser would tell it. */
  const loseBrowserPod = () => {
    for (const lost of [...watchingLoss]) lost();
  };
  return { gateway, metrics, loseBrowserPod };
}
