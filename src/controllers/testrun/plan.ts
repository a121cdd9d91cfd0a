// What to do next for each shard of a TestRun, and what the run's status is,
// computed from its status and the pods observed: pure, so every path
// (retry, adoption after a restart, timeout) is a unit test away.
import { isDeepStrictEqual } from 'node:util';
import { isFinishedPhase } from '../../api/objects.ts';
import type { TestRunStatus } from '../../api/v1alpha1/index.ts';
import { runnerFailureReason } from '../../contracts/runner-failure.ts';
import { clip, type ProjectNotRun, type ShardSummary } from '../../contracts/shard-summary.ts';

export type ShardStatus = NonNullable<TestRunStatus['shards']>[number];
export type ShardProgress = NonNullable<ShardStatus['progress']>;
export type RunPhase = NonNullable<TestRunStatus['phase']>;

/** A runner pod of one attempt of a shard. */
export interface RunnerView {
  name: string;
  attempt: number;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  terminating: boolean;
  exitCode?: number;
  /** Why the pod or container stopped when it is not the tests' doing: OOMKilled, Evicted, DeadlineExceeded. */
  infraReason?: string;
  /** The reporter's summary from the termination message; undefined when absent or unreadable. */
  summary?: ShardSummary;
  /** The termination message when it is not a summary (the runner's last output). */
  output?: string;
  /** Why the fetch-source init container could not fetch a git source; the runner never started. */
  sourceError?: string;
  /** Set: the node it runs on is NotReady, and why. An unfinished runner there is taken for gone. */
  nodeLost?: string;
}

/** The browser leased to one attempt of a shard. */
export interface BrowserView {
  name: string;
  endpoint?: string;
  /** Failed, being deleted: the browser is gone for this attempt. */
  lost: boolean;
}

export interface ShardObservation {
  index: number;
  status?: ShardStatus;
  /** Runner pods of this shard by attempt. */
  runners: Map<number, RunnerView>;
  /** The browser leased to attempt `n` (the holder id names the attempt). */
  browserOf: (attempt: number) => BrowserView | undefined;
  /** The runner pod name of attempt `n`. */
  runnerName: (attempt: number) => string;
}

export type ShardAction =
  | { type: 'requestBrowser'; attempt: number } |
  { type: 'createRunner'; attempt: number; browser: BrowserView } |
  { type: 'deleteRunner'; name: string } |
  { type: 'releaseBrowser'; attempt: number; browser: string } |
  { type: 'discardBrowser'; browser: string; why: string } |
  { type: 'event'; kind: 'Normal' | 'Warning'; reason: string; note: string } |
  { type: 'retry'; reason: string };

export interface ShardPlan {
  status: ShardStatus;
  actions: ShardAction[];
}

export const isFinalShard = (s?: ShardStatus) => s !== undefined && isFinishedPhase(s.phase);

function countsOf(summary: ShardSummary) {
  return { passed: summary.passed, failed: summary.failed, flaky: summary.flaky, skipped: summary.skipped };
}

/** The first failed tests, as a shard's message. */
function failureMessage(summary: ShardSummary): string | undefined {
  const lines = [
    ...summary.errors,
    ...summary.failures.map((f) => `${f.title}: ${f.error}`),
    ...(summary.truncated > 0 ? [`… and ${summary.truncated} more failed tests`] : []),
  ];
  return lines.length > 0 ? lines.join('\n').slice(0, 4000) : undefined;
}

