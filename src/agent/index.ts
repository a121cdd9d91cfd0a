// `fleetwright agent`: the main process of a browser pod. Serves one Playwright
// endpoint on the pod IP to clients of several Playwright versions (see
// routing.ts and versions.ts) and, on Chromium pods, a CDP endpoint beside it
// (cdp.ts), plus /healthz, /status and /metrics on a second port; exits
// non-zero when its warm browser dies, and drains on SIGTERM. A Tunnel
// session on a Chromium pod is observed (observed-session.ts): recorded, and
// watched live under <wsPath>/sessions/<id>/ (live.ts), where the gateway
// also tells how it ended (session-http.ts).
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import {
  AGENT_ENV,
  AGENT_HEALTH_PATH,
  AGENT_METRICS_PATH,
  AGENT_STATUS_PATH,
  AgentConfig,
  DEFAULT_DRAIN_SECONDS,
} from '../contracts/agent.ts';
import { AGENT_HEALTH_PORT, AGENT_PORT } from '../contracts/ports.ts';
import { createLogger } from '../runtime/log.ts';
import { majorMinor } from '../contracts/playwright-client.ts';
import { defaultChromium, DEVTOOLS_WAIT_MS, launchWarmBrowser, RunServers } from './browsers.ts';
import { CdpBrowsers, launchCdpBrowser } from './cdp.ts';
import { debuggerUrl, freePort } from './debugging-port.ts';
import { findFfmpeg } from './ffmpeg.ts';
import { LiveViews } from './live.ts';
import { type Observation, type ObservedSession, observeSession } from './observed-session.ts';
import { RecordingMetrics } from './recording-metrics.ts';
import { answerPlain, route, type Served, withDebuggingPort } from './routing.ts';
import { receiveEnd, sessionRequest } from './session-http.ts';
import { SessionEnds } from './session-ends.ts';
import { Sessions } from './sessions.ts';
import { installedPlaywrights, type PlaywrightPackage, servedPlaywrights } from './versions.ts';

/** How long a client over the session limit waits for a slot before it is refused. */
const SLOT_WAIT_MS = 5_000;

export function usage(): string {
  const { podIP, browser, wsPath, port, healthPort, sessions, launchArgs, chromiumPath, ffmpegPath, drainSeconds } =
    AGENT_ENV;
  return `Configured through the environment the pool controller writes into the pod: ${podIP}, ${browser},\n` +
    `${wsPath}, ${port} (${AGENT_PORT}), ${healthPort} (${AGENT_HEALTH_PORT}), ${sessions},\n` +
    `${launchArgs} (a JSON array), ${chromiumPath}, ${ffmpegPath}, ${drainSeconds} (${DEFAULT_DRAIN_SECONDS}).`;
}

