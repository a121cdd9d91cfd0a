import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { LEASE, type LeaseObject } from '../api/builtin.ts';
import { microTime } from '../api/meta.ts';
import { collectionPath, objectPath } from './resource.ts';
import { isConflict, isNotFound, type RestClient } from './rest.ts';

export interface LeaderElectionConfig {
  namespace: string;
  /** The Lease's name, shared by every replica (controller-runtime's LeaderElectionID). */
  name: string;
  /** Unique per replica: hostname plus a random suffix, as client-go does. */
  identity: string;
  /** How long followers wait after the last renewal they saw before taking over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before it gives up leadership. Default 10 s. */
  renewDeadlineMs?: number;
  /** Between two attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
}

/** controller-runtime's (and client-go's) defaults. */
export const leaderElectionDefaults = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

type LeaseSpec = NonNullable<LeaseObject['spec']>;

/**
 * The record a candidate writes when it may (client-go's tryAcquireOrRenew,
 * pure): undefined while another holder's lease has not expired by this
 * replica's own clock. Expiry counts from when this replica last saw the
 * record change (`observedAt`), never from the holder's timestamps, so clock
 * skew between replicas does not matter.
 */
export function nextLeaseSpec(
  current: LeaseSpec | undefined,
  identity: string,
  observedAt: number,
  now: number,
  leaseDurationMs: number,
): LeaseSpec | undefined {
  const holder = current?.holderIdentity ?? '';
  const durationMs = (current?.leaseDurationSeconds ?? 0) * 1000;
  if (holder && holder !== identity && observedAt + durationMs > now) return undefined;
  const renewing = holder === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
    acquireTime: renewing && current?.acquireTime ? current.acquireTime : microTime(new Date(now)),
    renewTime: microTime(new Date(now)),
    leaseTransitions: (current?.leaseTransitions ?? 0) + (renewing ? 0 : 1),
  };
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection package: followers retry every retryPeriod and take over a
 * lease not renewed for leaseDuration; the leader renews every retryPeriod
 * and steps down when it could not renew for renewDeadline, or when another
 * replica holds the lease. Writes carry the resourceVersion read, so two
 * candidates can never both win one round.
 */
export class LeaderElector {
  private readonly rest: RestClient;
  private readonly config: Required<LeaderElectionConfig>;
  private readonly log: Logger;
  private readonly stopper = new AbortController();
  private observed = '';
  private observedAt = 0;
  private lastRenew = 0;
  private leading = false;
  private lease?: LeaseObject;

  constructor(rest: RestClient, config: LeaderElectionConfig, log: Logger) {
    this.rest = rest;
    this.config = { ...leaderElectionDefaults, ...config };
    if (this.config.leaseDurationMs <= this.config.renewDeadlineMs) {
      throw new Error('leader election: lease duration must be greater than the renew deadline');
    }
    this.log = log.child({ lease: `${config.namespace}/${config.name}`, identity: config.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads, calls `onStartedLeading`, renews,
   * and resolves once it stopped leading: `lost` true when leadership was
   * lost, false when `stop()` ended it.
   */
  async run(onStartedLeading: () => void): Promise<{ lost: boolean }> {
    const { retryPeriodMs, renewDeadlineMs } = this.config;
    while (!this.leading) {
      if (this.stopper.signal.aborted) return { lost: false };
      if (await this.tryAcquireOrRenew()) break;
      await this.pause(retryPeriodMs);
    }
    this.log.info('became leader');
    onStartedLeading();
    while (!this.stopper.signal.aborted) {
      await this.pause(retryPeriodMs);
      if (this.stopper.signal.aborted) break;
      const renewed = await this.tryAcquireOrRenew();
      const overdue = Date.now() - this.lastRenew > renewDeadlineMs;
      if (!renewed && (this.observedHolder() !== this.config.identity || overdue)) {
        this.leading = false;
        this.log.error({ holder: this.observedHolder() }, 'leader election lost');
        return { lost: true };
      }
    }
    return { lost: false };
  }

  /** Ends the campaign or the renewals; `release()` then hands the lease over. */
  stop(): void {
    this.stopper.abort();
  }

  /**
   * Gives the lease up so another replica takes over at its next retry
   * instead of after leaseDuration (client-go's ReleaseOnCancel). Call only
   * once nothing protected by the lease runs any more.
   */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const { namespace, name, identity } = this.config;
    const path = objectPath(LEASE, { namespace, name });
    try {
      // Read again: a renewal cut short by stop() may still have been written.
      const lease = await this.rest.get<LeaseObject>(path);
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date());
      const spec: LeaseSpec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      await this.rest.replace(path, { ...lease, spec });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not release the lease; it expires after its duration');
    }
  }

  private observedHolder(): string {
    return this.lease?.spec?.holderIdentity ?? '';
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.config;
    const path = objectPath(LEASE, { namespace, name });
    // No attempt may outlast a retry period: a hung request must not keep a lost leader believing it leads.
    const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.config.retryPeriodMs)]);
    try {
      let current: LeaseObject | undefined;
      try {
        current = await this.rest.request<LeaseObject>('GET', path, { signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const now = Date.now();
      if (current) {
        this.lease = current;
        const seen = JSON.stringify(current.spec ?? {});
        if (seen !== this.observed) {
          this.observed = seen;
          this.observedAt = now;
        }
      }
      const spec = nextLeaseSpec(current?.spec, identity, this.observedAt, now, leaseDurationMs);
      if (!spec) return false;
      const written = current
        ? await this.rest.request<LeaseObject>('PUT', path, { body: { ...current, spec }, signal })
        : await this.rest.request<LeaseObject>('POST', collectionPath(LEASE, namespace), {
            body: { apiVersion: LEASE.apiVersion, kind: LEASE.kind, metadata: { name, namespace }, spec },
            signal,
          });
      this.lease = written;
      this.observed = JSON.stringify(written.spec ?? {});
      this.observedAt = now;
      this.lastRenew = now;
      this.leading = true;
      return true;
    } catch (err) {
      // 409: another candidate wrote first this round. Anything else: the API server is away.
      if (!isConflict(err)) this.log.debug({ err: String(err) }, 'could not acquire or renew the lease');
      return false;
    }
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.stopper.signal }).catch(() => undefined);
  }
}
