// What the TestRun controller tells a runner pod beyond Playwright's own
// variables, declared once for both sides. The report store's variables are
// in report-store.ts, the progress port's in progress.ts, a git source's in
// git-source.ts, the termination message's in termination.ts.

/** The suite's folder. */
export const SOURCE_DIR_ENV = 'FLEETWRIGHT_SOURCE_DIR';
/** Where the controller mounts a ConfigMap source, and where the runner looks when SOURCE_DIR_ENV is unset. */
export const DEFAULT_SOURCE_DIR = '/source';
/** A writable folder for the runner's copy of the suite; unset: the OS temp dir. */
export const WORK_DIR_ENV = 'FLEETWRIGHT_WORK_DIR';
/** The browser engine of the pool the shard's browser comes from: chromium, firefox or webkit. */
export const POOL_BROWSER_ENV = 'FLEETWRIGHT_POOL_BROWSER';
/** Clients the shard's browser serves at once (the pool's sessionsPerBrowser): the most Playwright workers it takes. */
export const POOL_SESSIONS_ENV = 'FLEETWRIGHT_POOL_SESSIONS';
/** Set by the runner for its project-listing reporter: where to write what `playwright test --list` resolved. */
export const PROJECT_LIST_FILE_ENV = 'FLEETWRIGHT_PROJECT_LIST_FILE';
