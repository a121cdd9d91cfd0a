// Pure decisions of the gateway: which Tunnel a request is for, whether its
// token is right, and which pool of the Tunnel serves the client's Playwright
// version.
import type { IncomingHttpHeaders } from 'node:http';
import { type Tunnel, tunnelPath } from '../api/v1alpha1/index.ts';
import { majorMinor } from '../contracts/playwright-client.ts';

const created = (t: Tunnel) => new Date(t.metadata.creationTimestamp ?? 0).getTime();

/** Tunnels by the path they are served at; of two with one path, the older keeps it (as the controller reports). */
export function tunnelsByPath(tunnels: readonly Tunnel[]): Map<string, Tunnel> {
  const byAge = [...tunnels].sort(
    (a, b) =>
      created(a) - created(b) ||
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
  const byPath = new Map<string, Tunnel>();
  for (const tunnel of byAge) {
    const path = tunnelPath(tunnel);
    if (!byPath.has(path)) byPath.set(path, tunnel);
  }
  return byPath;
}

/**
 * The Tunnel served at `pathname` or under it, and the rest of the path (what
 * the browser agent sees). The longest matching Tunnel path wins.
 */
export function matchTunnel(
  pathname: string,
  byPath: ReadonlyMap<string, Tunnel>,
): { tunnel: Tunnel; rest: string } | undefined {
  for (let prefix = pathname.replace(/\/+$/, ''); prefix.length > 0; prefix = prefix.slice(0, prefix.lastIndexOf('/'))) {
    const tunnel = byPath.get(prefix);
    if (tunnel) return { tunnel, rest: pathname.slice(prefix.length) || '/' };
  }
  return undefined;
}

/** The bearer token of `Authorization`, else `?token=`; undefined when the client sent none. */
export function tokenOf(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1] ?? (url.searchParams.get('token') || undefined);
}

/** The client asks the browser to reach its own network through the connection (connectOptions.exposeNetwork). */
export function wantsExposeNetwork(headers: IncomingHttpHeaders, url: URL): boolean {
  const header = headers['x-playwright-proxy'];
  return Boolean((Array.isArray(header) ? header[0] : header) || url.searchParams.get('proxy'));
}

/** A pool of a Tunnel as the gateway sees it: `versions` (full, the default first) is empty until it reports them. */
export interface PoolChoice {
  name: string;
  exists: boolean;
  browser: string;
  versions: readonly string[];
}

/** What a client says about itself: its Playwright major.minor and the browser it asks for, when it says. */
export interface ClientWants {
  version?: string;
  browser?: string;
}

export type PoolDecision =
  | { ok: true; pool: string } |
  { ok: false; status: 400 | 428 | 503; reason: string };

/** The major.minor versions a pool serves, its default first, each once. */
const minorsOf = (pool: PoolChoice) => [...new Set(pool.versions.map(majorMinor))];

/**
 * The pool that serves a client: of the Tunnel's pools of the browser it asks
 * for, the first whose default Playwright version has the client's major.minor
 * `version` (its browsers wait warm), else the first that serves that version
 * at all (a browser its version's server launches for the client). A client
 * that names no browser or sends no version (not a Playwright client, or one
 * that hides it) is not matched on that. No pool of its browser: 400, since
 * another browser would make its results false.
 */
export function choosePool(pools: readonly PoolChoice[], client: ClientWants): PoolDecision {
  const existing = pools.filter((p) => p.exists);
  if (existing.length === 0) return noPoolExists(pools);
  const { version, browser } = client;
  const ofBrowser = browser === undefined ? existing : existing.filter((p) => p.browser === browser);
  if (ofBrowser.length === 0) {
    const list = browsersOf(existing);
    return {
      ok: false,
      status: 400,
      reason: `browser mismatch: this Tunnel serves ${list}; your client asked for ${browser}. ` +
        `Connect with the browser type of a served pool, or add a pool of ${browser} to the Tunnel.`,
    };
  }
  if (version === undefined) return { ok: true, pool: (ofBrowser[0] as PoolChoice).name };
  const match = ofBrowser.find((p) => minorsOf(p)[0] === version) ??
    ofBrowser.find((p) => minorsOf(p).includes(version));
  if (match) return { ok: true, pool: match.name };
  const served = ofBrowser.filter((p) => p.versions.length > 0);
  if (served.length === 0) {
    return { ok: false, status: 503, reason: 'no pool of this Tunnel has reported its Playwright version yet' };
  }
  const list = served.map((p) => `${minorsOf(p).join('/')} (pool ${p.name})`).join(', ');
  return {
    ok: false,
    status: 428,
    reason: `Playwright version mismatch: this Tunnel serves Playwright ${list}; your client is ${version}. ` +
      'Use a client of a served major.minor version, or add a pool of yours to the Tunnel.',
  };
}

