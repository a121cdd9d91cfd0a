// The TestRun controller: queues a run's shards on its pool, starts a runner
// pod per shard on its leased browser, folds the runners' summaries into
// status, retries shards whose infrastructure failed, and cleans up. Every
// decision about a shard is planShard's; this file observes and applies.
import type { Registry } from 'prom-client';
import { CONFIG_MAP, LEASE, NETWORK_POLICY, POD, type PodObject, SECRET, type SecretObject } from '../../api/builtin.ts';
import type { KubeObject } from '../../api/meta.ts';
import { type BrowserPoolObject, isFinished, type TestRunObject } from '../../api/objects.ts';
import { BROWSER_POOL, TEST_RUN } from '../../api/resources.ts';
import { type TestRun, TestRunResource } from '../../api/v1alpha1/index.ts';
import { parseResource } from '../../api/validate.ts';
import { POOL_LABEL, REQUEST_LABEL } from '../../contracts/browser-lease.ts';
import { releaseBrowser } from '../../leasing/acquire.ts';
import { endpointOf, leaseOf } from '../../leasing/lease.ts';
import { type LeaseRequest, leaseRequest, queueOrder } from '../../leasing/requests.ts';
import { parseShardSummary, type ProjectNotRun } from '../../contracts/shard-summary.ts';
import { metaTime, setCondition } from '../../runtime/conditions.ts';
import { type Controller, ignoringDeletion, type ReconcileContext, type ReconcileResult } from '../../runtime/controller.ts';
import { controllerReference, isControlledBy } from '../../runtime/owners.ts';
import { collectionPath, keyOf, objectPath, type Request } from '../../runtime/resource.ts';
import { ignoreNotFound, statusCode } from '../../runtime/rest.ts';
import { addFinalizer, applyStatusIfChanged, removeFinalizer } from '../../runtime/status.ts';
import { FETCH_SOURCE_CONTAINER } from '../../contracts/git-source.ts';
import { resolveRevision } from '../../git/remote.ts';
import { ensurePolicy, type NetworkPolicyConfig, runPolicy } from '../networkpolicy.ts';
import { TestRunMetrics } from './metrics.ts';
import {
  type BrowserView,
  finishReason,
  formatDuration,
  isFinalShard,
  onlyDurationDiffers,
  planShard,
  type RunnerView,
  runPhase,
  type ShardAction,
  projectsVerdict,
  type ShardStatus,
  summarize,
  withProgress,
} from './plan.ts';
import { ATTEMPT_LABEL, npmrcSecretProblem, runnerName, runnerPod, SHARD_LABEL } from './pod.ts';
import { PROGRESS_INTERVAL_MS, RunnerProgress } from './progress.ts';
import { nextLookMs, queueChanged } from './requeue.ts';
import {
  dependencyCacheUrl,
  ensureReportSecrets,
  type ReportSetup,
  uploadUrl,
  withReportURL,
} from './report.ts';
import { type PinnedSource, planSource, sourceRetryAfterMs } from './source.ts';

export const CLEANUP_FINALIZER = 'fleetwright.dev/testrun-cleanup';
/** How long a reconcile waits for a git remote to list its refs. */
const RESOLVE_TIMEOUT_MS = 15_000;

export interface TestRunOptions {
  /** The default runner image. */
  image: string;
  /** The report store's URL as runner pods reach it; unset: runners upload no report. */
  reportStoreUrl?: string;
  registry: Registry;
  /** Set: each run gets the NetworkPolicy that lets its runners reach its browsers. */
  networkPolicy?: NetworkPolicyConfig;
  now?: () => Date;
}

/** A git source's commit (none for other sources), or `wait`: the run cannot start yet. */
type SourceOutcome = { pinned?: PinnedSource } | { wait: ReconcileResult };

/** The lease holder of one attempt of one shard: unique per attempt, so a lease names exactly what holds it. */
const holderOf = (uid: string, index: number, attempt: number) => `${uid}/${index}/${attempt}`;

/** The unfinished runs a pool or ConfigMap event concerns (a finished run no longer looks at either). */
function runsUsing(field: (run: TestRunObject) => string | undefined, runs: () => TestRunObject[]) {
  return (obj: KubeObject): Request[] =>
    runs()
      .filter((run) => run.metadata.namespace === obj.metadata.namespace && field(run) === obj.metadata.name)
      .filter((run) => !isFinished(run))
      .map((run) => ({ namespace: run.metadata.namespace ?? '', name: run.metadata.name ?? '' }));
}

