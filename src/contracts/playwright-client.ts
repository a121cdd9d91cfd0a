// What a Playwright client says about itself when it connects over WebSocket,
// read the same way by the gateway (to choose a pool) and by the browser agent
// (to refuse what it cannot serve).
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
