// The BrowserPool controller: keeps a pool's browser pods, serves its queue
// of lease requests in order, reclaims leases whose holder is gone, and
// drains the pool when it is deleted. Decisions are planPool's; this file
// reads the cache and applies them.
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { LEASE, NETWORK_POLICY, NODE, type NodeObject, POD, POD_DISRUPTION_BUDGET, type PodObject } from '../../api/builtin.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { BrowserPoolObject, TestRunObject, TunnelObject } from '../../api/objects.ts';
import { BROWSER_POOL, TEST_RUN, TUNNEL } from '../../api/resources.ts';
import { type BrowserPool, BrowserPoolResource } from '../../api/v1alpha1/index.ts';
import {
  IDLE_SINCE_ANNOTATION,
  type Lease,
  PLAYWRIGHT_VERSION_ANNOTATION,
  PLAYWRIGHT_VERSIONS_ANNOTATION,
  POOL_LABEL,
  REQUEST_LABEL,
  STATE_LABEL,
} from '../../contracts/browser-lease.ts';
import { leasePod } from '../../leasing/acquire.ts';
import { isLeasable, leaseOf, reclaimReason } from '../../leasing/lease.ts';
import { nodeLost, nodeReadiness } from '../../leasing/nodes.ts';
import { isExpired, type LeaseRequest, queueOrder, requestedLease } from '../../leasing/requests.ts';
import { parseResource } from '../../api/validate.ts';
import { gatewayHolderLiveness, poolsOfReplica, type ReplicaLease } from '../../leasing/gateways.ts';
import { findCondition, removeCondition, setCondition } from '../../runtime/conditions.ts';
import { type Controller, generationChanged } from '../../runtime/controller.ts';
import { defineReconciler, type ObjectPass, type Outcome } from '../../runtime/reconciler.ts';
import { controllerReference, isControlledBy } from '../../runtime/owners.ts';
import { keyOf, objectPath, parseKey, type Request } from '../../runtime/resource.ts';
import { ignoreNotFound, isConflict, isNotFound, statusCode } from '../../runtime/rest.ts';
import { ensureApplied } from '../applied.ts';
import { ensurePolicy, type NetworkPolicyConfig, poolPolicy } from '../networkpolicy.ts';
import { leasedBudget } from './disruption-budget.ts';
import { readPlaywrightVersions } from './agent.ts';
import { BrowserPoolMetrics } from './metrics.ts';
import { planPool } from './plan.ts';
import { browserPod } from './pod.ts';
import { UnseenPods } from './unseen-pods.ts';
import { needsVersionProbe, poolPlaywrightVersions } from './version.ts';
import { browserPodView } from './view.ts';

const POD_REJECTED_RETRY_MS = 30_000;
/** The grace period of a browser pod deleted because its node is lost. */
const LOST_NODE_GRACE_SECONDS = 1;

export const DRAIN_FINALIZER = 'fleetwright.dev/drain';
/** Deleting a pool waits for its leased browsers up to maxSessionSeconds, and never longer than this. */
const DRAIN_LIMIT_SECONDS = 600;
/** How soon to ask again an agent that did not say its Playwright version. */
const VERSION_RETRY_MS = 3_000;

export interface BrowserPoolOptions {
  /** The image of browser pods whose pool names none. */
  image: string;
  /** The process registry the pool gauges join. */
  registry: Registry;
  /** Set: each pool gets its NetworkPolicy. */
  networkPolicy?: NetworkPolicyConfig;
  now?: () => Date;
}

/** The pools a TestRun (poolRef) or Tunnel (poolRefs) leases from. */
const poolsOfUser = (obj: KubeObject): Request[] => {
  const run = (obj as TestRunObject).spec;
  const tunnel = (obj as TunnelObject).spec;
  const names = [run?.poolRef?.name, ...(tunnel?.poolRefs ?? []).map((p) => p.name)].filter((n) => n !== undefined);
  return names.map((name) => ({ namespace: obj.metadata.namespace ?? '', name }));
};

