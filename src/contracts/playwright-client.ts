// What a Playwright client says about itself when it connects over WebSocket,
// read the same way by the gateway (to choose a pool) and by the browser agent
// (to serve each client with a server of its own version, and to refuse
// what it cannot serve).
import type { IncomingHttpHeaders } from 'node:http';

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * The browser a Playwright client asks for: `browserType.connect()` sends its
 * type's name in x-playwright-browser, and run-server also reads ?browser=.
 * Undefined when the client names none (a client that is not Playwright's).
 */
export function requestedBrowser(headers: IncomingHttpHeaders, url: URL): string | undefined {
  return url.searchParams.get('browser') || first(headers['x-playwright-browser']) || undefined;
}

/**
 * `1.65` from a Playwright client's `User-Agent: Playwright/1.65.1 (…)` (a
 * pre-release too: `Playwright/1.66.0-alpha-…`), read as Playwright's own
 * server reads it to refuse another major.minor; undefined for other clients.
 */
export function clientVersion(userAgent: string | string[] | undefined): string | undefined {
  return /^Playwright\/(\d+\.\d+)\.\d+/.exec(first(userAgent) ?? '')?.[1];
}

/** `1.65` of `1.65.1` or `1.66.0-alpha-…`; undefined for anything else. */
export const majorMinor = (version: string | undefined): string | undefined => /^(\d+\.\d+)/.exec(version ?? '')?.[1];
