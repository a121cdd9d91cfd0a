// The reporter's side of a shard's running counts (contracts/progress.ts):
// it counts each test once its outcome is settled and keeps the counts in the
// file the runner serves.
import { renameSync, writeFileSync } from 'node:fs';
import { emptyProgress, type Progress } from '../contracts/progress.ts';

/** What the counter needs of a Playwright TestCase and TestResult. */
export interface TestLike {
  id: string;
  retries: number;
  expectedStatus: string;
  outcome(): 'skipped' | 'expected' | 'unexpected' | 'flaky';
}
export interface ResultLike {
  status: string;
  retry: number;
}

const OUTCOME = { expected: 'passed', unexpected: 'failed', flaky: 'flaky', skipped: 'skipped' } as const;

/**
 * Counts each test once, when its last result is in: it ended as expected,
 * was skipped or interrupted, or has no retry left. A test that fails and
 * will be retried is not counted yet, so that the counts only grow and end
 * equal to the summary's (which counts test.outcome() the same way).
 */
export class ProgressCounter {
  private readonly outcomes = new Map<string, keyof typeof OUTCOME>();
  private readonly counts = emptyProgress();

  begin(total: number): void {
    this.counts.total = total;
  }

  /** Returns whether the counts changed. */
  testEnd(test: TestLike, result: ResultLike): boolean {
    const settled = result.status === test.expectedStatus || result.status === 'skipped' ||
      result.status === 'interrupted' || result.retry >= test.retries;
    if (!settled) return false;
    const outcome = test.outcome();
    const before = this.outcomes.get(test.id);
    if (before === outcome) return false;
    if (before) this.counts[OUTCOME[before]] -= 1;
    this.outcomes.set(test.id, outcome);
    this.counts[OUTCOME[outcome]] += 1;
    return true;
  }

  end(): void {
    this.counts.done = true;
  }

  get value(): Progress {
    return { ...this.counts };
  }
}

/** Replaces the file in one rename, so that a reader never sees half of it. */
export function writeProgressFile(path: string, progress: Progress): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, JSON.stringify(progress));
  renameSync(partial, path);
}