/** The pools with a browser pod on `node`, when it is lost: they replace those pods at once. */
const poolsOnLostNode = (pods: () => PodObject[]) => (node: KubeObject): Request[] => {
  if (!nodeLost(node as NodeObject)) return [];
  const keys = new Set<string>();
  for (const pod of pods()) {
    const pool = pod.metadata.labels?.[POOL_LABEL];
    if (!pool || pod.spec?.nodeName !== node.metadata.name) continue;
    keys.add(keyOf({ namespace: pod.metadata.namespace, name: pool }));
  }
  return [...keys].map(parseKey);
};

export function browserPoolController(options: BrowserPoolOptions): Controller {
  // The gauges read the pool cache at scrape time; the frame hands it over once at start.
  let pools: () => BrowserPoolObject[] = () => [];
  let pods: () => PodObject[] = () => [];
  let leasedPods: () => PodObject[] = () => [];
  const metrics = new BrowserPoolMetrics(options.registry, () => pools());
  const unseen = new UnseenPods();
  return defineReconciler<BrowserPoolObject, BrowserPool>({
    name: 'browserpool',
    for: BROWSER_POOL,
    // A pool's NetworkPolicy edited or deleted by hand is written again.
    owns: options.networkPolicy ? [POD, POD_DISRUPTION_BUDGET, NETWORK_POLICY] : [POD, POD_DISRUPTION_BUDGET],
    watches: [
      {
        type: LEASE,
        // Lease requests wake their pool; a gateway replica's heartbeat wakes the pools it holds browsers of.
        map: (obj) => {
          const pool = obj.metadata.labels?.[POOL_LABEL];
          if (pool && obj.metadata.labels?.[REQUEST_LABEL]) return [{ namespace: obj.metadata.namespace ?? '', name: pool }];
          return poolsOfReplica(obj, leasedPods()).map(parseKey);
        },
      },
      // A lease holder that goes away frees its browser at once. Only its existence and its pools count here:
      // a run's status moves with every pass, and each would wake its pool for nothing.
      { type: TEST_RUN, map: poolsOfUser, updated: generationChanged },
      { type: TUNNEL, map: poolsOfUser, updated: generationChanged },
      // A node that goes NotReady wakes the pools with browsers on it; a Ready node's updates wake none.
      { type: NODE, map: poolsOnLostNode(() => pods()), transform: (node) => nodeReadiness(node as NodeObject) },
    ],
    maxConcurrentReconciles: 4,
    clock: options.now,
    setup: (cache) => {
      pools = () => cache<BrowserPoolObject>(BROWSER_POOL).list();
      pods = () => cache<PodObject>(POD).list();
      leasedPods = () => cache<PodObject>(POD).list({ labels: { [STATE_LABEL]: 'leased' } });
    },
    observe: (pool, pass) => {
      const parsed = parseResource(BrowserPoolResource, pool);
      return Promise.resolve(parsed.ok ? { act: parsed.value } : { stop: refuse(pool, parsed.message, pass) });
    },
    reconcile: (pool, pass, value) => new PoolPass(pass, pool, options, metrics, unseen).reconcile(value),
    // Deleting a pool drains it first: the finalizer goes once no leased browser is left.
    finalizer: {
      name: DRAIN_FINALIZER,
      finalize: (pool, pass) => new PoolPass(pass, pool, options, metrics, unseen).drain(),
    },
  });
}

/** A stored pool that fails the schema (admission should have refused it): said in a condition, no pods touched. */
function refuse(pool: BrowserPoolObject, message: string, pass: ObjectPass): Outcome {
  const conditions = setCondition(
    pool.status?.conditions,
    { type: 'Ready', status: 'False', reason: 'InvalidSpec', message, observedGeneration: pool.metadata.generation },
    pass.now,
  );
  pass.log.warn({ problem: message }, 'invalid BrowserPool spec: fix it with kubectl edit or apply');
  return {
    status: { ...pool.status, observedGeneration: pool.metadata.generation, conditions },
    afterStatus: async (written) => {
      if (written) await pass.events.emit(pool, { type: 'Warning', reason: 'InvalidSpec', action: 'Reconcile', note: message });
    },
  };
}

