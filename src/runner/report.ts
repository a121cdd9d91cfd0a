// The shard's Playwright report: the runner adds Playwright's blob reporter,
// uploads the zip it writes to the report store (upload.ts), and amends the
// shard summary the fleetwright reporter wrote with the outcome.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { fitSummary, parseShardSummary, type ShardSummary } from '../contracts/shard-summary.ts';
import { REPORT_TOKEN_FILE_ENV, REPORT_TOKEN_KEY, REPORT_UPLOAD_URL_ENV, REPORT_TOKEN_DIR } from '../contracts/report-store.ts';
import { type Deadline, uploadReport, type UploadOutcome } from './upload.ts';

/** The zip's name in the blob report's folder. */
export const BLOB_REPORT_NAME = 'report.zip';

export interface ReportUpload {
  url: string;
  tokenFile: string;
}

/** Where to upload, from the runner's environment; undefined when no upload is asked for. */
export function reportUploadOf(env: NodeJS.ProcessEnv): ReportUpload | undefined {
  const url = env[REPORT_UPLOAD_URL_ENV];
  if (!url) return undefined;
  return { url, tokenFile: env[REPORT_TOKEN_FILE_ENV] || join(REPORT_TOKEN_DIR, REPORT_TOKEN_KEY) };
}

/**
 * Playwright's environment for the blob reporter: the zip goes to
 * `dir`/report.zip. The variables apply to every blob reporter of the run,
 * so a suite that configures `blob` itself (as Playwright's sharding guide
 * has it on CI) does not get a second zip: Playwright runs reporters' onEnd
 * one after another, and each blob reporter empties the folder before it
 * writes, so one whole zip of the shard is left.
 */
export const blobReportEnv = (dir: string) => ({
  PLAYWRIGHT_BLOB_OUTPUT_DIR: dir,
  PLAYWRIGHT_BLOB_OUTPUT_NAME: BLOB_REPORT_NAME,
});

/**
 * Rewrites the summary at `path` with `change`, still within the termination
 * message's 4096 bytes. Returns false when there is no summary to amend
 * (Playwright stopped before the reporter wrote one).
 */
export function amendSummary(path: string, change: (summary: ShardSummary) => ShardSummary): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const parsed = parseShardSummary(text);
  if (!parsed.ok) return false;
  writeFileSync(path, JSON.stringify(fitSummary(change(parsed.value))));
  return true;
}

/** The upload's outcome in the summary. */
export function withUploadOutcome(summary: ShardSummary, outcome: UploadOutcome): ShardSummary {
  const amended: ShardSummary = { ...summary, report: outcome.ok ? 'uploaded' : 'failed' };
  delete amended.reportError;
  return outcome.ok ? amended : { ...amended, reportError: outcome.reason };
}

export interface ShardReportUpload extends ReportUpload {
  blobDir: string;
  deadline: Deadline;
  log: Logger;
  terminationLog: string;
}

/** Uploads the shard's blob report and records the outcome in its summary; never throws. */
export async function uploadShardReport(request: ShardReportUpload): Promise<UploadOutcome> {
  const { url, log } = request;
  const started = performance.now();
  const outcome = await uploadReport({
    file: join(request.blobDir, BLOB_REPORT_NAME),
    url,
    tokenFile: request.tokenFile,
    deadline: request.deadline,
    log,
  });
  const ms = Math.round(performance.now() - started);
  if (outcome.ok) log.info({ url, bytes: outcome.bytes, attempts: outcome.attempts, ms }, 'uploaded the shard\'s report');
  else log.warn({ url, attempts: outcome.attempts, ms, reason: outcome.reason }, 'could not upload the shard\'s report; its result stands');
  if (!amendSummary(request.terminationLog, (summary) => withUploadOutcome(summary, outcome))) {
    log.warn({ path: request.terminationLog }, 'no test summary to record the report upload in');
  }
  return outcome;
}
