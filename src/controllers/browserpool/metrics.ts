import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrowserPoolObject } from '../../api/objects.ts';
import type { PodRemoval } from './plan.ts';

const STATES = ['idle', 'busy', 'starting'] as const;

/**
 * The BrowserPool controller's metrics, registered beside controller-runtime's
 * and computed at scrape time from the pools in the informer cache (their
 * status is what the controller counted on its last pass, so `/metrics` and
 * `kubectl get bp` never disagree). A pool that is deleted leaves no series.
 * The count of browser pods removed is the exception: an event, counted as it happens.
 */
export class BrowserPoolMetrics {
  private readonly removed: Counter<'namespace' | 'pool' | 'reason'>;

  constructor(registry: Registry, pools: () => BrowserPoolObject[]) {
    const registers = [registry];
    this.removed = new Counter({
      name: 'fleetwright_pool_browsers_removed_total',
      help: 'Browser pods a BrowserPool controller deleted, by reason: ScaledDown, Recycled, FailedPodRemoved, ' +
        'NodeLost (its node turned NotReady).',
      labelNames: ['namespace', 'pool', 'reason'] as const,
      registers,
    });
    const each = (visit: (labels: { namespace: string; pool: string }, pool: BrowserPoolObject) => void) => {
      for (const pool of pools()) {
        visit({ namespace: pool.metadata.namespace ?? '', pool: pool.metadata.name ?? '' }, pool);
      }
    };
    new Gauge({
      name: 'fleetwright_pool_browsers',
      help: 'Browser pods of a BrowserPool by state: idle (ready to lease), busy (leased), starting (not ready yet).',
      labelNames: ['namespace', 'pool', 'state'] as const,
      registers,
      collect() {
        this.reset();
        each((labels, pool) => {
          for (const state of STATES) this.set({ ...labels, state }, pool.status?.[state] ?? 0);
        });
      },
    });
    new Gauge({
      name: 'fleetwright_pool_waiting',
      help: 'Lease requests queued on a BrowserPool, waiting for a browser.',
      labelNames: ['namespace', 'pool'] as const,
      registers,
      collect() {
        this.reset();
        each((labels, pool) => this.set(labels, pool.status?.waiting ?? 0));
      },
    });
    new Gauge({
      name: 'fleetwright_pool_max_browsers',
      help: 'The most browser pods a BrowserPool may run: autoscaling.maxReplicas, else spec.replicas.',
      labelNames: ['namespace', 'pool'] as const,
      registers,
      collect() {
        this.reset();
        each((labels, pool) => this.set(labels, pool.spec?.autoscaling?.maxReplicas ?? pool.spec?.replicas ?? 0));
      },
    });
  }

  browserRemoved(pool: BrowserPoolObject, reason: PodRemoval['reason']): void {
    this.removed.inc({ namespace: pool.metadata.namespace ?? '', pool: pool.metadata.name ?? '', reason });
  }
}
