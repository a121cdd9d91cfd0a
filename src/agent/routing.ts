import type { IncomingHttpHeaders } from 'node:http';
import { requestedBrowser } from '../contracts/playwright-client.ts';
import { AGENT_CDP_SUFFIX, type AgentConfig } from '../contracts/agent.ts';

/** warm: the pre-launched browser; fresh: one run-server launches for a client; cdp: one started for a CDP session. */
export type Mode = 'warm' | 'fresh' | 'cdp';

/** What the agent does with one WebSocket upgrade. */
export type Route =
  | { action: 'reject'; status: 400 | 404 | 503; reason: string } |
  { action: 'proxy'; mode: Mode; headers: Record<string, string> };

/** Chromium flags for a browser in a pod: no GPU, and /dev/shm is only 64 MB there. */
const CHROMIUM_ARGS = ['--disable-gpu', '--disable-dev-shm-usage'];

/** How the agent launches every browser, warm or fresh; nothing a client sends changes it. */
export function launchOptions(config: AgentConfig) {
  const browserArgs = config.FLEETWRIGHT_BROWSER === 'chromium' ? CHROMIUM_ARGS : [];
  return {
    headless: true,
    args: [...browserArgs, ...config.FLEETWRIGHT_LAUNCH_ARGS],
    ...(config.FLEETWRIGHT_BROWSER === 'chromium' && config.FLEETWRIGHT_CHROMIUM_PATH
      ? { executablePath: config.FLEETWRIGHT_CHROMIUM_PATH }
      : {}),
  };
}

/**
 * Routes one upgrade. A client that asks for exposeNetwork (a non-empty
 * x-playwright-proxy header or ?proxy=) gets a browser launched for it with
 * Playwright's SOCKS tunnel back to the client, which a pre-launched browser
 * cannot give; everyone else gets the warm browser. A client that names
 * another browser than this pod's is refused: a "firefox" test that ran on
 * Chromium would pass falsely. The launch options and proxy are always the
 * agent's: they are rewritten here, and the query parameters run-server would
 * also read are dropped by the caller.
 */
export function route(
  url: string,
  headers: IncomingHttpHeaders,
  config: AgentConfig,
  active: number,
  draining: boolean,
): Route {
  const parsed = new URL(url, 'http://agent');
  if (parsed.pathname === `${config.FLEETWRIGHT_WS_PATH}${AGENT_CDP_SUFFIX}`) return cdpRoute(config, active, draining);
  if (parsed.pathname !== config.FLEETWRIGHT_WS_PATH) {
    return { action: 'reject', status: 404, reason: 'no Playwright endpoint at this path' };
  }
  const asked = requestedBrowser(headers, parsed);
  if (asked !== undefined && asked !== config.FLEETWRIGHT_BROWSER) {
    return {
      action: 'reject',
      status: 400,
      reason: `this browser pod serves ${config.FLEETWRIGHT_BROWSER}; your client asked for ${asked}: ` +
        `connect with ${config.FLEETWRIGHT_BROWSER}.connect(), or to a pool of ${asked}`,
    };
  }
  const busy = refusal(config, active, draining);
  if (busy) return busy;
  const proxy = first(headers['x-playwright-proxy']) || parsed.searchParams.get('proxy') || '';
  if (!proxy) return { action: 'proxy', mode: 'warm', headers: {} };
  return {
    action: 'proxy',
    mode: 'fresh',
    headers: {
      'x-playwright-browser': config.FLEETWRIGHT_BROWSER,
      'x-playwright-launch-options': JSON.stringify(launchOptions(config)),
      'x-playwright-proxy': proxy,
    },
  };
}

/** A Chrome DevTools Protocol session: only a Chromium pod serves one. */
function cdpRoute(config: AgentConfig, active: number, draining: boolean): Route {
  if (config.FLEETWRIGHT_BROWSER !== 'chromium') {
    return {
      action: 'reject',
      status: 404,
      reason: `this browser pod serves ${config.FLEETWRIGHT_BROWSER}: the Chrome DevTools Protocol is served by Chromium pools only`,
    };
  }
  return refusal(config, active, draining) ?? { action: 'proxy', mode: 'cdp', headers: {} };
}

/** Why the pod takes no session now: it is shutting down, or all its sessions are in use. */
function refusal(config: AgentConfig, active: number, draining: boolean): Route | undefined {
  if (draining) return { action: 'reject', status: 503, reason: 'browser pod is shutting down' };
  if (active >= config.FLEETWRIGHT_SESSIONS) {
    return { action: 'reject', status: 503, reason: `browser busy: ${active} of ${config.FLEETWRIGHT_SESSIONS} sessions in use` };
  }
  return undefined;
}

/** A plain HTTP answer of the endpoint. */
export interface PlainAnswer {
  status: 200 | 404;
  contentType: string;
  body: string;
}

/**
 * Answers a plain HTTP request on the endpoint. GET /json/version says which
 * browser and Playwright version serve here, for a client that asks (through
 * the gateway) before it connects; anything else is for WebSocket clients only.
 */
export function answerPlain(
  method: string | undefined,
  url: string,
  about: { browser: string; playwright: string },
): PlainAnswer {
  if (method === 'GET' && new URL(url, 'http://agent').pathname === '/json/version') {
    return {
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ Browser: about.browser, Playwright: about.playwright }),
    };
  }
  return { status: 404, contentType: 'text/plain', body: 'connect with a Playwright client over WebSocket\n' };
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
