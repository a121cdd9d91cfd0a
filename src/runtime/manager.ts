import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject, ResourceType } from '../api/meta.ts';
import { type Controller, ControllerRunner } from './controller.ts';
import { Informer } from './informer.ts';
import { type LeaderElectionConfig, LeaderElector } from './leaderelection.ts';
import type { Metrics } from './metrics.ts';
import { RestClient } from './rest.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: Metrics;
  /** The API client; unset: one made from kubeConfig whose requests `metrics` counts. */
  rest?: RestClient;
  controllers: Controller[];
  /** Watch only this namespace; every namespace when unset. */
  namespace?: string;
  /** Run controllers only while holding this Lease; always when unset. */
  leaderElection?: LeaderElectionConfig;
  /** Called once when this replica lost the lease; its controllers have already stopped. */
  onLeadershipLost?: () => void;
}

/**
 * controller-runtime's manager, small: one shared informer per kind, the
 * controllers on top, started only while this replica leads.
 */
export class Manager {
  readonly rest: RestClient;
  private readonly options: ManagerOptions;
  private readonly log: Logger;
  private readonly informers = new Map<string, Informer>();
  private readonly elector?: LeaderElector;
  private runners: ControllerRunner[] = [];
  private campaign?: Promise<void>;
  private stopping = false;

  constructor(options: ManagerOptions) {
    this.options = options;
    this.log = options.log;
    const observe = (method: string, code: number) => options.metrics.restRequest(method, code);
    this.rest = options.rest ?? new RestClient(options.kubeConfig, observe);
    for (const c of options.controllers) {
      for (const w of c.watches ?? []) if ('transform' in w && w.transform) this.informer(w.type, w.transform);
    }
    for (const c of options.controllers) {
      for (const type of [c.for, ...(c.owns ?? []), ...(c.watches ?? []).map((w) => w.type)]) this.informer(type);
    }
    if (options.leaderElection) this.elector = new LeaderElector(this.rest, options.leaderElection, options.log);
  }

  /** The shared informer of `type` (created on first use, started by `start()`). */
  informer(type: ResourceType, transform?: (obj: KubeObject) => KubeObject): Informer {
    const id = `${type.apiVersion}/${type.kind}`;
    let informer = this.informers.get(id);
    if (!informer) {
      informer = new Informer(this.rest, type, this.log, { namespace: this.options.namespace, transform });
      this.informers.set(id, informer);
    }
    return informer;
  }

  /** Every informer has listed once: what /readyz reports. */
  get ready(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  /** Starts the informers, waits for their first list, then runs the controllers (once leading). */
  async start(): Promise<void> {
    for (const informer of this.informers.values()) informer.start();
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
    if (this.stopping) return;
    this.log.info({ informers: this.informers.size }, 'caches synced');
    const { metrics } = this.options;
    if (!this.elector) {
      // Without election every replica runs its controllers: each is its own leader.
      metrics.leader.set(1);
      return this.startControllers();
    }
    this.campaign = this.elector
      .run(() => {
        metrics.leader.set(1);
        this.startControllers();
      })
      .then(async ({ lost }) => {
        if (!lost) return;
        metrics.leader.set(0);
        // Another replica may lead already: stop at once, abandoning what is in flight.
        await Promise.all(this.runners.map((r) => r.stop(0)));
        this.options.onLeadershipLost?.();
      });
  }

  /**
   * Stops taking work, waits up to `graceMs` for reconciles in flight,
   * releases the lease (only then: nothing it protects still runs) and stops
   * the informers. Resolves true when every reconcile finished in time.
   */
  async shutdown(graceMs: number): Promise<boolean> {
    this.stopping = true;
    this.elector?.stop();
    await this.campaign;
    const finished = (await Promise.all(this.runners.map((r) => r.stop(graceMs)))).every(Boolean);
    if (!finished) this.log.warn({ graceMs }, 'reconciles still running after the graceful shutdown timeout');
    await this.elector?.release();
    this.options.metrics.leader.set(0);
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    return finished;
  }

  private startControllers(): void {
    if (this.stopping) return;
    const deps = {
      log: this.log,
      metrics: this.options.metrics,
      rest: this.rest,
      identity: this.options.leaderElection?.identity ?? hostname(),
      informerOf: (t: ResourceType) => this.informer(t),
    };
    this.runners = this.options.controllers.map((c) => new ControllerRunner(c, deps));
    for (const r of this.runners) r.start();
  }
}