export function testRunController(options: TestRunOptions): Controller {
  const now = options.now ?? (() => new Date());
  // The map functions and the phase gauge need the TestRun cache; the runtime hands it to reconcile.
  let runs: () => TestRunObject[] = () => [];
  const metrics = new TestRunMetrics(options.registry, () => runs());
  const writes = new StatusWrites();
  const progress = new RunnerProgress();
  return {
    name: 'testrun',
    for: TEST_RUN,
    // Secrets: a run's upload token, so that one deleted by hand is made again for the next runner.
    // A run's NetworkPolicy edited or deleted by hand is written again.
    owns: options.networkPolicy ? [POD, SECRET, NETWORK_POLICY] : [POD, SECRET],
    watches: [
      { type: BROWSER_POOL, map: runsUsing((run) => run.spec?.poolRef?.name, () => runs()) },
      { type: CONFIG_MAP, map: runsUsing((run) => run.spec?.source?.configMap?.name, () => runs()) },
      // A git source's credentials created or fixed: a run waiting for them pins its commit at once.
      { type: SECRET, map: runsUsing((run) => run.spec?.source?.git?.secretRef?.name, () => runs()) },
      // A queued run's queuePosition moves when a request of its pool joins or leaves the queue.
      { type: LEASE, map: (request) => queueChanged(request, runs()) },
      {
        // Browser pods leased to a run: a lost browser must be noticed at once.
        type: POD,
        map: (pod) => {
          const lease = leaseOf(pod);
          if (lease?.kind !== 'TestRun') return [];
          const [namespace = '', name = ''] = lease.ref.split('/');
          return [{ namespace, name }];
        },
      },
    ],
    maxConcurrentReconciles: 4,
    reconcile: (request, ctx) => {
      runs = () => ctx.cache<TestRunObject>(TEST_RUN).list();
      const deps = {
        image: options.image, reportStoreUrl: options.reportStoreUrl, metrics, writes, progress,
        networkPolicy: options.networkPolicy !== undefined,
      };
      return new RunPass(request, ctx, deps, now()).run();
    },
  };
}

/** One reconcile of one TestRun. */
class RunPass {
  private readonly request: Request;
  private readonly ctx: ReconcileContext;
  private readonly image: string;
  private readonly reportStoreUrl: string | undefined;
  private readonly metrics: TestRunMetrics;
  private readonly writes: StatusWrites;
  private readonly progress: RunnerProgress;
  private readonly now: Date;
  private readonly networkPolicy: boolean;
  /** resourceVersions of this run that do not carry this pass's status write. */
  private readonly staleVersions = new Set<string>();
  /** The report Secrets, made sure of once per pass, when a runner is about to start. */
  private reportSetup: Promise<ReportSetup> | undefined;
  private reportOutcome: ReportSetup | undefined;
  /** The engine of the run's pool: runners run only the suite's projects of it. */
  private poolBrowser = 'chromium';
  /** Clients each browser of the pool serves at once: the most workers a runner may start. */
  private poolSessions = 1;
  /** The commit a git source runs, once pinned. */
  private pinned: PinnedSource | undefined;

  constructor(
    request: Request,
    ctx: ReconcileContext,
    deps: {
      image: string;
      reportStoreUrl?: string;
      metrics: TestRunMetrics;
      writes: StatusWrites;
      progress: RunnerProgress;
      networkPolicy: boolean;
    },
    now: Date,
  ) {
    this.networkPolicy = deps.networkPolicy;
    this.request = request;
    this.ctx = ctx;
    this.image = deps.image;
    this.reportStoreUrl = deps.reportStoreUrl;
    this.metrics = deps.metrics;
    this.writes = deps.writes;
    this.progress = deps.progress;
    this.now = now;
  }

  run(): Promise<ReconcileResult | void> {
    return ignoringDeletion(this.ctx.log, () => this.reconcile());
  }

