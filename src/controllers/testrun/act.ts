// What a TestRun pass does once the run can be scheduled: its NetworkPolicy,
// then for each shard what planShard decided (ask the pool for a browser,
// start a runner on the leased one, stop a runner, hand a browser back), then
// the status. Every decision is planShard's; this file applies them.
import { LEASE, NETWORK_POLICY, NODE, type NodeObject, POD, type PodObject, SECRET, type SecretObject } from '../../api/builtin.ts';
import type { TestRunObject } from '../../api/objects.ts';
import type { TestRun } from '../../api/v1alpha1/index.ts';
import { LEASED_TO_LABEL, POOL_LABEL } from '../../contracts/browser-lease.ts';
import type { ProjectNotRun } from '../../contracts/shard-summary.ts';
import { releaseBrowser } from '../../leasing/acquire.ts';
import { leaseOf } from '../../leasing/lease.ts';
import type { QueueIndex } from '../../leasing/queue-index.ts';
import { leaseRequest } from '../../leasing/requests.ts';
import { controllerReference } from '../../runtime/owners.ts';
import type { ObjectPass, Outcome } from '../../runtime/reconciler.ts';
import { collectionPath, keyOf } from '../../runtime/resource.ts';
import { statusCode } from '../../runtime/rest.ts';
import { ensurePolicy, runPolicy } from '../networkpolicy.ts';
import { deletePod, timeOut } from './cleanup.ts';
import type { TestRunMetrics } from './metrics.ts';
import type { Scheduled } from './observe.ts';
import { isFinalShard, planShard, type ShardAction, type ShardStatus, withProgress } from './plan.ts';
import { ATTEMPT_LABEL, runnerName, runnerPod, SHARD_LABEL } from './pod.ts';
import type { RunnerProgress } from './progress.ts';
import { dependencyCacheUrl, ensureReportSecrets, type ReportSetup, uploadUrl } from './report.ts';
import { runStatus } from './status.ts';
import { browserView, holderOf, runnerPods, runnerView } from './view.ts';

/** What the TestRun controller brings to every pass. */
export interface RunDeps {
  /** The default runner image. */
  image: string;
  /** The report store's URL as runner pods reach it; unset: runners upload no report. */
  reportStoreUrl: string | undefined;
  /** Each run gets the NetworkPolicy that lets its runners reach its browsers. */
  networkPolicy: boolean;
  metrics: TestRunMetrics;
  progress: RunnerProgress;
  /** The pools' queues of lease requests: a queued run's place. */
  queue: QueueIndex;
}

/** One pass over a run that can be scheduled: its shards, then its status. */
export class ShardPass {
  private readonly pass: ObjectPass;
  private readonly run: TestRunObject;
  private readonly observed: Scheduled;
  private readonly spec: TestRun;
  private readonly deps: RunDeps;
  /** The report Secrets, made sure of once per pass, when a runner is about to start. */
  private reportSetup: Promise<ReportSetup> | undefined;
  private reportOutcome: ReportSetup | undefined;

  constructor(pass: ObjectPass, run: TestRunObject, observed: Scheduled, deps: RunDeps) {
    this.pass = pass;
    this.run = run;
    this.observed = observed;
    this.spec = observed.spec;
    this.deps = deps;
  }

  async reconcile(): Promise<Outcome> {
    const { pass, run, spec } = this;
    const { request } = pass;
    // Before any runner starts: its browser admits it only through this policy.
    if (this.deps.networkPolicy) {
      const policy = runPolicy({ namespace: request.namespace, name: request.name, owner: controllerReference(run) });
      if (await ensurePolicy(pass.rest, pass.cache(NETWORK_POLICY), policy)) {
        pass.log.info({ networkPolicy: policy.metadata.name }, 'wrote the run\'s NetworkPolicy');
      }
    }

    const deadline = Date.parse(run.metadata.creationTimestamp as string) + spec.spec.timeoutSeconds * 1000;
    if (pass.now.getTime() >= deadline) return timeOut(pass, run, spec, this.deps.metrics);

    const runners = runnerPods(pass, run);
    // The pool's browsers leased to this run only (a lease labels its pod with the run's name in the same
    // write): reading every browser's lease at every pass of every queued run was most of a pass's work.
    const leasedHere = { [POOL_LABEL]: spec.spec.poolRef.name, [LEASED_TO_LABEL]: request.name };
    const poolPods = pass.cache<PodObject>(POD).list({ namespace: request.namespace, labels: leasedHere });
    const byHolder = new Map(poolPods.map((p) => [leaseOf(p)?.holder, p]));
    const nodeOf = (name: string) => pass.cache<NodeObject>(NODE).get(name);
    const uid = run.metadata.uid ?? '';
    const previous = run.status?.shards ?? [];
    const shards: ShardStatus[] = [];
    const durations: number[] = [];
    const releases: { index: number; action: ShardAction }[] = [];
    // Every shard lists the same projects: any finished one says which its pool's browser left out.
    let projectsNotRun: ProjectNotRun[] = [];
    for (let index = 1; index <= spec.spec.shards; index++) {
      const mine = runners.filter((r) => r.metadata.labels?.[SHARD_LABEL] === String(index));
      const plan = planShard({
        index,
        status: previous.find((s) => s.index === index),
        runners: new Map(mine.map((r) => [Number(r.metadata.labels?.[ATTEMPT_LABEL]), runnerView(r, nodeOf)])),
        browserOf: (attempt) => browserView(byHolder.get(holderOf(uid, index, attempt))),
        runnerName: (attempt) => runnerName(request.name, index, attempt),
      }, spec.spec.retries);
      for (const action of plan.actions) {
        if (action.type === 'releaseBrowser' || action.type === 'discardBrowser') releases.push({ index, action });
        else await this.act(index, action, deadline);
      }
      const runner = mine.find((r) => r.metadata.name === plan.status.runnerPod);
      const reported = runner && plan.status.phase === 'Running' ? this.deps.progress.read(runner, pass.log) : undefined;
      shards.push(withProgress(plan.status, previous.find((s) => s.index === index), reported));
      const summary = mine.map((r) => runnerView(r)).find((r) => r.attempt === plan.status.attempts)?.summary;
      if (summary && isFinalShard(plan.status)) durations.push(summary.durationMs);
      if (summary?.projectsNotRun?.length) projectsNotRun = summary.projectsNotRun;
    }
    const input = {
      pool: this.observed.pool, reports: this.reportOutcome, deadline, metrics: this.deps.metrics,
      queuePosition: () => this.deps.queue.position(request.namespace, spec.spec.poolRef.name, uid),
    };
    const status = await runStatus(run, spec, { shards, durations, projectsNotRun }, input, pass);
    return {
      ...status,
      afterStatus: async (written) => {
        await status.afterStatus?.(written);
        // Only once the status says the shard is done: a pass after a crash in between must not take the
        // released browser for a lost one.
        for (const { index, action } of releases) await this.act(index, action, deadline);
      },
    };
  }

