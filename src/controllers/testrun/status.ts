// A TestRun's status as each pass decides it, with the Events that announce
// its changes: Pending and why (notScheduled), queued or running with its
// shards (runStatus), finished (finish). The reconciler frame writes it, once
// per pass and only when it changed.
import type { TestRunObject } from '../../api/objects.ts';
import type { TestRun } from '../../api/v1alpha1/index.ts';
import type { ProjectNotRun } from '../../contracts/shard-summary.ts';
import { metaTime, setCondition } from '../../runtime/conditions.ts';
import type { Outcome, Pass } from '../../runtime/reconciler.ts';
import type { TestRunMetrics } from './metrics.ts';
import type { PoolFacts } from './observe.ts';
import {
  finishReason,
  formatDuration,
  isFinalShard,
  onlyDurationDiffers,
  projectsVerdict,
  runPhase,
  type ShardStatus,
  summarize,
} from './plan.ts';
import { PROGRESS_INTERVAL_MS } from './progress.ts';
import { nextLookMs } from './requeue.ts';
import { type ReportSetup, withReportURL } from './report.ts';

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

/** A run that cannot be scheduled: Pending with a condition and an Event saying what to fix. */
export function notScheduled(
  run: TestRunObject,
  reason: string,
  message: string,
  pass: Pass,
  requeueAfter = 30_000,
): Outcome {
  const conditions = conditionsOf(run, pass.now);
  conditions.set('Scheduled', 'False', reason, message);
  return {
    status: { ...run.status, phase: 'Pending', observedGeneration: run.metadata.generation, conditions: conditions.list },
    afterStatus: async (written) => {
      if (!written) return;
      pass.log.warn({ reason }, message);
      await pass.events.emit(run, { type: 'Warning', reason, action: 'Schedule', note: message });
    },
    // Pools, ConfigMaps and Secrets are watched; this only catches what no event announces (a remote back up).
    requeueAfter,
  };
}

/** A finished run: its phase, completion time and the condition that says why; counted once it is written. */
export function finish(
  run: TestRunObject,
  spec: TestRun,
  verdict: { phase: string; reason: string; message: string; shards: ShardStatus[] },
  pass: Pass,
  metrics: TestRunMetrics,
): Outcome {
  const { phase, reason, message, shards } = verdict;
  const { now } = pass;
  const started = run.status?.startTime;
  const conditions = conditionsOf(run, now);
  conditions.set('Running', 'False', 'Finished', `the run finished: ${phase}`);
  conditions.set(phase === 'Succeeded' ? 'Complete' : 'Failed', 'True', reason, message);
  const status = {
    ...run.status,
    phase,
    shards,
    completionTime: metaTime(now),
    ...(started ? { duration: formatDuration(now.getTime() - Date.parse(started)) } : {}),
    queuePosition: undefined,
    observedGeneration: run.metadata.generation,
    conditions: conditions.list,
  };
  return {
    status,
    afterStatus: async (written) => {
      if (!written) return;
      const summary = run.status?.summary ?? {};
      metrics.finished(spec, phase, started ? now.getTime() - Date.parse(started) : 0, summary);
      const type = phase === 'Succeeded' ? 'Normal' : 'Warning';
      await pass.events.emit(run, { type, reason: 'Finished', action: 'Reconcile', note: `${phase}: ${message}` });
    },
  };
}

/** What the status of a scheduled run is made of, besides the run and the shards. */
export interface RunStatusInput {
  pool: PoolFacts;
  /** The report Secrets, when this pass made sure of them. */
  reports: ReportSetup | undefined;
  deadline: number;
  metrics: TestRunMetrics;
  /** 1-based place of the run's first waiting request in its pool's queue. */
  queuePosition: () => number | undefined;
}