/** One pass over one pool and its pods. */
class PoolPass {
  private readonly pods = new Map<string, PodObject>();
  private readonly pass: ObjectPass;
  private readonly pool: BrowserPoolObject;
  private readonly image: string;
  private readonly now: Date;
  private readonly networkPolicy: NetworkPolicyConfig | undefined;
  private readonly metrics: BrowserPoolMetrics;
  private readonly unseen: UnseenPods;

  constructor(
    pass: ObjectPass,
    pool: BrowserPoolObject,
    options: BrowserPoolOptions,
    metrics: BrowserPoolMetrics,
    unseen: UnseenPods,
  ) {
    this.pass = pass;
    this.metrics = metrics;
    this.unseen = unseen;
    this.pool = pool;
    this.image = options.image;
    this.now = pass.now;
    this.networkPolicy = options.networkPolicy;
    const uid = pool.metadata.uid ?? '';
    const cached = pass.cache<PodObject>(POD).ownedBy(uid).filter((pod) => isControlledBy(pod, pool));
    for (const pod of unseen.overlay(uid, cached, this.now)) this.pods.set(pod.metadata.name ?? '', pod);
  }

  private get request(): Request {
    return this.pass.request;
  }

  /** The cached Node of that name (its Ready condition only). */
  private readonly nodeOf = (name: string) => this.pass.cache<NodeObject>(NODE).get(name);

  private view(pod: PodObject) {
    return browserPodView(pod, this.nodeOf);
  }

  /** The pool's waiting lease requests. */
  private leaseRequests(): LeaseRequest[] {
    return this.pass.cache<LeaseRequest>(LEASE).list({
      namespace: this.request.namespace,
      labels: { [POOL_LABEL]: this.request.name, [REQUEST_LABEL]: 'true' },
    });
  }

  async reconcile(value: BrowserPool): Promise<Outcome> {
    const { pass, request, pool } = this;
    const owner = { namespace: request.namespace, name: request.name, owner: controllerReference(pool) };
    const budget = leasedBudget(owner);
    if (await ensureApplied(pass.rest, pass.cache(POD_DISRUPTION_BUDGET), POD_DISRUPTION_BUDGET, budget)) {
      pass.log.info({ podDisruptionBudget: budget.metadata.name }, 'wrote the PodDisruptionBudget of the pool\'s leased browsers');
    }
    if (this.networkPolicy) {
      const policy = poolPolicy(owner, this.networkPolicy);
      if (await ensurePolicy(pass.rest, pass.cache(NETWORK_POLICY), policy)) {
        pass.log.info({ networkPolicy: policy.metadata.name }, 'wrote the pool\'s NetworkPolicy');
      }
    }

    const replicaExpiresAt = await this.reclaimLeases(pool, value);
    const waiting = await this.serveQueue(this.leaseRequests());
    const plan = planPool(value.spec, [...this.pods.values()].map((p) => this.view(p)), waiting, this.now);

    for (const name of plan.markIdle) await this.markIdle(name);
    for (const removal of plan.delete) {
      const lost = removal.reason === 'NodeLost';
      // A lost node's kubelet cannot run a graceful stop; the deletion's end (now + 1 s) is when holders
      // still connected to the pod (gateway sessions) take it for gone.
      if (await this.deletePod(removal.name, lost ? LOST_NODE_GRACE_SECONDS : undefined)) {
        pass.log[lost ? 'warn' : 'info']({ pod: removal.name, reason: removal.reason }, removal.message);
        this.metrics.browserRemoved(pool, removal.reason);
        const type = lost ? 'Warning' : 'Normal';
        await pass.events.emit(pool, { type, reason: removal.reason, action: 'DeletePod', note: removal.message });
      }
    }
    const rejected = plan.create > 0 ? await this.createPods(pool, value, plan.create, plan.desired) : undefined;
    await this.reportFailures(pool);
    const versionRetryMs = await this.recordPlaywrightVersions();

    let conditions = pool.status?.conditions;
    for (const c of plan.conditions) {
      conditions = setCondition(conditions, { ...c, observedGeneration: pool.metadata.generation }, this.now);
    }
    if (rejected) {
      conditions = setCondition(conditions, { ...rejected, observedGeneration: pool.metadata.generation }, this.now);
    }
    const ignored = plan.scaleIgnored;
    // An Event too when spec.replicas comes to be ignored or asks for another size: `kubectl scale` users read Events.
    const announce = ignored && findCondition(pool.status?.conditions, ignored.type)?.message !== ignored.message;
    conditions = ignored
      ? setCondition(conditions, { ...ignored, observedGeneration: pool.metadata.generation }, this.now)
      : removeCondition(conditions, 'ScaleIgnored');
    const playwrightVersions = poolPlaywrightVersions([...this.pods.values()].map((p) => this.view(p)));
    const status = {
      ...plan.status,
      playwrightVersion: playwrightVersions?.[0],
      playwrightVersions,
      selector: `${POOL_LABEL}=${request.name}`,
      observedGeneration: pool.metadata.generation,
      conditions,
    };
    const afterStatus = async () => {
      if (!announce) return;
      pass.log.info({ replicas: value.spec.replicas }, ignored.message);
      await pass.events.emit(pool, { type: 'Warning', reason: 'ScaleIgnored', action: 'Reconcile', note: ignored.message });
    };
    const now = this.now.getTime();
    const untilReplicaExpiry = replicaExpiresAt === undefined ? undefined : replicaExpiresAt - now + 1000;
    // A refused pod may be fixed outside the pool (a PriorityClass created): try again, but not at once.
    const rejectedRetryMs = rejected ? POD_REJECTED_RETRY_MS : undefined;
    const requeueAfterMs = [plan.requeueAfterMs, untilReplicaExpiry, versionRetryMs, rejectedRetryMs]
      .filter((ms) => ms !== undefined);
    if (requeueAfterMs.length === 0) return { status, afterStatus };
    return { status, afterStatus, requeueAfter: Math.max(Math.min(...requeueAfterMs), 100) };
  }