export async function runAgent(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const parsed = AgentConfig.safeParse(env);
  const log = createLogger().child({ component: 'agent', pod: env.HOSTNAME });
  if (!parsed.success) {
    log.error({ issues: parsed.error.issues }, 'invalid agent configuration: fix the browser pod environment');
    process.exit(2);
  }
  const config = parsed.data;
  const sessions = new Sessions();
  let draining = false;

  /** Exits 1 with `reason` as the pod's termination message, which the pool reports. */
  const fail = (reason: string): never => {
    log.error(`${reason}: exiting so that the pool replaces this pod`);
    try {
      writeFileSync(config.FLEETWRIGHT_TERMINATION_LOG, reason);
    } catch (err) {
      log.warn({ err }, 'could not write the termination message');
    }
    process.exit(1);
  };
  const packages = servedVersionsOrFail(config, fail);
  const [first] = packages;
  if (!first) return fail('no Playwright version to serve');
  const served: Served = {
    versions: packages.map((p) => p.version),
    ...(config.FLEETWRIGHT_BROWSER === 'chromium' ? { defaultChromium: defaultChromium() } : {}),
  };
  const runServers = new RunServers(packages, (version, code) => {
    if (draining) return;
    if (version === first.version) fail('playwright run-server died');
    log.warn({ playwright: version, code }, 'playwright run-server exited; its next client restarts it');
  });
  process.once('exit', () => runServers.killAll());
  // The default version is served warm, and its run-server (exposeNetwork clients) started ahead as ever.
  const [warm] = await Promise.all([launchWarmBrowser(config), runServers.endpoint(first.version)])
    .catch((err: unknown) =>
      fail(`the browser did not start: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`));
  warm.server.on('close', () => {
    if (!draining) fail('the warm browser died');
  });
  if (config.FLEETWRIGHT_BROWSER === 'chromium' && !warm.devtools) {
    log.warn('the warm browser opened no DevTools port: its sessions are neither recorded nor watched live');
  }
  const ffmpeg = findFfmpeg(config);
  if ('missing' in ffmpeg) log.warn(`${ffmpeg.missing}; session videos are skipped, logs still recorded`);
  const metrics = new RecordingMetrics(sessions.registry);
  const observation: Observation = { live: new LiveViews(metrics), ends: new SessionEnds(), metrics, ffmpeg };

  // changeOrigin: Playwright's servers accept only a Host header naming the loopback address they listen on.
  const proxy = createProxyServer({ ws: true, changeOrigin: true });
  proxy.on('error', (error, _req, socket) => {
    log.warn({ err: error.message }, 'session ended by an upstream error');
    (socket as Duplex).destroy();
  });

  const cdpBrowsers = new CdpBrowsers(() => launchCdpBrowser(config));
  const about = { browser: config.FLEETWRIGHT_BROWSER, playwright: first.version, playwrightVersions: served.versions };
  const endpoint = createServer((req, res) => {
    const asked = sessionRequest(new URL(req.url ?? '/', 'http://agent').pathname, config.FLEETWRIGHT_WS_PATH);
    if (asked?.path === 'end') return void receiveEnd(asked.id, req, res, observation.ends);
    if (asked) return void observation.live.serve(asked.id, asked.path, req, res);
    const answer = answerPlain(req.method, req.url ?? '/', about);
    res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
  });
  endpoint.on('upgrade', async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    await sessions.waitForSlot(config.FLEETWRIGHT_SESSIONS, SLOT_WAIT_MS);
    if (socket.destroyed) return;
    const decision = route(req.url ?? '/', req.headers, config, served, sessions.activeCount, draining);
    if (decision.action === 'reject') {
      log.info({ status: decision.status, reason: decision.reason }, 'refused a client');
      refuse(socket, decision.status, decision.reason);
      return;
    }
    const { session, observed } = decision;
    const slog = session ? log.child({ session: session.id, tunnel: session.tunnel }) : log;
    if (session && !observed) {
      slog.info(config.FLEETWRIGHT_BROWSER === 'chromium'
        ? 'the session shares the warm browser: no live view (a recorded session gets a browser of its own)'
        : `recording and live view need Chromium; this pod serves ${config.FLEETWRIGHT_BROWSER}: skipped`);
    }
    const end = sessions.begin(decision.mode, majorMinor(decision.version) ?? decision.version);
    socket.once('close', end);
    /** Observes the session on the browser at `devtools`, detaching before the slot frees on close. */
    const observe = (devtools: Promise<URL>) => {
      if (!observed) return undefined;
      const observing = observeSession(observed, devtools, observation, slog);
      // The observer follows none of the next session's pages on this browser.
      if (socket.closed) observing.closed();
      else socket.prependOnceListener('close', () => observing.closed());
      return observing;
    };
    let target: URL;
    let headers = decision.headers;
    let observing: ObservedSession | undefined;
    if (decision.mode === 'cdp') {
      const browser = await cdpBrowsers.take().catch((err: unknown) => {
        slog.error({ err: err instanceof Error ? err.message : String(err) }, 'could not start Chromium for a CDP session');
      });
      if (!browser) {
        refuse(socket, 503, 'could not start a browser for the CDP session');
        end();
        return;
      }
      const discard = () => void cdpBrowsers.discard(browser);
      if (socket.destroyed) return discard();
      socket.once('close', discard);
      target = browser.endpoint;
      // DevTools refuses a WebSocket whose Origin it was not started to allow; the gateway authenticated the client.
      delete req.headers.origin;
      observing = observe(Promise.resolve(browser.endpoint));
    } else {
      try {
        target = decision.mode === 'warm' ? warm.endpoint : await runServers.endpoint(decision.version);
      } catch (err) {
        slog.warn({ playwright: decision.version, err: (err as Error).message }, 'could not start a run-server');
        refuse(socket, 503, `Playwright ${decision.version} could not start here: ${(err as Error).message}`);
        end();
        return;
      }
      if (decision.mode === 'warm' && warm.devtools) {
        observing = observe(Promise.resolve(warm.devtools));
      } else if (decision.mode === 'fresh' && observed) {
        // The run-server launches the session's browser once the client's connection reaches it.
        const port = await freePort();
        headers = withDebuggingPort(headers, port);
        observe(debuggerUrl(port, DEVTOOLS_WAIT_MS));
      }
    }
    // Warm and CDP sessions are observed before the client comes in, so nothing of its first page is missed.
    await observing?.attached;
    if (socket.destroyed) return;
    // The upstream path, with no query: run-server would read browser, proxy and launch options from it.
    req.url = target.pathname;
    for (const name of ['x-playwright-browser', 'x-playwright-launch-options', 'x-playwright-proxy']) delete req.headers[name];
    Object.assign(req.headers, headers);
    slog.info({ mode: decision.mode, playwright: decision.version, active: sessions.activeCount }, 'session started');
    socket.once('close', () => slog.info({ mode: decision.mode, active: sessions.activeCount }, 'session ended'));
    proxy.ws(req, socket, head, { target: `ws://${target.host}` });
  });

  const health = createServer(async (req, res) => {
    if (req.url === AGENT_HEALTH_PATH) {
      const ok = !draining && warm.server.process().exitCode === null;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'draining or browser gone\n');
    } else if (req.url === AGENT_STATUS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...about, running: runServers.running, draining, ...sessions.snapshot() }));
    } else if (req.url === AGENT_METRICS_PATH) {
      res.writeHead(200, { 'content-type': sessions.registry.contentType }).end(await sessions.registry.metrics());
    } else {
      res.writeHead(404).end();
    }
  });

  await Promise.all([
    new Promise<void>((resolve) => endpoint.listen(config.FLEETWRIGHT_AGENT_PORT, config.POD_IP, resolve)),
    new Promise<void>((resolve) => health.listen(config.FLEETWRIGHT_HEALTH_PORT, config.POD_IP, resolve)),
  ]);
  log.info(
    { ...about, address: addressOf(endpoint), health: addressOf(health), sessions: config.FLEETWRIGHT_SESSIONS },
    'browser agent ready',
  );

  // Open sessions drain before the agent exits; were it PID 1 (a pod that does not share its process
  // namespace), it would have no default SIGTERM action and deletion would wait the whole grace period.
  process.once('SIGTERM', async () => {
    draining = true;
    endpoint.close();
    log.info({ active: sessions.activeCount }, 'SIGTERM: draining sessions');
    const deadline = Date.now() + config.FLEETWRIGHT_DRAIN_SECONDS * 1000;
    while (sessions.activeCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    endpoint.closeAllConnections();
    await runServers.stopAll();
    await Promise.all([warm.server.close(), cdpBrowsers.closeAll()]);
    health.close();
    log.info({ unfinished: sessions.activeCount }, 'browser agent stopped');
    process.exit(0);
  });
}

function servedVersionsOrFail(config: AgentConfig, fail: (reason: string) => never): PlaywrightPackage[] {
  try {
    return servedPlaywrights(installedPlaywrights(), config.FLEETWRIGHT_BROWSER);
  } catch (err) {
    return fail((err as Error).message);
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `content-type: text/plain\r\nconnection: close\r\n\r\n${reason}\n`);
}

/** host:port a server listens on (the port it got, when told 0). */
function addressOf(server: Server): string {
  const address = server.address();
  return typeof address === 'object' && address ? `${address.address}:${address.port}` : String(address);
}