/** Under a Tunnel's path, where Chrome DevTools Protocol clients connect. */
export const CDP_PATH = '/cdp';

/**
 * What a request under the Tunnel's path asks of its CDP endpoint: `socket`
 * for the WebSocket (…/cdp), `version` for the discovery document Chromium
 * serves at /json/version (connectOverCDP asks …/cdp/json/version/), `other`
 * for the rest of Chromium's /json API, which a pooled browser cannot answer
 * before it is leased; undefined for a path outside …/cdp.
 */
export function cdpTarget(rest: string): 'socket' | 'version' | 'other' | undefined {
  const path = rest.replace(/\/+$/, '');
  if (path === CDP_PATH) return 'socket';
  if (path === `${CDP_PATH}/json/version`) return 'version';
  return path.startsWith(`${CDP_PATH}/`) ? 'other' : undefined;
}

/** A Tunnel none of whose pools exists yet: the client may come back. */
const noPoolExists = (pools: readonly PoolChoice[]): PoolDecision =>
  ({ ok: false, status: 503, reason: `none of this Tunnel's pools exists (${pools.map((p) => p.name).join(', ')})` });

/** `chromium (pool a), firefox (pool b)`: the browsers of a refusal's message. */
const browsersOf = (pools: readonly PoolChoice[]) => pools.map((p) => `${p.browser} (pool ${p.name})`).join(', ');

/**
 * The pool that serves a CDP client: the Tunnel's first Chromium pool, of any
 * Playwright version (CDP does not depend on it). 404 when the Tunnel has no
 * Chromium pool: Firefox and WebKit do not speak CDP.
 */
export function chooseCdpPool(pools: readonly PoolChoice[]): PoolDecision | { ok: false; status: 404; reason: string } {
  const existing = pools.filter((p) => p.exists);
  const chromium = existing.find((p) => p.browser === 'chromium');
  if (chromium) return { ok: true, pool: chromium.name };
  if (existing.length === 0) return noPoolExists(pools);
  const list = browsersOf(existing);
  return {
    ok: false,
    status: 404,
    reason: `no CDP endpoint: the Chrome DevTools Protocol is served by Chromium pools only, and this Tunnel serves ${list}. ` +
      'Connect with Playwright\'s protocol (browserType.connect()), or add a Chromium pool to the Tunnel.',
  };
}

/**
 * The discovery document of a Tunnel's CDP endpoint, shaped as Chromium's
 * /json/version: clients read webSocketDebuggerUrl and connect there. It
 * leads back through the gateway to `base` (the scheme and host the client
 * used, and the Tunnel's CDP path); a token the client sent in the query goes
 * back in the URL, one sent in a header stays out of it (such clients send
 * their headers again).
 */
export function cdpVersionDocument(base: URL, queryToken: string | undefined): Record<string, string> {
  const ws = new URL(base);
  if (queryToken !== undefined) ws.searchParams.set('token', queryToken);
  return {
    'Browser': 'Chrome',
    'Protocol-Version': '1.3',
    'webSocketDebuggerUrl': ws.toString(),
  };
}

/**
 * The request target as a URL, when it is a path (origin-form, RFC 9112
 * 3.2.1); undefined for an absolute URL, `*`, or one that does not parse: the
 * gateway is no proxy, so those get 400.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  if (!target?.startsWith('/')) return undefined;
  return URL.parse(`http://gateway${target}`) ?? undefined;
}

/**
 * What is wrong with a WebSocket handshake (RFC 6455 4.2.1), checked before a
 * browser is leased for it: 405 for a method other than GET, 400 for a bad Upgrade or Sec-WebSocket-Key, 426
 * (with the version to use) for a Sec-WebSocket-Version other than 13.
 */
export function handshakeProblem(
  method: string | undefined,
  headers: IncomingHttpHeaders,
): { status: 400 | 405 | 426; reason: string; headers?: Record<string, string> } | undefined {
  if (method !== 'GET') return { status: 405, reason: 'a WebSocket upgrade must be a GET', headers: { allow: 'GET' } };
  if (headers.upgrade?.toLowerCase() !== 'websocket') {
    return { status: 400, reason: 'only WebSocket upgrades are served: send Upgrade: websocket' };
  }
  const key = headers['sec-websocket-key'];
  if (!key || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return { status: 400, reason: 'send Sec-WebSocket-Key: 16 random bytes in base64' };
  }
  if (headers['sec-websocket-version'] !== '13') {
    return { status: 426, reason: 'send Sec-WebSocket-Version: 13', headers: { 'sec-websocket-version': '13' } };
  }
  return undefined;
}