  private async reconcile(): Promise<ReconcileResult | void> {
    const { ctx, request } = this;
    const fromCache = ctx.cache<TestRunObject>(TEST_RUN).get(keyOf(request));
    if (!fromCache) return;
    let cached = this.writes.latest(fromCache);
    this.staleVersions.add(cached.metadata.resourceVersion ?? '');
    if (cached.metadata.deletionTimestamp) return this.cleanUp(cached);
    const parsed = parseResource(TestRunResource, cached);
    if (!parsed.ok) return this.notScheduled(cached, 'InvalidSpec', parsed.message);
    const run = parsed.value;
    if (isFinished(cached)) return this.finished(cached, run);

    const poolKey = keyOf({ namespace: request.namespace, name: run.spec.poolRef.name });
    const pool = ctx.cache<BrowserPoolObject>(BROWSER_POOL).get(poolKey);
    if (!pool) {
      return this.notScheduled(cached, 'PoolNotFound',
        `BrowserPool ${run.spec.poolRef.name} does not exist in namespace ${request.namespace}: create it or fix spec.poolRef`);
    }
    const configMap = run.spec.source.configMap;
    if (configMap && !ctx.cache(CONFIG_MAP).get(keyOf({ namespace: request.namespace, name: configMap.name }))) {
      return this.notScheduled(cached, 'SourceNotFound',
        `ConfigMap ${configMap.name} with the tests does not exist in namespace ${request.namespace}: ` +
        'create it (fleetwright run packs a folder into one) or fix spec.source.configMap');
    }
    const npmrc = run.spec.dependencies?.npmrcSecretRef;
    const npmrcProblem = npmrc && npmrcSecretProblem(npmrc, request.namespace,
      ctx.cache<SecretObject>(SECRET).get(keyOf({ namespace: request.namespace, name: npmrc.name })));
    // Else the runner pods would wait in ContainerCreating for a volume that cannot be mounted.
    if (npmrcProblem) return this.notScheduled(cached, 'NpmrcSecretNotFound', npmrcProblem);
    // The API server defaults spec.browser.
    this.poolBrowser = pool.spec?.browser ?? 'chromium';
    this.poolSessions = pool.spec?.sessionsPerBrowser ?? 1;
    const source = await this.pinSource(cached, run);
    if ('wait' in source) return source.wait;
    if (source.pinned) {
      this.pinned = source.pinned;
      cached = { ...cached, status: { ...cached.status, source: source.pinned } };
    }
    const capacity = poolCapacity(pool);
    if (capacity === 0) {
      return this.notScheduled(cached, 'PoolHasNoCapacity',
        `BrowserPool ${run.spec.poolRef.name} may run no browsers (replicas or autoscaling.maxReplicas is 0): scale it up`);
    }
    const stored = await addFinalizer(ctx.rest, TEST_RUN, cached, CLEANUP_FINALIZER);
    this.staleVersions.add(stored.metadata.resourceVersion ?? '');
    // Before any runner starts: its browser admits it only through this policy.
    if (this.networkPolicy) {
      const owner = controllerReference(stored);
      const policy = runPolicy({ namespace: request.namespace, name: request.name, owner });
      if (await ensurePolicy(ctx.rest, ctx.cache(NETWORK_POLICY), policy)) {
        ctx.log.info({ networkPolicy: policy.metadata.name }, 'wrote the run\'s NetworkPolicy');
      }
    }

    const deadline = Date.parse(stored.metadata.creationTimestamp as string) + run.spec.timeoutSeconds * 1000;
    if (this.now.getTime() >= deadline) return this.timeOut(stored, run);

    const runners = this.runnerPods(stored);
    const inPool = { [POOL_LABEL]: run.spec.poolRef.name };
    const poolPods = ctx.cache<PodObject>(POD).list({ namespace: request.namespace, labels: inPool });
    const byHolder = new Map(poolPods.map((p) => [leaseOf(p)?.holder, p]));
    const uid = stored.metadata.uid ?? '';
    const previous = stored.status?.shards ?? [];
    const shards: ShardStatus[] = [];
    const durations: number[] = [];
    const releases: { index: number; action: ShardAction }[] = [];
    // Every shard lists the same projects: any finished one says which its pool's browser left out.
    let projectsNotRun: ProjectNotRun[] = [];
    for (let index = 1; index <= run.spec.shards; index++) {
      const mine = runners.filter((r) => r.metadata.labels?.[SHARD_LABEL] === String(index));
      const plan = planShard({
        index,
        status: previous.find((s) => s.index === index),
        runners: new Map(mine.map((r) => [Number(r.metadata.labels?.[ATTEMPT_LABEL]), runnerView(r)])),
        browserOf: (attempt) => browserView(byHolder.get(holderOf(uid, index, attempt))),
        runnerName: (attempt) => runnerName(request.name, index, attempt),
      }, run.spec.retries);
      for (const action of plan.actions) {
        if (action.type === 'releaseBrowser') releases.push({ index, action });
        else await this.act(stored, run, index, action, deadline);
      }
      const runner = mine.find((r) => r.metadata.name === plan.status.runnerPod);
      const reported = runner && plan.status.phase === 'Running' ? this.progress.read(runner, this.ctx.log) : undefined;
      shards.push(withProgress(plan.status, previous.find((s) => s.index === index), reported));
      const summary = mine.map(runnerView).find((r) => r.attempt === plan.status.attempts)?.summary;
      if (summary && isFinalShard(plan.status)) durations.push(summary.durationMs);
      if (summary?.projectsNotRun?.length) projectsNotRun = summary.projectsNotRun;
    }
    const result = await this.report(stored, run, { shards, durations, projectsNotRun }, capacity, deadline);
    // Only once the status says the shard is done: a pass after a crash in between must not take the
    // released browser for a lost one.
    for (const { index, action } of releases) await this.act(stored, run, index, action, deadline);
    return result;
  }

