// A shard's running counts while Playwright runs: the fleetwright reporter
// keeps them in the file FLEETWRIGHT_PROGRESS_FILE names, `fleetwright
// runner` serves that file on its progress port, and the TestRun controller
// polls it into status.shards[].progress. The shard's summary
// (shard-summary.ts) stays the one result; these are only a view of the way
// there.
import { z } from 'zod';

/** The runner's environment: serve the running counts on this port (the controller sets PROGRESS_PORT). */
export const PROGRESS_PORT_ENV = 'FLEETWRIGHT_PROGRESS_PORT';
/** The reporter's environment, set by the runner: keep the running counts in this file. */
export const PROGRESS_FILE_ENV = 'FLEETWRIGHT_PROGRESS_FILE';
/** The name of PROGRESS_PORT (ports.ts) in the runner pod's container ports. */
export const PROGRESS_PORT_NAME = 'progress';
export const PROGRESS_PATH = '/progress';

const count = z.int().min(0);

export const Progress = z.object({
  /** Tests whose outcome is settled (no retry left to change it), by outcome, as test.outcome() names them. */
  passed: count,
  failed: count,
  flaky: count,
  skipped: count,
  /** Tests of this shard; 0 until Playwright has loaded the suite. */
  total: count,
  /** Playwright has finished (onEnd). */
  done: z.boolean(),
});
export type Progress = z.infer<typeof Progress>;

export const emptyProgress = (): Progress => ({ passed: 0, failed: 0, flaky: 0, skipped: 0, total: 0, done: false });