/** A shard whose runner ended on the tests' own account: its counts, and its browser goes back. */
function shardResult(
  status: ShardStatus,
  runner: RunnerView,
  s: ShardSummary,
  browser: BrowserView | undefined,
  actions: ShardAction[],
): ShardPlan {
  const passed = s.failed === 0 && s.status === 'passed' && runner.exitCode === 0;
  const result = failureMessage(s) ?? (passed ? undefined : `runner exited with code ${runner.exitCode ?? '?'}`);
  // The upload's failure is said but changes nothing of the shard's result.
  const notUploaded = s.report === 'failed' ? `the shard's report was not uploaded: ${clip(s.reportError ?? 'no reason given', 200)}` : undefined;
  // Within the status field's 4096 characters: the failures make room for the upload's line.
  const room = 4000 - (notUploaded ? notUploaded.length + 1 : 0);
  const message = [result?.slice(0, room), notUploaded].filter(Boolean).join('\n') || undefined;
  const report = s.report === 'uploaded' ? 'Uploaded' as const : s.report === 'failed' ? 'Failed' as const : undefined;
  const next: ShardStatus = { ...status, phase: passed ? 'Succeeded' : 'Failed', ...countsOf(s), message, report };
  if (browser) actions.push({ type: 'releaseBrowser', attempt: status.attempts ?? 0, browser: browser.name });
  const note = `shard ${status.index} ${passed ? 'passed' : 'failed'}: ${s.passed} passed, ${s.failed} failed, ` +
    `${s.flaky} flaky, ${s.skipped} skipped${notUploaded ? `; ${notUploaded}` : ''}`;
  actions.push({ type: 'event', kind: passed ? 'Normal' : 'Warning', reason: passed ? 'ShardPassed' : 'ShardFailed', note });
  return { status: next, actions };
}

/**
 * The next step for one shard. Attempts are numbered from 1; the runner pod
 * and the lease of attempt n carry n in their names, so a controller that
 * restarts between creating a pod and recording it finds and adopts it
 * instead of starting the shard twice.
 */
