import { z } from 'zod';

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
  POD_IP: z.string().default('0.0.0.0'),
  FLEETWRIGHT_BROWSER: Browser.default('chromium'),
  /** Unguessable path of the WebSocket endpoint; the controller hands it only to lease holders. */
  FLEETWRIGHT_WS_PATH: z.string().regex(/^\/[A-Za-z0-9._~-]+$/, 'must be a path such as /pw-3f9c…').default('/playwright'),
  FLEETWRIGHT_AGENT_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  FLEETWRIGHT_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  FLEETWRIGHT_SESSIONS: z.coerce.number().int().min(1).max(64).default(1),
  FLEETWRIGHT_LAUNCH_ARGS: jsonArgs.default([]),
  /** Where the browser binary is when it is not Playwright's own (Debian's chromium in the local image). */
  FLEETWRIGHT_CHROMIUM_PATH: z.string().optional(),
  /** How long SIGTERM waits for sessions to end; keep it under the pod's grace period. */
  FLEETWRIGHT_DRAIN_SECONDS: z.coerce.number().min(0).max(3600).default(25),
  /** Why the agent exited, for the pod status (and the pool's Degraded condition). */
  FLEETWRIGHT_TERMINATION_LOG: z.string().default('/dev/termination-log'),
});

export type AgentConfig = z.infer<typeof AgentConfig>;
