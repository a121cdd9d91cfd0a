// What `fleetwright run --follow` prints, from the TestRun alone: pure
// functions of the object, so that a terminal's bars, CI's plain lines and
// the final report are all unit-tested.
import { isFinished, isFinishedPhase, type TestRunObject } from '../api/objects.ts';
import type { TestRunStatus } from '../api/v1alpha1/index.ts';
import { REPORT_STORE_PORT } from '../contracts/ports.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';

type Shard = NonNullable<TestRunStatus['shards']>[number];

export interface Counts {
  passed: number;
  failed: number;
  flaky: number;
  skipped: number;
}

/** 0 all passed; 1 tests failed or the run timed out; 3 the run could not be carried out (Error). */
export function exitCodeOf(run: TestRunObject): number {
  const phase = run.status?.phase;
  if (phase === 'Succeeded') return 0;
  return phase === 'Error' ? 3 : 1;
}

const countsOf = (c: Partial<Counts> | undefined): Counts =>
  ({ passed: c?.passed ?? 0, failed: c?.failed ?? 0, flaky: c?.flaky ?? 0, skipped: c?.skipped ?? 0 });
const settled = (c: Counts) => c.passed + c.failed + c.flaky + c.skipped;

/** Tests of a shard done so far and its total (unknown until its runner has loaded the suite). */
export function shardProgress(shard: Shard | undefined): { counts: Counts; done: number; total?: number } {
  if (shard && isFinishedPhase(shard.phase) && shard.passed !== undefined) {
    const counts = countsOf(shard);
    return { counts, done: settled(counts), total: settled(counts) };
  }
  if (shard?.phase === 'Running' && shard.progress) {
    const counts = countsOf(shard.progress);
    return { counts, done: settled(counts), ...(shard.progress.total > 0 ? { total: shard.progress.total } : {}) };
  }
  return { counts: countsOf(undefined), done: 0 };
}