  /**
   * Deletes leased pods whose holder is gone (its TestRun or Tunnel, or the
   * gateway replica of a Tunnel connection) or whose lease outlived
   * maxSessionSeconds: the pool replaces them. Returns when the first live
   * gateway replica holding a browser here expires, had it crashed.
   */
  private async reclaimLeases(pool: BrowserPoolObject, value: BrowserPool): Promise<number | undefined> {
    let recheckAt: number | undefined;
    const holderGone = (lease: Lease) => {
      const type = lease.kind === 'TestRun' ? TEST_RUN : TUNNEL;
      if (this.pass.cache(type).get(lease.ref) === undefined) return `holder ${lease.kind} ${lease.ref} no longer exists`;
      const gateway = gatewayHolderLiveness(
        lease.holder,
        (replica) => this.pass.cache<ReplicaLease>(LEASE).get(keyOf(replica)),
        this.now,
      );
      if (!gateway) return undefined;
      if ('gone' in gateway) return `${gateway.gone}; it held it for ${lease.kind} ${lease.ref}`;
      const expiry = gateway.until;
      recheckAt = Math.min(recheckAt ?? expiry, expiry);
      return undefined;
    };
    for (const pod of [...this.pods.values()]) {
      if (pod.metadata.labels?.[STATE_LABEL] !== 'leased' || pod.metadata.deletionTimestamp) continue;
      if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') continue;
      const lease = leaseOf(pod);
      const reason = lease
        ? reclaimReason(lease, this.now, value.spec.maxSessionSeconds, holderGone)
        : 'its lease annotation is missing or unreadable';
      if (!reason || !(await this.deletePod(pod.metadata.name ?? ''))) continue;
      const note = `reclaimed browser pod ${pod.metadata.name}: ${reason}`;
      this.pass.log.info({ pod: pod.metadata.name, holder: lease?.holder }, note);
      await this.pass.events.emit(pool, { type: 'Warning', reason: 'LeaseReclaimed', action: 'DeletePod', note });
    }
    return recheckAt;
  }