  private async act(index: number, action: ShardAction, deadline: number): Promise<void> {
    const { pass, run } = this;
    switch (action.type) {
      case 'requestBrowser':
        return this.requestBrowser(index, action.attempt);
      case 'createRunner':
        return this.createRunner(index, action, deadline);
      case 'deleteRunner':
        return deletePod(pass, action.name);
      case 'releaseBrowser': {
        const browser = { namespace: pass.request.namespace, name: action.browser };
        await releaseBrowser(pass.rest, browser, holderOf(run.metadata.uid ?? '', index, action.attempt));
        return;
      }
      case 'discardBrowser':
        pass.log.warn({ shard: index, pod: action.browser }, `deleting the browser: ${action.why}`);
        return deletePod(pass, action.browser);
      case 'retry':
        this.deps.metrics.retried(action.reason);
        return;
      case 'event':
        pass.log.info({ shard: index, reason: action.reason }, action.note);
        return pass.events.emit(run, { type: action.kind, reason: action.reason, action: 'Reconcile', note: action.note });
    }
  }

  private async createRunner(index: number, action: Extract<ShardAction, { type: 'createRunner' }>, deadline: number) {
    const { pass, run, observed } = this;
    const { request } = pass;
    const body = runnerPod({
      run: { namespace: request.namespace, name: request.name, owner: controllerReference(run) },
      spec: this.spec.spec,
      image: this.deps.image,
      index,
      attempt: action.attempt,
      endpoint: action.browser.endpoint ?? '',
      browser: observed.pool.browser,
      sessions: observed.pool.sessions,
      deadlineSeconds: (deadline - pass.now.getTime()) / 1000,
      report: await this.reportTarget(index),
      ...(observed.pinned ? { pinned: observed.pinned } : {}),
    });
    try {
      await pass.rest.create(collectionPath(POD, request.namespace), body);
    } catch (err) {
      // Created by a pass whose status write was lost: the runner exists, which is what this asked for.
      if (statusCode(err) !== 409) throw err;
    }
    pass.log.info({ shard: index, attempt: action.attempt, browser: action.browser.name }, 'started a runner');
  }

  /** Where shard `index` uploads its report; undefined without a report store or when its Secret cannot be had. */
  private async reportTarget(index: number) {
    const store = this.deps.reportStoreUrl;
    if (!store) return undefined;
    this.reportSetup ??= this.setUpReports();
    const setup = await this.reportSetup;
    if (!setup.ok) return undefined;
    const { namespace, name } = this.pass.request;
    const cacheUrl = dependencyCacheUrl(store, namespace, name);
    return { uploadUrl: uploadUrl(store, namespace, name, index), cacheUrl, secret: setup.secret };
  }

  private async setUpReports(): Promise<ReportSetup> {
    const { pass, run } = this;
    const setup = await ensureReportSecrets(
      { rest: pass.rest, secrets: pass.cache<SecretObject>(SECRET), log: pass.log },
      run,
      controllerReference(run),
    );
    this.reportOutcome = setup;
    const problem = setup.ok ? setup.warning : setup.message;
    if (problem) {
      const reason = setup.ok ? 'ReportReaderSecretFailed' : 'ReportUploadUnavailable';
      pass.log.warn({ reason }, problem);
      await pass.events.emit(run, { type: 'Warning', reason, action: 'Reconcile', note: problem });
    }
    return setup;
  }

  /** Joins the pool's queue for one attempt of a shard; the pool controller grants a browser in order. */
  private async requestBrowser(index: number, attempt: number): Promise<void> {
    const { pass, run, spec } = this;
    const { request } = pass;
    const name = `testrun-${request.name}-${index}-${attempt}`;
    if (pass.cache(LEASE).get(keyOf({ namespace: request.namespace, name }))) return;
    const body = leaseRequest({
      pool: { namespace: request.namespace, name: spec.spec.poolRef.name },
      lease: { holder: holderOf(run.metadata.uid ?? '', index, attempt), kind: 'TestRun', ref: keyOf(request) },
      priority: spec.spec.priority,
      owner: [controllerReference(run)],
      name,
      now: pass.now,
    });
    try {
      await pass.rest.create(collectionPath(LEASE, request.namespace), body);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }
}
