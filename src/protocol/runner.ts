// What the TestRun controller tells a runner pod beyond Playwright's own
// variables, declared once for both sides.

/** The browser engine of the pool the shard's browser comes from: chromium, firefox or webkit. */
export const POOL_BROWSER_ENV = 'FLEETWRIGHT_POOL_BROWSER';
/** Clients the shard's browser serves at once (the pool's sessionsPerBrowser): the most Playwright workers it takes. */
export const POOL_SESSIONS_ENV = 'FLEETWRIGHT_POOL_SESSIONS';