/** The status of a scheduled run from its shards: queued, running, or finished. */
export async function runStatus(
  run: TestRunObject,
  spec: TestRun,
  observed: { shards: ShardStatus[]; durations: number[]; projectsNotRun: ProjectNotRun[] },
  input: RunStatusInput,
  pass: Pass,
): Promise<Outcome> {
  const { shards, durations } = observed;
  const { now } = pass;
  const phase = runPhase(shards);
  const summary = summarize(shards, durations);
  const pool = spec.spec.poolRef.name;
  const ran = summary.passed + summary.failed + summary.flaky + summary.skipped;
  const projects = projectsVerdict(observed.projectsNotRun, ran, { name: pool, browser: input.pool.browser });
  const projectsNotRun = projects ? { projectsNotRun: observed.projectsNotRun } : {};
  const conditions = conditionsOf(run, now);
  const set = conditions.set;
  if (projects) {
    const before = run.status?.conditions?.find((c) => c.type === 'ProjectsNotRun');
    set('ProjectsNotRun', 'True', projects.reason, projects.message);
    if (before?.status !== 'True') {
      await pass.events.emit(run, { type: 'Warning', reason: projects.reason, action: 'Run', note: projects.message });
    }
  }
  if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Error') {
    const { reason, detail } = finishReason(phase, shards);
    const message = `${summary.passed} passed, ${summary.failed} failed, ${summary.flaky} flaky, ${summary.skipped} skipped` +
      (phase === 'Error' ? `; ${shards.filter((s) => s.phase === 'Error').length} shard(s) could not run` : '') +
      (detail ? `; ${detail}` : '');
    const noProject = phase === 'Failed' && projects?.reason === 'NoProjectForBrowser';
    const finished = { ...run, status: { ...run.status, summary, ...projectsNotRun, conditions: conditions.list } };
    const verdict = noProject ? { reason: projects.reason, message: projects.message } : { reason, message };
    return finish(finished, spec, { phase, ...verdict, shards }, pass, input.metrics);
  }
  const { capacity } = input.pool;
  if (spec.spec.shards > capacity) {
    const message =
      `${spec.spec.shards} shards on BrowserPool ${pool} of at most ${capacity} browser(s): at most ${capacity} run at a time`;
    const before = run.status?.conditions?.find((c) => c.type === 'Scheduled')?.reason;
    set('Scheduled', 'True', 'ShardsExceedPoolCapacity', message);
    if (before !== 'ShardsExceedPoolCapacity') {
      await pass.events.emit(run, { type: 'Warning', reason: 'ShardsExceedPoolCapacity', action: 'Schedule', note: message });
    }
  } else {
    set('Scheduled', 'True', 'Queued', `queued on BrowserPool ${pool}`);
  }
  const running = shards.filter((s) => s.phase === 'Running').length;
  const done = shards.filter(isFinalShard).length;
  if (phase === 'Running') set('Running', 'True', 'ShardsRunning', `${running} of ${shards.length} shard(s) running, ${done} done`);
  else set('Running', 'False', 'WaitingForBrowsers', `waiting for browsers of BrowserPool ${pool}`);
  // Said only when something is wrong, and taken back once runners can upload again.
  const reports = input.reports;
  if (reports && !reports.ok) set('ReportUpload', 'False', 'TokenSecretUnavailable', reports.message);
  else if (reports?.ok && run.status?.conditions?.some((c) => c.type === 'ReportUpload' && c.status === 'False')) {
    set('ReportUpload', 'True', 'TokenSecretReady', `shards started from now on upload their reports (Secret ${reports.secret})`);
  }
  const position = phase === 'Queued' ? input.queuePosition() : undefined;
  const startTime = run.status?.startTime ?? (phase === 'Running' ? metaTime(now) : undefined);
  const status = withReportURL({
    phase,
    shards,
    summary,
    ...(startTime ? { startTime, duration: formatDuration(now.getTime() - Date.parse(startTime)) } : {}),
    ...(position !== undefined ? { queuePosition: position } : {}),
    ...projectsNotRun,
    ...(run.status?.source ? { source: run.status.source } : {}),
    observedGeneration: run.metadata.generation,
    conditions: conditions.list,
  }, run.status);
  const previousPhase = run.status?.phase;
  if (phase === 'Running' && !run.status?.startTime) input.metrics.started(spec, run.metadata.creationTimestamp as string, now);
  return {
    // The duration ticks every second: written along with another change only, so that a run whose
    // progress stands still costs no writes.
    status: onlyDurationDiffers(run.status, status) ? undefined : status,
    afterStatus: async (written) => {
      if (!written || previousPhase === phase) return;
      const note = phase === 'Queued' ? `queued on BrowserPool ${pool}` : `started: ${running} shard(s) running`;
      await pass.events.emit(run, { type: 'Normal', reason: phase === 'Queued' ? 'Queued' : 'Started', action: 'Schedule', note });
    },
    requeueAfter: nextLookMs(running, Math.max(input.deadline - now.getTime(), 100), PROGRESS_INTERVAL_MS),
  };
}
