// `fleetwright/reporter`: a Playwright reporter that writes the shard summary
// (summary.ts) to the container's termination message file when the run
// ends, where the kubelet picks it up for the pod status; while the run goes
// on, it keeps the shard's running counts (progress.ts) in the file
// FLEETWRIGHT_PROGRESS_FILE names, which the runner serves. `fleetwright
// runner` adds it on top of the reporters the suite configures.
import { writeFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import type { FullResult, Reporter, Suite, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import { PROGRESS_FILE_ENV } from '../contracts/progress.ts';
import { fitSummary, type ShardSummary } from '../contracts/shard-summary.ts';
import { TERMINATION_LOG_ENV, terminationLogOf } from '../contracts/termination.ts';
import { ProgressCounter, writeProgressFile } from './progress.ts';

export { fitSummary, parseShardSummary, ShardSummary } from '../contracts/shard-summary.ts';

export { DEFAULT_TERMINATION_LOG } from '../contracts/termination.ts';

/** First non-empty line of an error, without the colours Playwright's expect messages carry. */
export function firstLine(error: TestError | undefined): string {
  const text = stripVTControlCharacters(error?.message ?? error?.value ?? '');
  return text.split('\n').map((line) => line.trim()).find(Boolean) ?? '';
}

/** project › file:line › describe… › title, as Playwright's list reporter names a test. */
function title(test: TestCase): string {
  const [, project, file, ...rest] = test.titlePath();
  return [project, file && `${file}:${test.location.line}`, ...rest].filter(Boolean).join(' › ');
}

/**
 * Counts each test once by its outcome over all its attempts, as Playwright's
 * own summary does: expected → passed, unexpected → failed, flaky, skipped.
 */
export function summarize(tests: TestCase[], result: FullResult, errors: TestError[]): ShardSummary {
  const summary: ShardSummary = {
    passed: 0,
    failed: 0,
    flaky: 0,
    skipped: 0,
    durationMs: Math.round(result.duration),
    status: result.status,
    failures: [],
    truncated: 0,
    errors: errors.map(firstLine).filter(Boolean),
  };
  for (const test of tests) {
    const outcome = test.outcome();
    if (outcome === 'expected') summary.passed += 1;
    else if (outcome === 'flaky') summary.flaky += 1;
    else if (outcome === 'skipped') summary.skipped += 1;
    else {
      summary.failed += 1;
      const last = test.results.at(-1);
      const error = firstLine(last?.error) || `${last?.status ?? 'did not run'} (expected ${test.expectedStatus})`;
      summary.failures.push({ title: title(test), error });
    }
  }
  return summary;
}

export default class FleetwrightReporter implements Reporter {
  private suite: Suite | undefined;
  private readonly errors: TestError[] = [];
  private readonly progress = new ProgressCounter();
  private progressFile = process.env[PROGRESS_FILE_ENV] || undefined;

  // Playwright adds a line reporter of its own when no reporter prints.
  printsToStdio(): boolean {
    return false;
  }

  onBegin(_config: unknown, suite: Suite): void {
    this.suite = suite;
    this.progress.begin(suite.allTests().length);
    this.writeProgress();
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    if (this.progress.testEnd(test, result)) this.writeProgress();
  }

  onError(error: TestError): void {
    this.errors.push(error);
  }

  onEnd(result: FullResult): void {
    this.progress.end();
    this.writeProgress();
    const summary = fitSummary(summarize(this.suite?.allTests() ?? [], result, this.errors));
    const path = terminationLogOf(process.env);
    try {
      writeFileSync(path, JSON.stringify(summary));
    } catch (err) {
      // The run's result stands without the summary; the controller then falls back to the exit code.
      console.error(`fleetwright reporter: cannot write the test summary to ${path} ` +
        `(${err instanceof Error ? err.message : String(err)}): set ${TERMINATION_LOG_ENV} to a writable file`);
    }
  }

  /** Progress is a convenience: when it cannot be written, the run goes on without it. */
  private writeProgress(): void {
    if (!this.progressFile) return;
    try {
      writeProgressFile(this.progressFile, this.progress.value);
    } catch (err) {
      console.error(`fleetwright reporter: cannot write progress to ${this.progressFile} ` +
        `(${err instanceof Error ? err.message : String(err)}); the run goes on without live progress`);
      this.progressFile = undefined;
    }
  }
}
