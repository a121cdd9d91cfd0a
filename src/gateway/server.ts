// The gateway's HTTP server: authenticates each client of a Tunnel, leases a
// browser of the right pool for it, and relays its WebSocket (or proxies its
// plain HTTP request) to that browser until either side is done.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import type { Tunnel } from '../api/v1alpha1/index.ts';
import { AGENT_CDP_SUFFIX } from '../contracts/agent.ts';
import {
  agentSessionPath,
  SESSION_ID_HEADER,
  SESSION_RECORDING_HEADER,
  SESSION_TUNNEL_HEADER,
  type SessionRecord,
  TAKEOVER_HEADER,
} from '../contracts/tunnel-session.ts';
import { connectionHolder } from '../contracts/gateway-heartbeat.ts';
import type { ObjectRef } from '../leasing/acquire.ts';
import { type BrowserLeaser, type LeasedBrowser, LeaseTimeoutError } from '../leasing/leaser.ts';
import { clientVersion, requestedBrowser } from '../contracts/playwright-client.ts';
import { answerRoute, servingProbes } from '../runtime/http.ts';
import { tokenMatches } from '../runtime/tokens.ts';
import { acceptClient, openUpstream, UpstreamRefused } from './handshake.ts';
import { authorizeLive, liveTarget } from './live.ts';
import { type ConnectionResult, type GatewayMetrics, tunnelLabels } from './metrics.ts';
import { CLOSE, relay } from './relay.ts';
import {
  CDP_PATH,
  cdpTarget,
  cdpVersionDocument,
  chooseCdpPool,
  choosePool,
  handshakeProblem,
  matchTunnel,
  type PoolChoice,
  requestUrl,
  tokenOf,
  wantsExposeNetwork,
} from './routing.ts';
import { endedRecord, recordingOrder, type SessionReports } from './sessions.ts';

export interface GatewayLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxMessageBytes: number;
  /** A client must send its request headers within this time. */
  headersTimeoutMs: number;
  /** The browser side of a connection must open within this time. */
  upstreamTimeoutMs: number;
}

/** What the server reads from the informer caches and the other replicas' reports. */
export interface GatewayState {
  tunnelsByPath(): ReadonlyMap<string, Tunnel>;
  /** The Tunnel's token, or undefined when its Secret or key is missing. */
  token(tunnel: Tunnel): string | undefined;
  /** The Tunnel's session token (its session records and recordings are stored with it), when its Secret exists. */
  sessionToken(tunnel: Tunnel): string | undefined;
  /** The namespace's report read token (live views take it), when its Secret exists. */
  readerToken(namespace: string): string | undefined;
  pools(tunnel: Tunnel): PoolChoice[];
  /** Connections of the Tunnel open on the other live gateway replicas, as they last reported. */
  activeElsewhere(tunnelKey: string): number;
  readonly ready: boolean;
}

export interface Counts {
  open(tunnel: string): void;
  close(tunnel: string): void;
  active(tunnel: string): number;
  readonly totalActive: number;
}

export interface GatewayDeps {
  state: GatewayState;
  leaser: BrowserLeaser;
  counts: Counts;
  /** Called whenever the counts change (the heartbeat reports them). */
  onCountsChanged: () => void;
  metrics: GatewayMetrics;
  sessions: SessionReports;
  replica: ObjectRef;
  /** This process, as its replica's heartbeat Lease names it; browser lease holders carry it. */
  identity: string;
  limits: GatewayLimits;
  log: Logger;
}

type OpenSession = { key: string; close: (code: number, reason: string) => void; done: Promise<unknown> };
type Rejection = { status: number; reason: string; result?: ConnectionResult; headers?: Record<string, string> };
/** The protocol a client speaks: Playwright's, at the Tunnel's path, or the Chrome DevTools Protocol, at …/cdp. */
type Protocol = 'playwright' | 'cdp';
type Admitted = {
  tunnel: Tunnel;
  key: string;
  labels: ReturnType<typeof tunnelLabels>;
  pool: string;
  protocol: Protocol;
  log: Logger;
};

/**
 * Headers of the client that the browser's Playwright server reads (the agent overrides the launch ones), and the
 * subprotocols it offers, of which the browser chooses; never Sec-WebSocket-Extensions (see handshake.ts).
 */