  private runnerPods(run: TestRunObject): PodObject[] {
    return this.ctx.cache<PodObject>(POD).ownedBy(run.metadata.uid ?? '').filter((p) => isControlledBy(p, run));
  }

  private async act(run: TestRunObject, spec: TestRun, index: number, action: ShardAction, deadline: number) {
    const { ctx, request } = this;
    const uid = run.metadata.uid ?? '';
    switch (action.type) {
      case 'requestBrowser':
        return this.requestBrowser(run, spec, index, action.attempt);
      case 'createRunner': {
        const body = runnerPod({
          run: { namespace: request.namespace, name: request.name, owner: controllerReference(run) },
          spec: spec.spec,
          image: this.image,
          index,
          attempt: action.attempt,
          endpoint: action.browser.endpoint ?? '',
          browser: this.poolBrowser,
          sessions: this.poolSessions,
          deadlineSeconds: (deadline - this.now.getTime()) / 1000,
          report: await this.reportTarget(run, index),
          ...(this.pinned ? { pinned: this.pinned } : {}),
        });
        try {
          await ctx.rest.create(collectionPath(POD, request.namespace), body);
        } catch (err) {
          // Created by a pass whose status write was lost: the runner exists, which is what this asked for.
          if (statusCode(err) !== 409) throw err;
        }
        ctx.log.info({ shard: index, attempt: action.attempt, browser: action.browser.name }, 'started a runner');
        return;
      }
      case 'deleteRunner':
        return this.deletePod(action.name);
      case 'releaseBrowser': {
        const browser = { namespace: request.namespace, name: action.browser };
        await releaseBrowser(ctx.rest, browser, holderOf(uid, index, action.attempt));
        return;
      }
      case 'retry':
        this.metrics.retried(action.reason);
        return;
      case 'event':
        ctx.log.info({ shard: index, reason: action.reason }, action.note);
        return ctx.events.emit(run, { type: action.kind, reason: action.reason, action: 'Reconcile', note: action.note });
    }
  }

  /** Where shard `index` uploads its report; undefined without a report store or when its Secret cannot be had. */
  private async reportTarget(run: TestRunObject, index: number) {
    const store = this.reportStoreUrl;
    if (!store) return undefined;
    this.reportSetup ??= this.setUpReports(run);
    const setup = await this.reportSetup;
    if (!setup.ok) return undefined;
    const { namespace, name } = this.request;
    const cacheUrl = dependencyCacheUrl(store, namespace, name);
    return { uploadUrl: uploadUrl(store, namespace, name, index), cacheUrl, secret: setup.secret };
  }

  private async setUpReports(run: TestRunObject): Promise<ReportSetup> {
    const { ctx } = this;
    const setup = await ensureReportSecrets(
      { rest: ctx.rest, secrets: ctx.cache<SecretObject>(SECRET), log: ctx.log },
      run,
      controllerReference(run),
    );
    this.reportOutcome = setup;
    const problem = setup.ok ? setup.warning : setup.message;
    if (problem) {
      const reason = setup.ok ? 'ReportReaderSecretFailed' : 'ReportUploadUnavailable';
      ctx.log.warn({ reason }, problem);
      await ctx.events.emit(run, { type: 'Warning', reason, action: 'Reconcile', note: problem });
    }
    return setup;
  }