export function planShard(shard: ShardObservation, retries: number): ShardPlan {
  const { index } = shard;
  let status: ShardStatus = shard.status ?? { index, phase: 'Pending', attempts: 0 };
  const actions: ShardAction[] = [];
  const attempts = status.attempts ?? 0;

  if (isFinalShard(status)) {
    const browser = shard.browserOf(attempts);
    if (browser) actions.push({ type: 'releaseBrowser', attempt: attempts, browser: browser.name });
    return { status, actions };
  }

  // Adopt a runner created by a pass whose status write was lost.
  let attempt = attempts;
  const next = shard.runners.get(attempts + 1);
  if (next) {
    attempt = attempts + 1;
    status = { ...status, phase: 'Running', attempts: attempt, runnerPod: next.name, browserPod: shard.browserOf(attempt)?.name };
  }

  if (status.phase === 'Running') {
    const runner = shard.runners.get(attempt);
    const browser = shard.browserOf(attempt);
    const finished = runner?.phase === 'Succeeded' || runner?.phase === 'Failed';
    // A running shard needs its browser; a finished one only must not have lost it (a browser no longer
    // held is one this controller handed back after recording the result, and a restart lost the record).
    // A runner whose tests failed may have found its browser gone before this controller can see it: a lost
    // node's pods look Running until the node turns NotReady.
    const lostForRunner = finished ? runner?.summary?.browserLost : undefined;
    const browserLost = (finished ? browser?.lost === true : !browser || browser.lost) || lostForRunner !== undefined;
    // A runner on a lost node may still be running, cut off from the API server: the attempt is over for
    // this controller, and the browser it may still be driving goes to nobody else.
    const runnerLost = runner !== undefined && !finished && runner.nodeLost !== undefined;
    if (runner && !finished && !browserLost && !runnerLost) return { status, actions };
    if (runner && finished && !browserLost && !runner.infraReason && runner.summary) {
      return shardResult(status, runner, runner.summary, browser, actions);
    }
    // The runner's own failure (its dependencies could not be installed): the suite's to fix, so another
    // attempt would fail the same way; its message leads with the reason, as the run's condition will.
    const ownFailure = runner && finished && !browserLost && !runner.infraReason
      ? runnerFailureReason(runner.output)
      : undefined;
    if (runner && ownFailure) {
      const message = clip((runner.output ?? '').trim(), 4000);
      if (browser) actions.push({ type: 'releaseBrowser', attempt, browser: browser.name });
      actions.push({ type: 'event', kind: 'Warning', reason: ownFailure, note: `shard ${index}: ${clip(message, 1000)}` });
      return { status: { ...status, phase: 'Error', message }, actions };
    }

    // An infrastructure failure: retried on another browser while retries last.
    const found = lostForRunner !== undefined ? ` (the runner found: ${lostForRunner})` : '';
    let failure: string;
    if (!runner) failure = `runner pod ${status.runnerPod ?? ''} was deleted`;
    else if (browserLost) failure = `browser pod ${browser?.name ?? status.browserPod ?? ''} was lost${found}`;
    else if (runnerLost) failure = `runner pod ${runner.name} was on a lost node: ${runner.nodeLost}`;
    else if (runner.infraReason) failure = `runner pod ${runner.name} stopped: ${runner.infraReason}`;
    else if (runner.sourceError) failure = `runner pod ${runner.name} could not fetch the tests: ${runner.sourceError}`;
    else {
      const output = runner.output ? `; last output: ${runner.output.trim().split('\n').slice(-3).join(' | ')}` : '';
      failure = `runner pod ${runner.name} exited with code ${runner.exitCode ?? '?'} and no summary${output}`;
    }
    if (runner && !finished) actions.push({ type: 'deleteRunner', name: runner.name });
    if (browser && !browser.lost) {
      // A runner on a lost node may still drive its browser; a browser its runner could not reach is no use to
      // the next holder either. Deleted, the pool replaces it.
      const { name } = browser;
      if (runnerLost) actions.push({ type: 'discardBrowser', browser: name, why: 'its runner is on a lost node and may still drive it' });
      else if (lostForRunner !== undefined) actions.push({ type: 'discardBrowser', browser: name, why: 'its runner could not reach it' });
      else actions.push({ type: 'releaseBrowser', attempt, browser: name });
    }
    if (attempt > retries) {
      const message = `attempt ${attempt} failed: ${failure}; no retries left (retries: ${retries})`;
      actions.push({ type: 'event', kind: 'Warning', reason: 'ShardError', note: `shard ${index}: ${message}` });
      return { status: { ...status, phase: 'Error', message }, actions };
    }
    const message = `attempt ${attempt} failed: ${failure}; retrying`;
    actions.push({ type: 'retry', reason: retryReason(runner, browserLost, runnerLost) });
    actions.push({ type: 'event', kind: 'Warning', reason: 'ShardRetried', note: `shard ${index}: ${message}` });
    status = { index, phase: 'Pending', attempts: attempt, message };
  }

  // Pending: start the next attempt once its browser is leased.
  const nextAttempt = (status.attempts ?? 0) + 1;
  const browser = shard.browserOf(nextAttempt);
  if (browser && !browser.lost && browser.endpoint) {
    actions.push({ type: 'createRunner', attempt: nextAttempt, browser });
    const runnerPod = shard.runnerName(nextAttempt);
    status = { ...status, phase: 'Running', attempts: nextAttempt, browserPod: browser.name, runnerPod, message: undefined };
  } else {
    actions.push({ type: 'requestBrowser', attempt: nextAttempt });
  }
  return { status, actions };
}

/** The label of fleetwright_shard_retries_total{reason}. */
function retryReason(runner: RunnerView | undefined, browserLost: boolean, runnerLost: boolean): string {
  if (!runner) return 'RunnerDeleted';
  if (browserLost) return 'BrowserLost';
  if (runnerLost) return 'NodeLost';
  return runner.infraReason ?? (runner.sourceError ? 'SourceFetchFailed' : 'NoSummary');
}

/**
 * The reason of a finished run's condition: a runner's own failure reason
 * (DependenciesFailed) when a shard ended with one, with that shard's first
 * line; else the phase's reason.
 */
