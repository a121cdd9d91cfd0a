// The shard summary: what the fleetwright reporter writes to the runner
// container's termination message and the TestRun controller reads back from
// status.containerStatuses[].state.terminated.message.
import { z } from 'zod';
import { TERMINATION_MESSAGE_MAX_BYTES } from './termination.ts';

const count = z.int().min(0);

export const FailedTest = z.object({
  /** Title path as Playwright prints it: project › file › describe… › test. */
  title: z.string(),
  /** First line of the test's first error, without terminal colours. */
  error: z.string(),
});

export const ProjectNotRun = z.object({
  name: z.string(),
  /** The project's browser, which the pool does not serve. */
  browser: z.string(),
});

export const ShardSummary = z.object({
  passed: count,
  failed: count,
  flaky: count,
  skipped: count,
  durationMs: z.number().min(0),
  /** Playwright's overall result (FullResult.status). */
  status: z.enum(['passed', 'failed', 'timedout', 'interrupted']),
  /** The first failed tests, in suite order; `truncated` counts the failed tests left out. */
  failures: z.array(FailedTest).default([]),
  truncated: count.default(0),
  /** Errors outside any test (webServer failed to start, no tests found…), first lines only. */
  errors: z.array(z.string()).default([]),
  /**
   * Whether the runner uploaded the shard's blob report to the report store,
   * set by the runner after Playwright exits; unset when it was not asked to.
   */
  report: z.enum(['uploaded', 'failed']).optional(),
  /** Why the upload failed, in one short line (the store's answer or the network error). */
  reportError: z.string().optional(),
  /**
   * Set by the runner when Playwright failed and its browser no longer answered afterwards: what the browser
   * did instead. The failures are then the browser's loss, not the suite's, and the shard is retried.
   */
  browserLost: z.string().optional(),
  /** Projects of the suite the runner left out because their browser is not the pool's; set by the runner. */
  projectsNotRun: z.array(ProjectNotRun).optional(),
});

export type FailedTest = z.infer<typeof FailedTest>;
export type ProjectNotRun = z.infer<typeof ProjectNotRun>;
export type ShardSummary = z.infer<typeof ShardSummary>;

export interface FitOptions {
  maxBytes?: number;
  maxFailures?: number;
  maxErrors?: number;
  maxProjects?: number;
  /** Longest title and error text kept, in code points. */
  maxText?: number;
}

/** Cuts text to at most `max` code points, never inside a surrogate pair, and marks the cut. */
export function clip(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, Math.max(0, max - 1)).join('')}…`;
}

function bytes(summary: ShardSummary): number {
  return Buffer.byteLength(JSON.stringify(summary), 'utf8');
}

/**
 * The summary as it may be written: at most `maxBytes` of UTF-8 JSON. The
 * counts are always kept; failures, errors and projects not run are cut to
 * `maxFailures`, `maxErrors` and `maxProjects` entries of `maxText` code
 * points each, then failures, and then errors, are dropped from the end until
 * the JSON fits (10 projects of 200 code points take under 5 KiB only in
 * theory; names are short). Every failed test
 * left out is added to `truncated`. (The counts alone take under 200 bytes.)
 */
export function fitSummary(summary: ShardSummary, options: FitOptions = {}): ShardSummary {
  const { maxBytes = TERMINATION_MESSAGE_MAX_BYTES, maxFailures = 20, maxErrors = 3, maxText = 200 } = options;
  const { maxProjects = 10 } = options;
  const failures = summary.failures
    .slice(0, maxFailures)
    .map((f) => ({ title: clip(f.title, maxText), error: clip(f.error, maxText) }));
  const fitted = {
    ...summary,
    failures,
    truncated: summary.truncated + summary.failures.length - failures.length,
    errors: summary.errors.slice(0, maxErrors).map((e) => clip(e, maxText)),
    ...(summary.projectsNotRun
      ? {
          projectsNotRun: summary.projectsNotRun
            .slice(0, maxProjects)
            .map((p) => ({ name: clip(p.name, maxText), browser: clip(p.browser, maxText) })),
        }
      : {}),
    ...(summary.reportError !== undefined ? { reportError: clip(summary.reportError, maxText) } : {}),
    ...(summary.browserLost !== undefined ? { browserLost: clip(summary.browserLost, maxText) } : {}),
  };
  while (fitted.failures.length > 0 && bytes(fitted) > maxBytes) {
    fitted.failures.pop();
    fitted.truncated += 1;
  }
  while (fitted.errors.length > 0 && bytes(fitted) > maxBytes) fitted.errors.pop();
  return fitted;
}

export type ParsedSummary = { ok: true; value: ShardSummary } | { ok: false; message: string };

/** Reads a runner's termination message; the message says what went wrong and where to look. */
export function parseShardSummary(text: string | undefined): ParsedSummary {
  if (!text?.trim()) {
    return {
      ok: false,
      message: 'the runner left no test summary: it stopped before Playwright finished (see the runner pod\'s log)',
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      ok: false,
      message: `the runner's termination message is not a test summary (not JSON): ${clip(text.trim(), 120)}`,
    };
  }
  const parsed = ShardSummary.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return {
      ok: false,
      message: `the runner's termination message is not a fleetwright test summary (${issues}): ` +
        'is the runner image at the operator\'s version?',
    };
  }
  return { ok: true, value: parsed.data };
}