/** `█████░░░░░`: `done` of `total` in `width` cells; empty while the total is unknown. */
export function progressBar(done: number, total: number | undefined, width: number): string {
  const filled = total ? Math.min(width, Math.round((width * done) / total)) : 0;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function shardState(shard: Shard | undefined, total: number | undefined): string {
  switch (shard?.phase) {
    case undefined:
    case 'Pending':
      return (shard?.attempts ?? 0) > 0 ? `retrying: ${firstLine(shard?.message)}` : 'waiting for a browser';
    case 'Running':
      return total === undefined ? `starting on ${shard.browserPod ?? 'a browser'}` : 'running';
    case 'Succeeded':
      return 'passed';
    case 'Failed':
      return 'failed';
    case 'Error':
      return `error: ${firstLine(shard.message)}`;
  }
}

const firstLine = (text: string | undefined) => (text ?? '').split('\n')[0] ?? '';

function countsText(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.flaky} flaky, ${c.skipped} skipped`;
}

/** For a terminal line that must fit 80 columns: the counts that are not zero (passed always). */
function shortCounts(c: Counts): string {
  const rest = (['failed', 'flaky', 'skipped'] as const).filter((k) => c[k] > 0).map((k) => `, ${c[k]} ${k}`);
  return `${c.passed} passed${rest.join('')}`;
}

/** One shard: with a bar for a terminal, as a plain sentence for logs. */
export function shardLine(shard: Shard | undefined, index: number, shards: number, bar: boolean): string {
  const { counts, done, total } = shardProgress(shard);
  const state = shardState(shard, total);
  const tests = `${done}/${total ?? '?'}`;
  if (bar) {
    const detail = total === undefined ? '' : `  ${shortCounts(counts)}`;
    return `  shard ${index}/${shards}  ${progressBar(done, total, 20)} ${tests.padStart(7)}  ${state}${detail}`;
  }
  const detail = total === undefined ? '' : `, ${tests} tests: ${countsText(counts)}`;
  return `shard ${index}/${shards} ${state}${detail}`;
}

export function runName(run: TestRunObject): string {
  return `${run.metadata.namespace}/${run.metadata.name}`;
}

/** What the run is doing, in one line; with `elapsed` (a terminal's ticking clock) appended. */
export function headline(run: TestRunObject, elapsed?: string): string {
  const status = run.status ?? {};
  const pool = run.spec?.poolRef?.name ?? '?';
  const shards = run.spec?.shards ?? 1;
  const scheduled = status.conditions?.find((c) => c.type === 'Scheduled');
  let what: string;
  switch (status.phase) {
    case undefined:
    case 'Pending':
      what = scheduled?.status === 'False' ? `Pending: ${scheduled.message}` : 'Pending';
      break;
    case 'Queued':
      what = `Queued on BrowserPool ${pool}${status.queuePosition ? ` (position ${status.queuePosition})` : ''}`;
      break;
    case 'Running': {
      const done = (status.shards ?? []).filter((s) => isFinishedPhase(s.phase)).length;
      what = `Running, ${done}/${shards} shard(s) done`;
      break;
    }
    default:
      what = status.phase;
  }
  return `TestRun ${runName(run)}: ${what}${elapsed ? `  ${elapsed}` : ''}`;
}

/** The lines a terminal redraws: the headline, then one bar per shard. */
export function frame(run: TestRunObject, elapsed?: string): string[] {
  const shards = run.spec?.shards ?? 1;
  const list = run.status?.shards ?? [];
  const lines = [headline(run, elapsed)];
  for (let i = 1; i <= shards; i++) lines.push(shardLine(list.find((s) => s.index === i), i, shards, true));
  return lines;
}

/**
 * For output that is not a terminal: the headline and each shard's line, by
 * slot; `printed` holds what was printed last, and only lines that changed
 * are returned (and recorded).
 */
export function plainUpdates(run: TestRunObject, printed: Map<string, string>): string[] {
  const shards = run.spec?.shards ?? 1;
  const list = run.status?.shards ?? [];
  const slots: [string, string][] = [['run', headline(run)]];
  for (let i = 1; i <= shards; i++) slots.push([`shard ${i}`, shardLine(list.find((s) => s.index === i), i, shards, false)]);
  const out: string[] = [];
  for (const [slot, line] of slots) {
    if (printed.get(slot) === line) continue;
    printed.set(slot, line);
    out.push(line);
  }
  return out;
}

/**
 * The summary when the run is over: counts, the projects the pool's browser
 * left out, the failed tests each shard named, where to look next.
 */
export function finalReport(run: TestRunObject): string[] {
  const status = run.status ?? {};
  const counts = countsOf(status.summary);
  const took = status.duration ? ` in ${status.duration}` : '';
  const lines = [`TestRun ${runName(run)} ${status.phase ?? 'ended'}${took}: ${countsText(counts)}`];
  if (status.source) lines.push(`Commit: ${status.source.commit} (${status.source.revision})`);
  const notRun = status.conditions?.find((c) => c.type === 'ProjectsNotRun' && c.status === 'True');
  if (notRun) lines.push(`Not run: ${notRun.message}`);
  const failed = (status.shards ?? []).filter((s) => s.phase === 'Failed' || s.phase === 'Error');
  const details = failed.flatMap((s) => (s.message ?? '').split('\n').filter(Boolean)
    .map((line) => `  shard ${s.index}: ${line}`));
  if (details.length > 0) lines.push(status.phase === 'Error' ? 'What went wrong:' : 'Failed:', ...details);
  const condition = status.conditions?.find((c) => c.type === (status.phase === 'Succeeded' ? 'Complete' : 'Failed'));
  if (condition?.reason === 'Timeout') lines.push(`  ${condition.message}`);
  if (status.phase !== 'Succeeded') {
    lines.push(`Runner logs: fleetwright logs ${run.metadata.name} -n ${run.metadata.namespace}`);
  }
  return lines;
}

/** A finished run whose shards uploaded reports, before the report store has published the merged one. */
export function awaitsReport(run: TestRunObject): boolean {
  return isFinished(run) && !run.status?.reportURL && (run.status?.shards ?? []).some((s) => s.report === 'Uploaded');
}

/** `service/<name>` and its namespace and port, when `url` is a Service's in-cluster address. */
export function inClusterService(url: URL): { service: string; namespace: string; port: string } | undefined {
  const match = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$/.exec(url.hostname);
  if (!match) return undefined;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return { service: match[1] as string, namespace: match[2] as string, port };
}

/**
 * Where the merged report is and how to open it: the namespace's read token
 * (REPORT_READER_SECRET), as `?token=` in a browser or a bearer token; a
 * port-forward when the URL is a Service's inside the cluster. After the
 * wait: why there is none. Nothing when the run had no report store.
 */
export function reportLines(run: TestRunObject): string[] {
  const status = run.status ?? {};
  const ns = run.metadata.namespace ?? '';
  const shards = status.shards ?? [];
  const notUploaded = shards.filter((s) => s.report === 'Failed').map((s) => s.index);
  const missing = notUploaded.length > 0
    ? [`  Not in it: shard(s) ${notUploaded.join(', ')}, whose report was not uploaded (see the shard's message above, ` +
      `or kubectl get testrun ${run.metadata.name} -n ${ns} -o yaml)`]
    : [];
  if (!status.reportURL) {
    if (awaitsReport(run)) {
      return [`The merged report is not ready yet; fleetwright status -n ${ns} shows its URL once it is.`];
    }
    return notUploaded.length > 0 ? ['No report: no shard\'s report was uploaded.', ...missing] : [];
  }
  const lines = [
    `Report: ${status.reportURL}`,
    ...missing,
    `  It opens with the read token of namespace ${ns}:`,
    `    kubectl get secret ${REPORT_READER_SECRET} -n ${ns} -o jsonpath='{.data.${REPORT_TOKEN_KEY}}' | base64 -d`,
    '  in a browser as ?token=<token> on the URL, or as the header Authorization: Bearer <token>.',
  ];
  let url: URL | undefined;
  try {
    url = new URL(status.reportURL);
  } catch {
    url = undefined;
  }
  const service = url && inClusterService(url);
  if (url && service) {
    lines.push(
      '  From outside the cluster:',
      `    kubectl port-forward -n ${service.namespace} service/${service.service} ${REPORT_STORE_PORT}:${service.port}`,
      `    then http://localhost:${REPORT_STORE_PORT}${url.pathname}?token=<token>`,
    );
  }
  return lines;
}

/** 83 s -> 1m23s. */
export function elapsedSince(start: string | undefined, now: number): string | undefined {
  if (!start) return undefined;
  const s = Math.max(0, Math.round((now - Date.parse(start)) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
