import type { IncomingHttpHeaders } from 'node:http';
import { clientVersion, majorMinor, requestedBrowser } from '../contracts/playwright-client.ts';
import { AGENT_CDP_SUFFIX, type AgentConfig } from '../contracts/agent.ts';
import { debuggingPortArg } from './debugging-port.ts';
import { type SessionIdentity, sessionIdentity } from './session-identity.ts';

/**
 * warm: the default version's pre-launched browser; fresh: one its version's
 * run-server launches for the client; cdp: one started for a CDP session.
 */
export type Mode = 'warm' | 'fresh' | 'cdp';

/** What the agent serves, as routing needs it. */
export interface Served {
  /** Full Playwright versions, one per major.minor, the default (served warm) first. */
  versions: readonly string[];
  /**
   * The Chromium a version other than the default launches when the pod
   * names none (FLEETWRIGHT_CHROMIUM_PATH): the default's own build, the one
   * Playwright's image holds. Each version would look for its own build.
   */
  defaultChromium?: string;
}

/** What the agent does with one WebSocket upgrade. */
export type Route =
  | { action: 'reject'; status: 400 | 404 | 428 | 503; reason: string } |
  {
    action: 'proxy';
    mode: Mode;
    version: string;
    headers: Record<string, string>;
    /** The Tunnel session, when the gateway named one. */
    session?: SessionIdentity;
    /** Set when the agent observes the session's browser (to record it and serve it live): the session. */
    observed?: SessionIdentity;
  };

/** Chromium flags for a browser in a pod: no GPU, and /dev/shm is only 64 MB there. */
const CHROMIUM_ARGS = ['--disable-gpu', '--disable-dev-shm-usage'];

/**
 * How the agent launches every browser, warm or fresh, of any version;
 * nothing a client sends changes it. `fallbackChromium` is the binary when
 * the pod names none (Served.defaultChromium, for versions other than the default).
 */
export function launchOptions(config: AgentConfig, fallbackChromium?: string) {
  const browserArgs = config.FLEETWRIGHT_BROWSER === 'chromium' ? CHROMIUM_ARGS : [];
  const chromium = config.FLEETWRIGHT_CHROMIUM_PATH ?? fallbackChromium;
  return {
    headless: true,
    args: [...browserArgs, ...config.FLEETWRIGHT_LAUNCH_ARGS],
    ...(config.FLEETWRIGHT_BROWSER === 'chromium' && chromium ? { executablePath: chromium } : {}),
  };
}

/** The 428 answer to a client of `version` (major.minor), naming every version served. */
export function versionMismatch(version: string, served: readonly string[]): string {
  return `Playwright version mismatch: this browser pod serves Playwright ${served.map(majorMinor).join(', ')}; ` +
    `your client is ${version}. Use a client of a served major.minor version.`;
}

/**
 * Routes one upgrade. The client's Playwright major.minor (its User-Agent,
 * which the gateway forwards) picks the version that serves it; one that sends
 * none (not a Playwright client) gets the default, and one of a version not
 * served gets 428, since Playwright's server of another minor would refuse it
 * anyway. The default serves from the warm browser; another version from
 * its own run-server, which launches a browser per connection. A client that
 * asks for exposeNetwork (a non-empty x-playwright-proxy header or ?proxy=)
 * gets a browser launched for it by its version's run-server, with
 * Playwright's SOCKS tunnel back to the client, which a pre-launched browser
 * cannot give. A client that names another browser than this pod's is
 * refused: a "firefox" test that ran on Chromium would pass falsely. The
 * launch options and proxy are always the agent's: they are rewritten here,
 * and the query parameters run-server would also read are dropped by the caller.
 *
 * A Tunnel session (session-identity.ts) on a Chromium pod is observed, to be
 * recorded and watched live, on a browser of its own. A warm browser shared
 * by several sessions (FLEETWRIGHT_SESSIONS > 1) cannot tell whose page is
 * whose: there a session that records gets the default version's run-server
 * instead, and one that does not keeps the warm browser, unobserved (no live
 * view: being warm matters more to most sessions than being watchable).
 * Sessions without an id (TestRun runners) are never observed.
 */
export function route(
  url: string,
  headers: IncomingHttpHeaders,
  config: AgentConfig,
  served: Served,
  active: number,
  draining: boolean,
): Route {
  const parsed = new URL(url, 'http://agent');
  const identity = sessionIdentity(headers);
  if (!identity.ok) return { action: 'reject', status: 400, reason: identity.reason };
  const session = identity.session ? { session: identity.session } : {};
  const observable = identity.session && config.FLEETWRIGHT_BROWSER === 'chromium' ? { observed: identity.session } : {};
  if (parsed.pathname === `${config.FLEETWRIGHT_WS_PATH}${AGENT_CDP_SUFFIX}`) {
    const decision = cdpRoute(config, active, draining);
    return decision.action === 'proxy' ? { ...decision, ...session, ...observable } : decision;
  }
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
  const [defaultVersion] = served.versions;
  const wanted = clientVersion(headers['user-agent']);
  const version = wanted === undefined ? defaultVersion : served.versions.find((v) => majorMinor(v) === wanted);
  if (version === undefined || defaultVersion === undefined) {
    return { action: 'reject', status: 428, reason: versionMismatch(wanted ?? 'unknown', served.versions) };
  }
  const busy = refusal(config, active, draining);
  if (busy) return busy;
  const proxy = first(headers['x-playwright-proxy']) || parsed.searchParams.get('proxy') || '';
  const isDefault = version === defaultVersion;
  const sharedWarm = config.FLEETWRIGHT_SESSIONS > 1;
  if (isDefault && !proxy && !(sharedWarm && observable.observed?.recording)) {
    return { action: 'proxy', mode: 'warm', version, headers: {}, ...session, ...(sharedWarm ? {} : observable) };
  }
  return {
    action: 'proxy',
    mode: 'fresh',
    version,
    ...session,
    ...observable,
    headers: {
      'x-playwright-browser': config.FLEETWRIGHT_BROWSER,
      'x-playwright-launch-options': JSON.stringify(launchOptions(config, isDefault ? undefined : served.defaultChromium)),
      ...(proxy ? { 'x-playwright-proxy': proxy } : {}),
    },
  };
}

/**
 * The fresh route's launch options with a DevTools port the agent observes the
 * run-server's browser on (debugging-port.ts).
 */
export function withDebuggingPort(headers: Record<string, string>, port: number): Record<string, string> {
  const options = JSON.parse(headers['x-playwright-launch-options'] ?? '{}') as { args?: string[] };
  const args = [...(options.args ?? []), debuggingPortArg(port)];
  return { ...headers, 'x-playwright-launch-options': JSON.stringify({ ...options, args }) };
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
  return refusal(config, active, draining) ?? { action: 'proxy', mode: 'cdp', version: 'cdp', headers: {} };
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
 * browser and Playwright versions serve here (the default, and every one), for
 * a client that asks (through the gateway) before it connects; anything else
 * is for WebSocket clients only.
 */
export function answerPlain(
  method: string | undefined,
  url: string,
  about: { browser: string; playwright: string; playwrightVersions: readonly string[] },
): PlainAnswer {
  if (method === 'GET' && new URL(url, 'http://agent').pathname === '/json/version') {
    return {
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        Browser: about.browser,
        Playwright: about.playwright,
        PlaywrightVersions: about.playwrightVersions,
      }),
    };
  }
  return { status: 404, contentType: 'text/plain', body: 'connect with a Playwright client over WebSocket\n' };
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
