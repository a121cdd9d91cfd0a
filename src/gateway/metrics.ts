import { Counter, Gauge, Histogram } from 'prom-client';
import { ProcessMetrics } from '../runtime/metrics.ts';

/** How a client connection or request ended up; the `result` label of fleetwright_tunnel_connections_total. */
export type ConnectionResult =
  | 'ok' |
  'unauthorized' |
  'forbidden' |
  'rejected_full' |
  'version_mismatch' |
  'browser_mismatch' |
  'queue_timeout' |
  'upstream_error' |
  'unavailable';

/**
 * The labels of a Tunnel's series: its namespace and name apart, as the
 * controller's pool series and kube-state-metrics label theirs, so that
 * same-named Tunnels of two namespaces stay apart and queries select by namespace.
 */
export const tunnelLabels = (tunnel: { metadata: { namespace?: string; name?: string } }) =>
  ({ namespace: tunnel.metadata.namespace ?? '', tunnel: tunnel.metadata.name ?? '' });

/** The bytes one session has relayed so far (its record reports them at the end). */
export interface SessionBytes {
  to_browser: number;
  to_client: number;
}

/** A session's labels, and how much of its bytes the counter has. */
interface CountedBytes {
  labels: ReturnType<typeof tunnelLabels>;
  counted: SessionBytes;
}

/** The gateway's metrics, beside every process's. */
export class GatewayMetrics extends ProcessMetrics {
  /**
   * The open sessions' byte counts, by their labels. A relay adds to them per
   * chunk, a plain addition: prom-client 15 hashes and checks the labels on
   * every inc, even through a child of labels(), which was 5% of the relay's
   * CPU. What they gained since reaching the counter reaches it at each
   * scrape (collect) and when their session ends.
   */
  private readonly sessionBytes = new Map<SessionBytes, CountedBytes>();

  constructor() {
    // Sampled 10 times a second rather than 100: an idle gateway used 6.4 ms of CPU a second at 10 ms and 0.8 at
    // 100 ms on the 2-core test machine, in the one process whose CPU per relayed message is a goal.
    super({ eventLoopSampleMs: 100 });
  }

  readonly active = new Gauge({
    name: 'fleetwright_tunnel_connections_active',
    help: 'Client connections open on this gateway replica, waiting for a browser included, by Tunnel.',
    labelNames: ['namespace', 'tunnel'] as const,
    registers: [this.registry],
  });

  readonly connections = new Counter({
    name: 'fleetwright_tunnel_connections_total',
    help: 'Client connections and requests to a Tunnel by result (ok, unauthorized, forbidden, rejected_full, ' +
      'version_mismatch, browser_mismatch, queue_timeout, upstream_error, unavailable).',
    labelNames: ['namespace', 'tunnel', 'result'] as const,
    registers: [this.registry],
  });

  readonly bytes = new Counter({
    name: 'fleetwright_tunnel_bytes_total',
    help: 'WebSocket bytes relayed as they went on the wire (frame headers and the sides\' own control frames ' +
      'included, the gateway\'s pings and close frames not), by Tunnel and direction (to_browser, to_client).',
    labelNames: ['namespace', 'tunnel', 'direction'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [counts, session] of this.sessionBytes) this.addBytes(counts, session);
    },
  });

  readonly acquire = new Histogram({
    name: 'fleetwright_browser_acquire_seconds',
    help: 'Time from a client\'s arrival to its leased browser, by pool (and its namespace) and source (idle: taken ' +
      'at once; queue: granted by the pool controller after waiting).',
    labelNames: ['namespace', 'pool', 'source'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  /** Byte counts for a session of the Tunnel with these labels, counted from now on. */
  openSessionBytes(labels: ReturnType<typeof tunnelLabels>): SessionBytes {
    const counts = { to_browser: 0, to_client: 0 };
    this.sessionBytes.set(counts, { labels, counted: { to_browser: 0, to_client: 0 } });
    return counts;
  }

  /** The session ended: its last bytes go into the counter. */
  closeSessionBytes(counts: SessionBytes): void {
    const session = this.sessionBytes.get(counts);
    if (!session) return;
    this.addBytes(counts, session);
    this.sessionBytes.delete(counts);
  }

  private addBytes(counts: SessionBytes, { labels, counted }: CountedBytes): void {
    for (const direction of ['to_browser', 'to_client'] as const) {
      const gained = counts[direction] - counted[direction];
      if (gained === 0) continue;
      this.bytes.inc({ ...labels, direction }, gained);
      counted[direction] = counts[direction];
    }
  }
}
