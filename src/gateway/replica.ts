// This gateway replica's heartbeat: a Lease object renewed every
// REPORT_INTERVAL_MS, and soon after its counts change, that carries the
// replica's connection counts (the Tunnel controller adds them up) and the
// pools it holds browsers of (the pool controller takes them back when the
// heartbeat stops).
import type { Logger } from 'pino';
import { LEASE } from '../api/builtin.ts';
import { type GatewayReport, REPORT_INTERVAL_MS, type TunnelCounts } from '../contracts/gateway-heartbeat.ts';
import type { ObjectRef } from '../leasing/acquire.ts';
import { replicaLease } from '../leasing/gateways.ts';
import { objectPath } from '../runtime/resource.ts';
import type { RestClient } from '../runtime/rest.ts';

/** Counts changes are written at most this often. */
const DEBOUNCE_MS = 1_000;

export class ReplicaHeartbeat {
  readonly ref: ObjectRef;
  readonly identity: string;
  private readonly rest: RestClient;
  private readonly log: Logger;
  private readonly report: () => GatewayReport;
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private stopped = false;

  constructor(
    rest: RestClient,
    log: Logger,
    replica: { ref: ObjectRef; identity: string; report: () => GatewayReport },
  ) {
    this.rest = rest;
    this.log = log;
    this.ref = replica.ref;
    this.identity = replica.identity;
    this.report = replica.report;
  }

  /** Writes the first heartbeat: browsers may be leased only once it exists, or the pool takes them back. */
  async start(): Promise<void> {
    await this.write();
    this.schedule(REPORT_INTERVAL_MS);
  }

  /** Counts changed: write them soon. */
  changed(): void {
    this.schedule(DEBOUNCE_MS);
  }

  /**
   * Writes the final counts with a 1 s duration and leaves the Lease: the
   * Tunnel controller adds them up, then deletes it (deleting it here could
   * beat the final counts to the controller's cache).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.writing;
    await this.write(1);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer && delayMs >= REPORT_INTERVAL_MS) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.write()
        .catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not renew the gateway heartbeat Lease'))
        .finally(() => this.schedule(REPORT_INTERVAL_MS));
    }, delayMs);
  }

  private async write(durationSeconds?: number): Promise<void> {
    const body = replicaLease(this.ref, this.identity, this.report(), new Date(), durationSeconds);
    await this.rest.apply(objectPath(LEASE, this.ref), body, 'fleetwright-gateway');
  }
}

/** Per-Tunnel counts of this replica. */
export class ConnectionCounts {
  private readonly counts = new Map<string, TunnelCounts>();

  open(tunnel: string): void {
    const c = this.of(tunnel);
    c.active++;
    c.accepted++;
  }

  close(tunnel: string): void {
    this.of(tunnel).active--;
  }

  active(tunnel: string): number {
    return this.counts.get(tunnel)?.active ?? 0;
  }

  get totalActive(): number {
    let sum = 0;
    for (const c of this.counts.values()) sum += c.active;
    return sum;
  }

  /** Counts of every served Tunnel, zeros for the quiet ones; forgets Tunnels no longer served. */
  snapshot(served: Iterable<string>): Record<string, TunnelCounts> {
    const keep = new Set(served);
    for (const key of this.counts.keys()) if (!keep.has(key) && this.active(key) === 0) this.counts.delete(key);
    return Object.fromEntries([...keep].sort().map((key) => [key, { ...this.of(key) }]));
  }

  private of(tunnel: string): TunnelCounts {
    let c = this.counts.get(tunnel);
    if (!c) this.counts.set(tunnel, (c = { active: 0, accepted: 0 }));
    return c;
  }
}