  /** Joins the pool's queue for one attempt of a shard; the pool controller grants a browser in order. */
  private async requestBrowser(run: TestRunObject, spec: TestRun, index: number, attempt: number): Promise<void> {
    const name = `testrun-${this.request.name}-${index}-${attempt}`;
    if (this.ctx.cache(LEASE).get(keyOf({ namespace: this.request.namespace, name }))) return;
    const body = leaseRequest({
      pool: { namespace: this.request.namespace, name: spec.spec.poolRef.name },
      lease: { holder: holderOf(run.metadata.uid ?? '', index, attempt), kind: 'TestRun', ref: keyOf(this.request) },
      priority: spec.spec.priority,
      owner: [controllerReference(run)],
      name,
      now: this.now,
    });
    try {
      await this.ctx.rest.create(collectionPath(LEASE, this.request.namespace), body);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  private async deletePod(name: string): Promise<void> {
    await ignoreNotFound(this.ctx.rest.delete(objectPath(POD, { namespace: this.request.namespace, name })));
  }

  /** Deletes the run's waiting lease requests. */
  private async withdrawRequests(run: TestRunObject): Promise<void> {
    const requests = this.ctx.cache<LeaseRequest>(LEASE).ownedBy(run.metadata.uid ?? '');
    for (const r of requests) {
      const ref = { namespace: this.request.namespace, name: r.metadata.name ?? '' };
      await ignoreNotFound(this.ctx.rest.delete(objectPath(LEASE, ref)));
    }
  }

  /** Stops the run's runners and hands back every browser it holds. */
  private async stopEverything(run: TestRunObject): Promise<void> {
    await this.withdrawRequests(run);
    for (const pod of this.runnerPods(run)) {
      // A runner that has finished keeps its pod (and its log) even while the pod's phase still says Running.
      const { phase } = runnerView(pod);
      if (phase !== 'Succeeded' && phase !== 'Failed') await this.deletePod(pod.metadata.name ?? '');
    }
    const prefix = `${run.metadata.uid}/`;
    for (const pod of this.ctx.cache<PodObject>(POD).list({ namespace: this.request.namespace })) {
      const holder = leaseOf(pod)?.holder;
      if (holder?.startsWith(prefix)) {
        await releaseBrowser(this.ctx.rest, { namespace: this.request.namespace, name: pod.metadata.name ?? '' }, holder);
      }
    }
  }

  private async cleanUp(run: TestRunObject): Promise<void> {
    if (!(run.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) return;
    await this.stopEverything(run);
    this.ctx.log.info('TestRun deleted: runners stopped, browsers released');
    await removeFinalizer(this.ctx.rest, TEST_RUN, run, CLEANUP_FINALIZER);
  }

  /**
   * A git source's commit: the one pinned, or else the one its revision names now, written into
   * status.source before any shard starts. `wait`: the run cannot start yet (Scheduled=False says why).
   */
  private async pinSource(run: TestRunObject, spec: TestRun): Promise<SourceOutcome> {
    const { ctx, request } = this;
    const secretName = spec.spec.source.git?.secretRef?.name;
    const secret = secretName
      ? ctx.cache<SecretObject>(SECRET).get(keyOf({ namespace: request.namespace, name: secretName }))
      : undefined;
    const plan = planSource(request.namespace, spec.spec, run.status?.source, secret);
    switch (plan.type) {
      case 'none':
        return {};
      case 'pinned':
        return { pinned: plan.source };
      case 'unavailable':
        return { wait: await this.notScheduled(run, plan.reason, plan.message, this.sourceRetryMs(run, plan.reason)) };
      case 'resolve': {
        let pinned: PinnedSource;
        try {
          pinned = await resolveRevision(plan.remote, plan.revision, RESOLVE_TIMEOUT_MS, ctx.signal);
        } catch (err) {
          // Stopped, not failed: this replica writes nothing more.
          if (ctx.signal.aborted) throw err;
          // resolveRevision's errors name the repository without credentials and never quote them.
          const message = err instanceof Error ? err.message : String(err);
          return { wait: await this.notScheduled(run, 'SourceUnavailable', message, this.sourceRetryMs(run, 'SourceUnavailable')) };
        }
        await this.writeStatus(run, { ...run.status, source: pinned, observedGeneration: run.metadata.generation });
        const note = `pinned revision ${plan.revision ?? 'HEAD'} (${pinned.revision}) to commit ${pinned.commit}: every shard runs it`;
        ctx.log.info({ commit: pinned.commit, revision: pinned.revision }, note);
        await ctx.events.emit(run, { type: 'Normal', reason: 'SourcePinned', action: 'Schedule', note });
        return { pinned };
      }
    }
  }

  /** Secrets are watched: a missing one is waited for. An unavailable remote is asked again with backoff. */
  private sourceRetryMs(run: TestRunObject, reason: string): number {
    if (reason !== 'SourceUnavailable') return 30_000;
    const scheduled = run.status?.conditions?.find((c) => c.type === 'Scheduled');
    const failingSince = scheduled?.status === 'False' && scheduled.reason === reason ? scheduled.lastTransitionTime : undefined;
    return sourceRetryAfterMs(failingSince, this.now);
  }

  /** A run that cannot be scheduled: Pending with a condition and an Event saying what to fix. */
  private async notScheduled(
    run: TestRunObject,
    reason: string,
    message: string,
    requeueAfter = 30_000,
  ): Promise<ReconcileResult> {
    const conditions = conditionsOf(run, this.now);
    conditions.set('Scheduled', 'False', reason, message);
    const status = { ...run.status, phase: 'Pending', observedGeneration: run.metadata.generation, conditions: conditions.list };
    if (await this.writeStatus(run, status)) {
      this.ctx.log.warn({ reason }, message);
      await this.ctx.events.emit(run, { type: 'Warning', reason, action: 'Schedule', note: message });
    }
    // Pools, ConfigMaps and Secrets are watched; this only catches what no event announces (a remote back up).
    return { requeueAfter };
  }

  private async timeOut(run: TestRunObject, spec: TestRun): Promise<void> {
    await this.stopEverything(run);
    const message = `the run did not finish within timeoutSeconds (${spec.spec.timeoutSeconds} s); its runners were stopped`;
    const shards = (run.status?.shards ?? []).map((s) =>
      isFinalShard(s) ? s : { ...s, phase: 'Failed' as const, message: 'stopped: the run timed out' });
    await this.ctx.events.emit(run, { type: 'Warning', reason: 'Timeout', action: 'Reconcile', note: message });
    await this.finish(run, spec, 'Failed', 'Timeout', message, shards);
  }

  private async finish(
    run: TestRunObject,
    spec: TestRun,
    phase: string,
    reason: string,
    message: string,
    shards: ShardStatus[],
  ): Promise<void> {
    const started = run.status?.startTime;
    const completionTime = metaTime(this.now);
    const conditions = conditionsOf(run, this.now);
    conditions.set('Running', 'False', 'Finished', `the run finished: ${phase}`);
    conditions.set(phase === 'Succeeded' ? 'Complete' : 'Failed', 'True', reason, message);
    const status = {
      ...run.status,
      phase,
      shards,
      completionTime,
      ...(started ? { duration: formatDuration(this.now.getTime() - Date.parse(started)) } : {}),
      queuePosition: undefined,
      observedGeneration: run.metadata.generation,
      conditions: conditions.list,
    };
    if (await this.writeStatus(run, status)) {
      const summary = run.status?.summary ?? {};
      this.metrics.finished(spec, phase, started ? this.now.getTime() - Date.parse(started) : 0, summary);
      await this.ctx.events.emit(run, { type: phase === 'Succeeded' ? 'Normal' : 'Warning', reason: 'Finished', action: 'Reconcile', note: `${phase}: ${message}` });
    }
  }

  /** A finished run: leftovers released, and deleted after ttlSecondsAfterFinished when its policy says so. */
  private async finished(run: TestRunObject, spec: TestRun): Promise<ReconcileResult | void> {
    await this.stopEverything(run);
    const ttl = spec.spec.ttlSecondsAfterFinished;
    const completed = Date.parse(run.status?.completionTime ?? '');
    if (ttl === undefined || Number.isNaN(completed)) return;
    if (spec.spec.cleanupPolicy === 'OnSuccess' && run.status?.phase !== 'Succeeded') return;
    const dueInMs = completed + ttl * 1000 - this.now.getTime();
    if (dueInMs > 0) return { requeueAfter: dueInMs };
    this.ctx.log.info({ ttlSecondsAfterFinished: ttl }, 'deleting the finished run (ttlSecondsAfterFinished)');
    await this.ctx.rest.delete(objectPath(TEST_RUN, this.request), { propagationPolicy: 'Background' });
  }

  private async report(
    run: TestRunObject,
    spec: TestRun,
    observed: { shards: ShardStatus[]; durations: number[]; projectsNotRun: ProjectNotRun[] },
    capacity: number,
    deadline: number,
  ): Promise<ReconcileResult | void> {
    const { shards, durations } = observed;
    const phase = runPhase(shards);
    const summary = summarize(shards, durations);
    const pool = spec.spec.poolRef.name;
    const ran = summary.passed + summary.failed + summary.flaky + summary.skipped;
    const projects = projectsVerdict(observed.projectsNotRun, ran, { name: pool, browser: this.poolBrowser });
    const projectsNotRun = projects ? { projectsNotRun: observed.projectsNotRun } : {};
    const conditions = conditionsOf(run, this.now);
    const set = conditions.set;
    if (projects) {
      const before = run.status?.conditions?.find((c) => c.type === 'ProjectsNotRun');
      set('ProjectsNotRun', 'True', projects.reason, projects.message);
      if (before?.status !== 'True') {
        await this.ctx.events.emit(run, { type: 'Warning', reason: projects.reason, action: 'Run', note: projects.message });
      }
    }
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Error') {
      const { reason, detail } = finishReason(phase, shards);
      const message = `${summary.passed} passed, ${summary.failed} failed, ${summary.flaky} flaky, ${summary.skipped} skipped` +
        (phase === 'Error' ? `; ${shards.filter((s) => s.phase === 'Error').length} shard(s) could not run` : '') +
        (detail ? `; ${detail}` : '');
      const noProject = phase === 'Failed' && projects?.reason === 'NoProjectForBrowser';
      const finished = { ...run, status: { ...run.status, summary, ...projectsNotRun, conditions: conditions.list } };
      return noProject
        ? this.finish(finished, spec, phase, projects.reason, projects.message, shards)
        : this.finish(finished, spec, phase, reason, message, shards);
    }
    if (spec.spec.shards > capacity) {
      const message =
        `${spec.spec.shards} shards on BrowserPool ${pool} of at most ${capacity} browser(s): at most ${capacity} run at a time`;
      const before = run.status?.conditions?.find((c) => c.type === 'Scheduled')?.reason;
      set('Scheduled', 'True', 'ShardsExceedPoolCapacity', message);
      if (before !== 'ShardsExceedPoolCapacity') {
        await this.ctx.events.emit(run, { type: 'Warning', reason: 'ShardsExceedPoolCapacity', action: 'Schedule', note: message });
      }
    } else {
      set('Scheduled', 'True', 'Queued', `queued on BrowserPool ${pool}`);
    }
    const running = shards.filter((s) => s.phase === 'Running').length;
    const done = shards.filter(isFinalShard).length;
    if (phase === 'Running') set('Running', 'True', 'ShardsRunning', `${running} of ${shards.length} shard(s) running, ${done} done`);
    else set('Running', 'False', 'WaitingForBrowsers', `waiting for browsers of BrowserPool ${pool}`);
    // Said only when something is wrong, and taken back once runners can upload again.
    const reports = this.reportOutcome;
    if (reports && !reports.ok) set('ReportUpload', 'False', 'TokenSecretUnavailable', reports.message);
    else if (reports?.ok && run.status?.conditions?.some((c) => c.type === 'ReportUpload' && c.status === 'False')) {
      set('ReportUpload', 'True', 'TokenSecretReady', `shards started from now on upload their reports (Secret ${reports.secret})`);
    }
    const position = phase === 'Queued' ? this.queuePosition(run, pool) : undefined;
    const startTime = run.status?.startTime ?? (phase === 'Running' ? metaTime(this.now) : undefined);
    const status = withReportURL({
      phase,
      shards,
      summary,
      ...(startTime ? { startTime, duration: formatDuration(this.now.getTime() - Date.parse(startTime)) } : {}),
      ...(position !== undefined ? { queuePosition: position } : {}),
      ...projectsNotRun,
      ...(run.status?.source ? { source: run.status.source } : {}),
      observedGeneration: run.metadata.generation,
      conditions: conditions.list,
    }, run.status);
    const previousPhase = run.status?.phase;
    if (phase === 'Running' && !run.status?.startTime) this.metrics.started(spec, run.metadata.creationTimestamp as string, this.now);
    // The duration ticks every second: written along with another change only, so that a run whose
    // progress stands still costs no writes.
    if (!onlyDurationDiffers(run.status, status) && await this.writeStatus(run, status) && previousPhase !== phase) {
      const note = phase === 'Queued' ? `queued on BrowserPool ${pool}` : `started: ${running} shard(s) running`;
      await this.ctx.events.emit(run, { type: 'Normal', reason: phase === 'Queued' ? 'Queued' : 'Started', action: 'Schedule', note });
    }
    return { requeueAfter: nextLookMs(running, Math.max(deadline - this.now.getTime(), 100), PROGRESS_INTERVAL_MS) };
  }

  /** 1-based place of the run's first waiting request in its pool's queue. */
  private queuePosition(run: TestRunObject, pool: string): number | undefined {
    const queue = queueOrder(this.ctx.cache<LeaseRequest>(LEASE).list({
      namespace: this.request.namespace,
      labels: { [POOL_LABEL]: pool, [REQUEST_LABEL]: 'true' },
    }));
    const i = queue.findIndex((r) => r.metadata.ownerReferences?.some((o) => o.uid === run.metadata.uid));
    return i < 0 ? undefined : i + 1;
  }

  /** Applies the status unless the stored one equals it. Returns whether it wrote. */
  private async writeStatus(run: TestRunObject, status: Record<string, unknown>): Promise<boolean> {
    const written = await applyStatusIfChanged(this.ctx.rest, TEST_RUN, run, status);
    if (!written) return false;
    this.writes.record(run.metadata.uid ?? '', this.staleVersions, written);
    return true;
  }
}

/**
 * The status each run was last written with, until the cache shows a newer
 * version of the run. A pass that follows a write closely can read the old
 * status from the cache: a shard that just finished would look still
 * running, with its browser already handed back, and be retried.
 */
class StatusWrites {
  private readonly written = new Map<string, { stale: Set<string>; status: Record<string, unknown> }>();

  record(uid: string, stale: Set<string>, status: Record<string, unknown>): void {
    this.written.set(uid, { stale: new Set(stale), status });
  }

  /** The run with the status last written, while the cache still holds a version from before that write. */
  latest(run: TestRunObject): TestRunObject {
    const uid = run.metadata.uid ?? '';
    const write = this.written.get(uid);
    if (!write) return run;
    if (write.stale.has(run.metadata.resourceVersion ?? '')) return { ...run, status: write.status };
    this.written.delete(uid);
    return run;
  }
}

/** The run's conditions, set on a copy, each stamped with the run's generation. */
function conditionsOf(run: TestRunObject, now: Date) {
  let list = run.status?.conditions;
  return {
    set: (type: string, status: 'True' | 'False', reason: string, message: string) => {
      list = setCondition(list, { type, status, reason, message, observedGeneration: run.metadata.generation }, now);
    },
    get list() {
      return list;
    },
  };
}

/** How many browsers the pool can ever run at once. */
function poolCapacity(pool: BrowserPoolObject): number {
  return pool.spec?.autoscaling?.maxReplicas ?? pool.spec?.replicas ?? 0;
}

function browserView(pod: PodObject | undefined): BrowserView | undefined {
  if (!pod) return undefined;
  const lost = pod.metadata.deletionTimestamp !== undefined || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
  const endpoint = endpointOf(pod);
  return { name: pod.metadata.name ?? '', lost, ...(endpoint ? { endpoint } : {}) };
}

function runnerView(pod: PodObject): RunnerView {
  const fetch = pod.status?.initContainerStatuses?.find((c) => c.name === FETCH_SOURCE_CONTAINER)?.state?.terminated;
  if (fetch && fetch.exitCode !== 0) {
    // The runner never started: the shard ends on fetch-source's message, not on a missing summary.
    return {
      name: pod.metadata.name ?? '',
      attempt: Number(pod.metadata.labels?.[ATTEMPT_LABEL]),
      phase: 'Failed',
      terminating: pod.metadata.deletionTimestamp !== undefined,
      ...(fetch.exitCode !== undefined ? { exitCode: fetch.exitCode } : {}),
      sourceError: fetch.message?.trim() || `fetch-source exited with code ${fetch.exitCode ?? '?'}`,
    };
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === 'runner')?.state?.terminated;
  // The runner is the pod's one container and never restarts: once it has terminated the shard is done, even
  // while the pod's phase lags behind (a sandbox whose teardown hangs keeps the pod Running).
  const containerPhase = terminated && (terminated.exitCode === 0 ? 'Succeeded' : 'Failed');
  const phase = (containerPhase || pod.status?.phase || 'Pending') as RunnerView['phase'];
  const parsed = terminated?.message ? parseShardSummary(terminated.message) : undefined;
  const infraReason = terminated?.reason === 'OOMKilled' ? 'OOMKilled' : pod.status?.reason;
  return {
    name: pod.metadata.name ?? '',
    attempt: Number(pod.metadata.labels?.[ATTEMPT_LABEL]),
    phase: ['Pending', 'Running', 'Succeeded', 'Failed'].includes(phase) ? phase : 'Pending',
    terminating: pod.metadata.deletionTimestamp !== undefined,
    ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
    ...(infraReason ? { infraReason } : {}),
    ...(parsed?.ok ? { summary: parsed.value } : {}),
    ...(terminated?.message && !parsed?.ok ? { output: terminated.message } : {}),
  };
}
