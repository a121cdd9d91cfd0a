// What the BrowserPool controller tells a browser pod's agent (the pod's
// environment, read into AgentConfig) and what it asks the agent back on its
// health port.
import { z } from 'zod';
import { AGENT_HEALTH_PORT, AGENT_PORT } from './ports.ts';
import { DEFAULT_TERMINATION_LOG, TERMINATION_LOG_ENV } from './termination.ts';

/** The agent's environment variables. */
export const AGENT_ENV = {
  podIP: 'POD_IP',
  browser: 'FLEETWRIGHT_BROWSER',
  wsPath: 'FLEETWRIGHT_WS_PATH',
  port: 'FLEETWRIGHT_AGENT_PORT',
  healthPort: 'FLEETWRIGHT_HEALTH_PORT',
  sessions: 'FLEETWRIGHT_SESSIONS',
  launchArgs: 'FLEETWRIGHT_LAUNCH_ARGS',
  chromiumPath: 'FLEETWRIGHT_CHROMIUM_PATH',
  ffmpegPath: 'FLEETWRIGHT_FFMPEG_PATH',
  drainSeconds: 'FLEETWRIGHT_DRAIN_SECONDS',
  terminationLog: TERMINATION_LOG_ENV,
} as const;

/** How long SIGTERM waits for sessions to end, unless the environment says otherwise. */
export const DEFAULT_DRAIN_SECONDS = 25;

const Browser = z.enum(['chromium', 'firefox', 'webkit']);

const jsonArgs = z
  .string()
  .transform((text, ctx) => {
    try {
      return z.array(z.string()).parse(JSON.parse(text));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings' });
      return z.NEVER;
    }
  });

/** The agent's settings, from the environment the pool controller writes into the browser pod. */
export const AgentConfig = z.object({
  /** The pod's IP (downward API); the agent listens there. */
  [AGENT_ENV.podIP]: z.string().default('0.0.0.0'),
  [AGENT_ENV.browser]: Browser.default('chromium'),
  /** Unguessable path of the WebSocket endpoint; the controller hands it only to lease holders. */
  [AGENT_ENV.wsPath]: z.string().regex(/^\/[A-Za-z0-9._~-]+$/, 'must be a path such as /pw-3f9c…').default('/playwright'),
  /** 0: a free port, which the agent logs (a test on loopback); the pool controller always names one. */
  [AGENT_ENV.port]: z.coerce.number().int().min(0).max(65535).default(AGENT_PORT),
  [AGENT_ENV.healthPort]: z.coerce.number().int().min(0).max(65535).default(AGENT_HEALTH_PORT),
  [AGENT_ENV.sessions]: z.coerce.number().int().min(1).max(64).default(1),
  [AGENT_ENV.launchArgs]: jsonArgs.default([]),
  /** Where the browser binary is when it is not Playwright's own (Debian's chromium in the local image). */
  [AGENT_ENV.chromiumPath]: z.string().optional(),
  /** The ffmpeg that encodes session videos when it is not Playwright's own (Debian's in the local image). */
  [AGENT_ENV.ffmpegPath]: z.string().optional(),
  /** How long SIGTERM waits for sessions to end; keep it under the pod's grace period. */
  [AGENT_ENV.drainSeconds]: z.coerce.number().min(0).max(3600).default(DEFAULT_DRAIN_SECONDS),
  /** Why the agent exited, for the pod status (and the pool's Degraded condition). */
  [AGENT_ENV.terminationLog]: z.string().default(DEFAULT_TERMINATION_LOG),
});

export type AgentConfig = z.infer<typeof AgentConfig>;

/**
 * Appended to the pod's WebSocket path (FLEETWRIGHT_WS_PATH): the endpoint of
 * Chrome DevTools Protocol sessions, each on a Chromium of its own.
 */
export const AGENT_CDP_SUFFIX = '/cdp';

/** On the health port: 200 while the browser lives and the agent is not draining (the pod's readiness probe). */
export const AGENT_HEALTH_PATH = '/healthz';
/** On the health port: what the agent serves, as JSON (AgentStatus, and its session counts). */
export const AGENT_STATUS_PATH = '/status';
/** On the health port: the agent's Prometheus metrics. */
export const AGENT_METRICS_PATH = '/metrics';

/** A full Playwright version, a pre-release too; the length fits status.playwrightVersion(s). */
const PlaywrightVersion = z.string().regex(/^\d+\.\d+\.\d+[0-9A-Za-z.-]*$/).max(32);

/** The part of the agent's /status the pool controller reads. */
export const AgentStatus = z.object({
  /** The default version, served warm. */
  playwright: PlaywrightVersion,
  /** Every version served, the default first (at most 16, as status.playwrightVersions); older agents lack it. */
  playwrightVersions: z.array(PlaywrightVersion).min(1).max(16).optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;