const FORWARDED_HEADERS = ['user-agent', 'x-playwright-browser', 'x-playwright-proxy', 'sec-websocket-protocol'];
/** A CDP client's headers that reach its browser: only the subprotocols it offers. */
const CDP_FORWARDED_HEADERS = ['sec-websocket-protocol'];
/** A refusal of the pool choice or of the browser agent, by its status: what the client asked for is not served. */
const MISMATCH_RESULTS: Partial<Record<number, ConnectionResult>> = { 400: 'browser_mismatch', 428: 'version_mismatch' };
const RETRY_AFTER_SECONDS = '5';
/** Why a connection's wait is aborted when its client disconnects first: nobody to answer. */
const CLIENT_GONE = new Error('the client went away');
const NOT_A_PATH: Rejection = { status: 400, reason: 'the request target must be a path starting with /' };

export class Gateway {
  readonly server: Server;
  private readonly deps: GatewayDeps;
  private readonly proxy = createProxyServer({ xfwd: false, changeOrigin: true });
  private readonly relays = new Set<OpenSession>();
  private readonly waiting = new Set<AbortController>();
  /** Connections from their lease to their give-back (withBrowser). */
  private readonly connections = new Set<Promise<void>>();
  private draining = false;
  /** /healthz and /readyz, beside the Tunnels: 503 while the caches sync and once draining. */
  private readonly probes = servingProbes(() => this.deps.state.ready, () => this.draining);