  /**
   * Grants idle browsers to waiting lease requests, highest priority and
   * oldest first; drops requests that expired or were granted. Returns how
   * many still wait.
   */
  private async serveQueue(requests: LeaseRequest[]): Promise<number> {
    const holders = new Set([...this.pods.values()].map((p) => leaseOf(p)?.holder).filter(Boolean));
    const pending: LeaseRequest[] = [];
    for (const r of requests) {
      const lease = requestedLease(r);
      if (!lease || isExpired(r, this.now) || holders.has(lease.holder)) await this.deleteRequest(r);
      else pending.push(r);
    }
    const queue = queueOrder(pending);
    const idle = [...this.pods.values()].filter((p) => isLeasable(p, this.nodeOf));
    let waiting = queue.length;
    for (const r of queue) {
      const pod = idle.shift();
      if (!pod) break;
      const lease = { ...(requestedLease(r) as Omit<Lease, 'since'>), since: this.now.toISOString() };
      const leased = await leasePod(this.pass.rest, pod, lease);
      // Taken by a direct taker meanwhile: the pod event brings the next pass.
      if (!leased) continue;
      this.pods.set(pod.metadata.name ?? '', leased as PodObject);
      const granted = { pod: pod.metadata.name, holder: lease.holder, ref: lease.ref };
      this.pass.log.info(granted, 'granted a browser to a waiting lease request');
      await this.deleteRequest(r);
      waiting--;
    }
    return waiting;
  }

  private async deleteRequest(r: LeaseRequest): Promise<void> {
    const ref = { namespace: r.metadata.namespace, name: r.metadata.name ?? '' };
    await ignoreNotFound(this.pass.rest.delete(objectPath(LEASE, ref)));
  }

  private async markIdle(name: string): Promise<void> {
    const pod = this.pods.get(name);
    if (!pod) return;
    const patch = {
      metadata: {
        resourceVersion: pod.metadata.resourceVersion,
        labels: { [STATE_LABEL]: 'idle' },
        annotations: { [IDLE_SINCE_ANNOTATION]: this.now.toISOString() },
      },
    };
    const path = objectPath(POD, { namespace: this.request.namespace, name });
    this.pods.set(name, await this.pass.rest.mergePatch<PodObject>(path, patch));
  }