export function finishReason(phase: 'Succeeded' | 'Failed' | 'Error', shards: ShardStatus[]): { reason: string; detail?: string } {
  const reasons = { Succeeded: 'AllTestsPassed', Failed: 'TestsFailed', Error: 'InfrastructureError' } as const;
  if (phase !== 'Error') return { reason: reasons[phase] };
  const own = shards.find((s) => s.phase === 'Error' && runnerFailureReason(s.message) !== undefined);
  if (!own) return { reason: reasons[phase] };
  const firstLine = (own.message ?? '').split('\n', 1)[0] ?? '';
  return { reason: runnerFailureReason(own.message) ?? reasons[phase], detail: `shard ${own.index}: ${clip(firstLine, 500)}` };
}

/** The run's phase from its shards: Error beats Failed beats Succeeded once all are final. */
export function runPhase(shards: ShardStatus[]): RunPhase {
  if (shards.every(isFinalShard)) {
    if (shards.some((s) => s.phase === 'Error')) return 'Error';
    if (shards.some((s) => s.phase === 'Failed')) return 'Failed';
    return 'Succeeded';
  }
  return shards.some((s) => (s.attempts ?? 0) > 0) ? 'Running' : 'Queued';
}

/**
 * A running shard carries the progress its runner last reported, or else the
 * one already stored for the same runner pod (a restarted controller has not
 * asked yet); any other shard carries none: a new attempt starts from nothing,
 * and a finished shard's counts are its result.
 */
export function withProgress(
  shard: ShardStatus,
  stored: ShardStatus | undefined,
  reported: ShardProgress | undefined,
): ShardStatus {
  const rest = { ...shard };
  delete rest.progress;
  if (shard.phase !== 'Running') return rest;
  const progress = reported ?? (stored?.runnerPod === shard.runnerPod ? stored?.progress : undefined);
  return progress ? { ...rest, progress } : rest;
}

/** Counts over the shards: a finished shard's result, a running shard's progress so far. */
export function summarize(shards: ShardStatus[], durations: number[]) {
  const sum = (k: 'passed' | 'failed' | 'flaky' | 'skipped') =>
    shards.reduce((n, s) => n + (s[k] ?? s.progress?.[k] ?? 0), 0);
  return {
    passed: sum('passed'),
    failed: sum('failed'),
    flaky: sum('flaky'),
    skipped: sum('skipped'),
    ...(durations.length > 0 ? { durationSeconds: Math.round(Math.max(...durations) / 100) / 10 } : {}),
  };
}

/** The projects of the suite a pool's browser does not serve, as `name (browser)`, for messages. */
export const projectList = (projects: readonly ProjectNotRun[]) =>
  projects.map((p) => `${p.name || '(unnamed)'} (${p.browser})`).join(', ');

/**
 * What the run says about the projects its shards left out: a warning while
 * others ran, and the reason it failed when none of its projects could run.
 */
export function projectsVerdict(
  notRun: readonly ProjectNotRun[],
  ranTests: number,
  pool: { name: string; browser: string },
): { reason: 'BrowserNotServed' | 'NoProjectForBrowser'; message: string } | undefined {
  if (notRun.length === 0) return undefined;
  if (ranTests === 0) {
    return {
      reason: 'NoProjectForBrowser',
      message: `no project of the suite uses ${pool.browser}, the browser of BrowserPool ${pool.name}: ` +
        `${projectList(notRun)}. Add a project for ${pool.browser} or point spec.poolRef at a pool of their browser`,
    };
  }
  return {
    reason: 'BrowserNotServed',
    message: `${notRun.length} project(s) did not run, BrowserPool ${pool.name} serves ${pool.browser}: ${projectList(notRun)}`,
  };
}

/**
 * Whether the stored status and `next` differ in `duration` alone (fields set
 * to undefined count as absent). The duration ticks every second; a running
 * run is looked at every few seconds for progress, and writing it each time
 * would cost a write per look even while nothing happens.
 */
export function onlyDurationDiffers(
  stored: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
): boolean {
  const plain = (status: unknown) => {
    const copy = JSON.parse(JSON.stringify(status ?? {})) as Record<string, unknown>;
    delete copy.duration;
    return copy;
  };
  return stored?.duration !== undefined && isDeepStrictEqual(plain(stored), plain(next));
}

/** 83 s -> 1m23s, as kubectl prints durations. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