  constructor(deps: GatewayDeps) {
    this.deps = deps;
    this.server = createServer({
      maxHeaderSize: deps.limits.maxHeaderBytes,
      headersTimeout: deps.limits.headersTimeoutMs,
      requestTimeout: deps.limits.headersTimeoutMs * 3,
      connectionsCheckingInterval: 1_000,
    });
    this.server.on('request', (req, res) => void this.onRequest(req, res).catch((err) => this.internal(err, res)));
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      void this.onUpgrade(req, socket, head).catch((err) => this.internal(err, socket));
    });
    this.proxy.on('error', (err, _req, res) => {
      deps.log.warn({ err: err.message }, 'proxied request failed at the browser');
      if (!('writeHead' in res)) return;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('the browser did not answer\n');
    });
  }

  get activeSessions(): number {
    return this.deps.counts.totalActive;
  }

  /** Closes the Tunnel's sessions on this replica (the Tunnel was deleted). */
  closeTunnel(key: string, reason: string): void {
    for (const r of this.relays) if (r.key === key) r.close(CLOSE.policy, reason);
  }

  /**
   * Stops taking connections, refuses the waiting ones, lets open sessions
   * finish for up to `timeoutMs`, then closes the rest with 1001.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const waiter of this.waiting) waiter.abort(new Error('the gateway is shutting down'));
    const deadline = Date.now() + timeoutMs;
    while (this.relays.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const r of this.relays) r.close(CLOSE.goingAway, 'the gateway is shutting down: reconnect');
    await Promise.all([...this.relays].map((r) => r.done));
    this.server.closeAllConnections();
    await Promise.all(this.connections);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url);
    if (!url) return this.refuseRequest(res, NOT_A_PATH);
    if (answerRoute(this.probes, url.pathname, res, { logger: this.deps.log, what: 'health probes' })) return;
    const match = matchTunnel(url.pathname, this.deps.state.tunnelsByPath());
    const live = match && liveTarget(match.rest);
    if (live) return this.answerLive(req, res, url, match.tunnel, live);
    // Playwright's connect('http://…') asks <path>/json for the WebSocket path, without the client's headers.
    if (match && req.method === 'GET' && match.rest === '/json') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"wsEndpointPath":""}');
    }
    const cdp = match && cdpTarget(match.rest);
    if (cdp) return this.answerCdp(req, res, url, match, cdp);
    if (req.headers['transfer-encoding']) {
      return this.refuseRequest(res, { status: 411, reason: 'send a Content-Length: chunked request bodies are refused' });
    }
    if (Number(req.headers['content-length'] ?? 0) > this.deps.limits.maxBodyBytes) {
      return this.refuseRequest(res, { status: 413, reason: `request bodies are limited to ${this.deps.limits.maxBodyBytes} bytes` });
    }
    const admitted = this.admit(req, url, match, 'playwright');
    if ('status' in admitted) return this.refuseRequest(res, admitted, match?.tunnel);
    const abort = new AbortController();
    res.once('close', () => abort.abort(CLIENT_GONE));
    await this.withBrowser(admitted, abort, async (browser) => {
      const target = new URL(browser.endpoint);
      req.url = match?.rest ?? '/';
      await new Promise<void>((resolve) => {
        res.once('close', resolve);
        this.proxy.web(req, res, { target: `http://${target.host}` });
      });
      return 'ok';
    }, (rejection) => this.refuseRequest(res, rejection, admitted.tunnel));
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = requestUrl(req.url);
    if (!url) return this.refuseSocket(socket, NOT_A_PATH);
    const match = matchTunnel(url.pathname, this.deps.state.tunnelsByPath());
    const cdp = match && cdpTarget(match.rest);
    if (cdp && cdp !== 'socket') {
      return this.refuseSocket(socket, { status: 404, reason: `the CDP WebSocket is at ${CDP_PATH} under the Tunnel's path` });
    }
    const admitted = this.admit(req, url, match, cdp ? 'cdp' : 'playwright');
    if ('status' in admitted) return this.refuseSocket(socket, admitted, match?.tunnel);
    // Checked before a browser is leased: a handshake the client cannot complete would waste one.
    const problem = handshakeProblem(req.method, req.headers);
    if (problem) return this.refuseSocket(socket, problem, match?.tunnel);
    const abort = new AbortController();
    socket.once('close', () => abort.abort(CLIENT_GONE));
    const use = (browser: LeasedBrowser, id: string) => this.connect(req, url, socket, head, admitted, browser, id);
    await this.withBrowser(admitted, abort, use,
      (rejection) => this.refuseSocket(socket, rejection, admitted.tunnel));
  }

  /** Everything decided before a browser is leased; no side effects. */
  private admit(
    req: IncomingMessage,
    url: URL,
    match: ReturnType<typeof matchTunnel>,
    protocol: Protocol,
  ): Admitted | Rejection {
    if (this.draining) return { status: 503, reason: 'the gateway is shutting down', headers: { 'retry-after': '1' } };
    if (!match) return { status: 404, reason: 'no Tunnel is served at this path' };
    const { tunnel } = match;
    const key = `${tunnel.metadata.namespace}/${tunnel.metadata.name}`;
    const expected = this.deps.state.token(tunnel);
    if (expected === undefined) {
      const ref = tunnel.spec.auth.secretRef;
      return { status: 503, result: 'unavailable', reason: `the Tunnel's Secret ${ref.name} (key ${ref.key}) is missing` };
    }
    const given = tokenOf(req.headers, url);
    if (given === undefined || !tokenMatches(given, expected)) {
      return {
        status: 401,
        result: 'unauthorized',
        reason: given === undefined ? 'send the Tunnel token as Authorization: Bearer <token> or ?token=' : 'wrong token',
        headers: { 'www-authenticate': 'Bearer realm="fleetwright"' },
      };
    }
    if (protocol === 'cdp' && !tunnel.spec.allowCDP) {
      return {
        status: 403,
        result: 'forbidden',
        reason: 'this Tunnel does not allow the Chrome DevTools Protocol (spec.allowCDP is false): ' +
          'connect with Playwright\'s protocol at the Tunnel\'s path, or ask its owner to allow CDP',
      };
    }
    if (protocol === 'playwright' && wantsExposeNetwork(req.headers, url) && !tunnel.spec.allowExposeNetwork) {
      return {
        status: 403,
        result: 'forbidden',
        reason: 'this Tunnel does not allow exposeNetwork (spec.allowExposeNetwork is false): ' +
          'connect without connectOptions.exposeNetwork, or ask its owner to allow it',
      };
    }
    const open = this.deps.counts.active(key) + this.deps.state.activeElsewhere(key);
    if (open >= tunnel.spec.maxConnections) {
      return {
        status: 429,
        result: 'rejected_full',
        reason: `the Tunnel has its maxConnections (${tunnel.spec.maxConnections}) open`,
        headers: { 'retry-after': RETRY_AFTER_SECONDS },
      };
    }
    const pools = this.deps.state.pools(tunnel);
    const choice = protocol === 'cdp'
      ? chooseCdpPool(pools)
      : choosePool(pools, { version: clientVersion(req.headers['user-agent']), browser: requestedBrowser(req.headers, url) });
    if (!choice.ok) {
      return {
        status: choice.status,
        result: MISMATCH_RESULTS[choice.status] ?? 'unavailable',
        reason: choice.reason,
        ...(choice.status === 503 ? { headers: { 'retry-after': RETRY_AFTER_SECONDS } } : {}),
      };
    }
    const log = this.deps.log.child({ namespace: tunnel.metadata.namespace, name: tunnel.metadata.name });
    return { tunnel, key, labels: tunnelLabels(tunnel), pool: choice.pool, protocol, log };
  }

  /**
   * Leases a browser for a connection, uses it and gives it back. A drain waits for every one of these: a
   * process that exited before a give-back finished would leave its browser leased to nobody.
   */
  private withBrowser(
    admitted: Admitted,
    abort: AbortController,
    use: (browser: LeasedBrowser, session: string) => Promise<ConnectionResult>,
    refuse: (rejection: Rejection) => void,
  ): Promise<void> {
    const connection = this.leaseUseAndRelease(admitted, abort, use, refuse);
    this.connections.add(connection);
    const forget = () => this.connections.delete(connection);
    connection.then(forget, forget);
    return connection;
  }

  /**
   * Counts the connection in, leases a browser for it (waiting up to the
   * Tunnel's queueTimeoutSeconds), runs `use`, and gives the browser back.
   */
  private async leaseUseAndRelease(
    admitted: Admitted,
    abort: AbortController,
    use: (browser: LeasedBrowser, session: string) => Promise<ConnectionResult>,
    refuse: (rejection: Rejection) => void,
  ): Promise<void> {
    const { tunnel, key, labels, pool, log } = admitted;
    const { counts, metrics, leaser } = this.deps;
    counts.open(key);
    metrics.active.inc(labels);
    this.deps.onCountsChanged();
    this.waiting.add(abort);
    const started = performance.now();
    // The session's id, also the last part of its lease holder: any replica finds the session's pod by it.
    const session = randomBytes(6).toString('hex');
    const holder = connectionHolder(this.deps.replica, this.deps.identity, session);
    let browser: LeasedBrowser | undefined;
    try {
      browser = await leaser.lease(
        { namespace: tunnel.metadata.namespace ?? '', name: pool },
        { holder, kind: 'Tunnel', ref: key },
        { timeoutMs: tunnel.spec.queueTimeoutSeconds * 1000, signal: abort.signal },
      );
      this.waiting.delete(abort);
      const waited = (performance.now() - started) / 1000;
      metrics.acquire.observe({ namespace: labels.namespace, pool, source: browser.source }, waited);
      if (abort.signal.aborted) throw abort.signal.reason;
      const result = await use(browser, session);
      metrics.connections.inc({ ...labels, result });
    } catch (err) {
      const rejection = this.leaseFailure(abort.signal.aborted ? abort.signal.reason : err, admitted);
      if (rejection) {
        if (rejection.result) metrics.connections.inc({ ...labels, result: rejection.result });
        refuse(rejection);
      }
    } finally {
      this.waiting.delete(abort);
      counts.close(key);
      metrics.active.dec(labels);
      this.deps.onCountsChanged();
      if (browser) await this.release(browser, log);
    }
  }

  /** What to tell a client whose browser did not come; undefined when it is gone and hears nothing. */
  private leaseFailure(err: unknown, { tunnel, pool, log }: Admitted): Rejection | undefined {
    if (err instanceof LeaseTimeoutError) {
      log.info({ pool }, 'no browser came free within queueTimeoutSeconds');
      return {
        status: 503,
        result: 'queue_timeout',
        reason: `no browser of pool ${pool} came free within ${tunnel.spec.queueTimeoutSeconds} s`,
        headers: { 'retry-after': RETRY_AFTER_SECONDS },
      };
    }
    if (err instanceof UpstreamRefused) {
      return { status: err.status, result: MISMATCH_RESULTS[err.status] ?? 'upstream_error', reason: err.message };
    }
    if (this.draining) return { status: 503, reason: 'the gateway is shutting down', headers: { 'retry-after': '1' } };
    if (err === CLIENT_GONE) return undefined;
    log.error({ err: err instanceof Error ? err.message : String(err), pool }, 'could not lease a browser');
    return { status: 503, result: 'unavailable', reason: 'could not lease a browser', headers: { 'retry-after': RETRY_AFTER_SECONDS } };
  }

  /** Opens the browser side, then completes the client's handshake and relays until one side is done. */
  private async connect(
    req: IncomingMessage,
    url: URL,
    socket: Duplex,
    head: Buffer,
    { tunnel, key, labels, pool, protocol, log: tunnelLog }: Admitted,
    browser: LeasedBrowser,
    id: string,
  ): Promise<ConnectionResult> {
    const log = tunnelLog.child({ session: id });
    const { sessions, state } = this.deps;
    const sessionToken = state.sessionToken(tunnel);
    const order = recordingOrder(tunnel, id, sessions.store, sessionToken);
    const headers: Record<string, string> = {
      [SESSION_ID_HEADER]: id,
      [SESSION_TUNNEL_HEADER]: key,
      ...(order ? { [SESSION_RECORDING_HEADER]: JSON.stringify(order) } : {}),
    };
    for (const name of protocol === 'cdp' ? CDP_FORWARDED_HEADERS : FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string' && value) headers[name] = value;
    }
    const proxyParam = protocol === 'playwright' && url.searchParams.get('proxy');
    if (proxyParam && !headers['x-playwright-proxy']) headers['x-playwright-proxy'] = proxyParam;
    const endpoint = protocol === 'cdp' ? `${browser.endpoint}${AGENT_CDP_SUFFIX}` : browser.endpoint;
    const upstream = await openUpstream(endpoint, headers, this.deps.limits.upstreamTimeoutMs);
    if (socket.destroyed) {
      upstream.socket.destroy();
      return 'ok';
    }
    // Only now that the browser side is open: a client that hears 101 has a browser.
    acceptClient(socket, req.headers['sec-websocket-key'] as string, upstream.protocol, { [SESSION_ID_HEADER]: id });
    const started: SessionRecord = {
      id,
      namespace: tunnel.metadata.namespace ?? '',
      tunnel: tunnel.metadata.name,
      pool,
      pod: browser.pod.name,
      protocol,
      client: protocol === 'cdp' ? 'cdp' : clientVersion(req.headers['user-agent']) ?? 'unknown',
      start: new Date().toISOString(),
    };
    const saved = sessions.save(started, sessionToken, log);
    // The relay counts every chunk: a plain addition, which the metrics take at each scrape.
    const bytes = this.deps.metrics.openSessionBytes(labels);
    const session = relay({ socket, head }, upstream, {
      idleTimeoutMs: tunnel.spec.idleTimeoutSeconds * 1000,
      maxSessionMs: tunnel.spec.maxSessionSeconds * 1000,
      maxMessageBytes: this.deps.limits.maxMessageBytes,
      onBytes: (direction, n) => (bytes[direction] += n),
    });
    const entry = { key, close: session.close, done: session.done };
    this.relays.add(entry);
    const exposeNetwork = Boolean(headers['x-playwright-proxy']);
    log.info({ pod: browser.pod.name, source: browser.source, protocol, exposeNetwork, recording: Boolean(order) }, 'session started');
    // A pod on a lost node answers nothing and sends no close: its deletion (its pool's, at once) ends it here,
    // as the relay's unanswered pings would later, with the same code.
    const unwatch = this.deps.leaser.onLost(browser.pod, () => {
      log.warn({ pod: browser.pod.name }, 'the browser pod was deleted; closing the session');
      session.close(CLOSE.badGateway, 'the browser went away (its pod was lost)');
    });
    const end = await session.done;
    unwatch();
    this.deps.metrics.closeSessionBytes(bytes);
    this.relays.delete(entry);
    log.info({ pod: browser.pod.name, ...end }, 'session ended');
    // After the start's record: a short session's end must not be overwritten by its start arriving late.
    const ended = endedRecord(started, end, bytes, new Date());
    void saved.then(() => sessions.save(ended, sessionToken, log));
    if (order) void sessions.tellAgent(browser.endpoint, id, end, log);
    return end.by === 'gateway' && end.code === CLOSE.badGateway ? 'upstream_error' : 'ok';
  }

  /**
   * A session's live view, proxied to the agent of the pod that serves it,
   * found by the session id in its lease; the viewer's tokens stay here.
   */
  private answerLive(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    tunnel: Tunnel,
    live: NonNullable<ReturnType<typeof liveTarget>>,
  ): void {
    if ('notFound' in live) return this.refuseRequest(res, { status: 404, reason: live.notFound });
    const namespace = tunnel.metadata.namespace ?? '';
    const decision = authorizeLive({
      namespace,
      readerToken: this.deps.state.readerToken(namespace),
      tunnelToken: this.deps.state.token(tunnel),
      takeoverAllowed: tunnel.spec.liveView.takeover,
      token: tokenOf(req.headers, url),
      takeover: url.searchParams.get('takeover') ?? undefined,
      input: live.path === 'live/input',
    });
    if (!decision.ok) return this.refuseRequest(res, decision);
    const key = `${namespace}/${tunnel.metadata.name}`;
    const endpoint = this.deps.leaser.leasedEndpoint(
      namespace,
      (lease) => lease.kind === 'Tunnel' && lease.ref === key && lease.holder.endsWith(`/${live.id}`),
    );
    if (!endpoint) return this.refuseRequest(res, { status: 404, reason: `no session ${live.id} of this Tunnel is running` });
    const agent = new URL(endpoint);
    req.url = `${agentSessionPath(agent.pathname, live.id)}/${live.path}`;
    delete req.headers.authorization;
    delete req.headers.cookie;
    if (decision.takeover) req.headers[TAKEOVER_HEADER] = 'allowed';
    else delete req.headers[TAKEOVER_HEADER];
    this.proxy.web(req, res, { target: `http://${agent.host}` });
  }

  /**
   * Plain HTTP under a Tunnel's …/cdp: the discovery document at
   * …/cdp/json/version, for a client with the Tunnel's token, answered
   * without leasing a browser; the rest of Chromium's /json API is not served.
   */
  private answerCdp(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    match: NonNullable<ReturnType<typeof matchTunnel>>,
    target: NonNullable<ReturnType<typeof cdpTarget>>,
  ): void {
    if (target !== 'version') {
      return this.refuseRequest(res, {
        status: 404,
        reason: 'only /json/version of Chromium\'s HTTP API is served here: connect to its webSocketDebuggerUrl',
      });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.refuseRequest(res, { status: 405, reason: 'use GET', headers: { allow: 'GET, HEAD' } });
    }
    const admitted = this.admit(req, url, match, 'cdp');
    if ('status' in admitted) return this.refuseRequest(res, admitted, match.tunnel);
    const forwarded = req.headers['x-forwarded-proto'];
    const secure = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() === 'https';
    const tunnelPath = url.pathname.slice(0, url.pathname.length - match.rest.length);
    const host = req.headers.host ?? '';
    // Chromium answers with the Host the client used; anything but a host[:port] there would bend the URL.
    if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) {
      return this.refuseRequest(res, { status: 400, reason: 'send a Host header naming the gateway (host or host:port)' });
    }
    const base = new URL(`${secure ? 'wss' : 'ws'}://${host}${tunnelPath}${CDP_PATH}`);
    const queryToken = url.searchParams.get('token') ?? undefined;
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(cdpVersionDocument(base, queryToken)));
  }

  private async release(browser: LeasedBrowser, log: Logger): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await browser.release();
        return;
      } catch (err) {
        if (attempt === 3) {
          log.warn({ err: String(err), pod: browser.pod.name }, 'could not give the browser back; the pool reclaims it');
          return;
        }
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  private refuseRequest(res: ServerResponse, rejection: Rejection, tunnel?: Tunnel): void {
    this.count(rejection, tunnel);
    res.writeHead(rejection.status, { 'content-type': 'text/plain; charset=utf-8', ...rejection.headers });
    res.end(`${rejection.reason}\n`);
  }

  private refuseSocket(socket: Duplex, rejection: Rejection, tunnel?: Tunnel): void {
    this.count(rejection, tunnel);
    if (socket.destroyed) return;
    socket.end(httpResponse(rejection.status, rejection.reason, rejection.headers));
  }

  /** Results before admission (the lease path counts its own); unknown paths are not counted (label cardinality). */
  private count(rejection: Rejection, tunnel?: Tunnel): void {
    if (!tunnel || !rejection.result || rejection.result === 'queue_timeout' || rejection.result === 'upstream_error') return;
    this.deps.metrics.connections.inc({ ...tunnelLabels(tunnel), result: rejection.result });
  }

  /** Never a stack trace to the client: the log has it. */
  private internal(err: unknown, target: ServerResponse | Duplex): void {
    this.deps.log.error({ err }, 'gateway request failed');
    if ('writeHead' in target) {
      if (!target.headersSent) target.writeHead(500, { 'content-type': 'text/plain' });
      target.end('internal error\n');
    } else if (!target.destroyed) {
      target.end(httpResponse(500, 'internal error'));
    }
  }
}

function httpResponse(status: number, reason: string, headers: Record<string, string> = {}): string {
  const body = `${reason}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'content-type: text/plain; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