  /**
   * Deletes a pod only if it is still the version this pass read: a pod
   * leased meanwhile by a taker must not go. Returns whether it was deleted.
   */
  private async deletePod(name: string, gracePeriodSeconds?: number): Promise<boolean> {
    const pod = this.pods.get(name);
    if (!pod) return false;
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { resourceVersion: pod.metadata.resourceVersion },
      ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    };
    try {
      await this.pass.rest.request('DELETE', objectPath(POD, { namespace: this.request.namespace, name }), { body });
      this.pods.delete(name);
      this.unseen.deleted(this.pool.metadata.uid ?? '', pod, this.now);
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * Creates the pods; when the API server refuses one for its content (422) or an admission plugin forbids it
   * (403, e.g. a PriorityClass that does not exist), returns the Degraded condition that says so: retrying
   * at once cannot help, and without it the pool would fail silently on every pass.
   */
  private async createPods(pool: BrowserPoolObject, value: BrowserPool, count: number, desired: number) {
    const identity = { namespace: this.request.namespace, name: this.request.name, uid: pool.metadata.uid ?? '' };
    for (let i = 0; i < count; i++) {
      const body = browserPod(identity, value.spec, this.image, `/pw-${randomBytes(16).toString('hex')}`);
      try {
        const created = await this.pass.rest.create<PodObject>(
          `/api/v1/namespaces/${encodeURIComponent(this.request.namespace)}/pods`, body,
        );
        this.unseen.created(identity.uid, created, this.now);
      } catch (err) {
        const code = statusCode(err);
        if (code !== 403 && code !== 422) throw err;
        const message = `BrowserPool ${this.request.namespace}/${this.request.name}: the API server refused its ` +
          `browser pod: ${(err as Error).message} — fix spec.image or spec.template`;
        this.pass.log.warn({ problem: message }, 'browser pod refused');
        await this.pass.events.emit(pool, { type: 'Warning', reason: 'PodRejected', action: 'CreatePod', note: message });
        return { type: 'Degraded', status: 'True' as const, reason: 'PodRejected', message: message.slice(0, 4096) };
      }
    }
    const note = `created ${count} browser pod(s); ${desired} wanted`;
    this.pass.log.info({ created: count, desired }, note);
    await this.pass.events.emit(pool, { type: 'Normal', reason: 'ScaledUp', action: 'CreatePod', note });
  }

  /**
   * Asks each Ready agent that has not said its Playwright versions and keeps
   * the answer on its pod. Returns when to ask again if one did not answer.
   */
  private async recordPlaywrightVersions(): Promise<number | undefined> {
    const unknown = [...this.pods.values()].filter((p) => p.status?.podIP && needsVersionProbe(this.view(p)));
    const answered = await Promise.all(unknown.map(async (pod) => {
      const name = pod.metadata.name ?? '';
      try {
        const versions = await readPlaywrightVersions(pod.status?.podIP ?? '');
        const patch = {
          metadata: {
            annotations: {
              [PLAYWRIGHT_VERSION_ANNOTATION]: versions[0],
              [PLAYWRIGHT_VERSIONS_ANNOTATION]: versions.join(','),
            },
          },
        };
        const path = objectPath(POD, { namespace: this.request.namespace, name });
        this.pods.set(name, await this.pass.rest.mergePatch<PodObject>(path, patch));
        return true;
      } catch (err) {
        if (isNotFound(err)) return true;
        this.pass.log.debug({ pod: name, err }, 'browser pod did not say its Playwright version; asking again soon');
        return false;
      }
    }));
    return answered.includes(false) ? VERSION_RETRY_MS : undefined;
  }

  /** A pod whose agent exited is labelled failed and reported once, with why it stopped. */
  private async reportFailures(pool: BrowserPoolObject): Promise<void> {
    for (const pod of this.pods.values()) {
      const view = this.view(pod);
      if (!view.finishedAt || view.state === 'failed' || view.terminating) continue;
      const patch = { metadata: { resourceVersion: pod.metadata.resourceVersion, labels: { [STATE_LABEL]: 'failed' } } };
      try {
        await this.pass.rest.mergePatch(objectPath(POD, { namespace: this.request.namespace, name: view.name }), patch);
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) continue;
        throw err;
      }
      const note = `browser pod ${view.name} failed: ${view.failure ?? 'no reason given'}`;
      this.pass.log.warn({ pod: view.name }, note);
      await this.pass.events.emit(pool, { type: 'Warning', reason: 'BrowserFailed', action: 'Reconcile', note });
    }
  }

  /**
   * The pool is being deleted: queued requests are dropped, idle and starting
   * pods go at once, leased ones when their lease ends or the drain limit
   * passes; then the finalizer goes and the garbage collector does the rest.
   */
  async drain(): Promise<Outcome | void> {
    const { pool } = this;
    const parsed = parseResource(BrowserPoolResource, pool);
    const value = parsed.ok ? parsed.value : undefined;
    for (const r of this.leaseRequests()) await this.deleteRequest(r);
    const limitSeconds = Math.min(value?.spec.maxSessionSeconds ?? DRAIN_LIMIT_SECONDS, DRAIN_LIMIT_SECONDS);
    const deadline = Date.parse(pool.metadata.deletionTimestamp ?? '') + limitSeconds * 1000;
    const pastDeadline = this.now.getTime() >= deadline;
    let leased = 0;
    for (const pod of [...this.pods.values()]) {
      if (pod.metadata.deletionTimestamp) continue;
      const busy = pod.metadata.labels?.[STATE_LABEL] === 'leased' && pod.status?.phase === 'Running' &&
        !this.view(pod).nodeLost;
      if (busy && !pastDeadline) leased++;
      else if (!(await this.deletePod(pod.metadata.name ?? ''))) leased++;
    }
    if (leased === 0) {
      this.pass.log.info('pool drained; removing its finalizer');
      return;
    }
    const message = `deleting: waiting for ${leased} leased browser(s), at most until ${new Date(deadline).toISOString()}`;
    const conditions = setCondition(
      pool.status?.conditions,
      { type: 'Ready', status: 'False', reason: 'Draining', message, observedGeneration: pool.metadata.generation },
      this.now,
    );
    return {
      status: { ...pool.status, idle: 0, waiting: 0, conditions },
      requeueAfter: Math.max(deadline - this.now.getTime(), 1000),
    };
  }
}
