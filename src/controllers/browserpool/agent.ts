// What the controller asks a browser pod's agent, on its health port.
import { z } from 'zod';
import { HEALTH_PORT } from './pod.ts';

const PROBE_TIMEOUT_MS = 2_000;

/** The part of the agent's /status the controller reads; the length fits status.playwrightVersion. */
const AgentStatus = z.object({
  playwright: z.string().regex(/^\d+\.\d+\.\d+[0-9A-Za-z.-]*$/).max(32),
});

/**
 * The Playwright version a browser pod's agent serves, from its /status.
 * Throws when the agent does not answer in time or answers without one
 * (an agent image older than this controller).
 */
export async function readPlaywrightVersion(podIP: string): Promise<string> {
  const url = `http://${podIP}:${HEALTH_PORT}/status`;
  const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  const parsed = AgentStatus.safeParse(await response.json());
  if (!parsed.success) throw new Error(`${url} reports no Playwright version: ${parsed.error.issues[0]?.message}`);
  return parsed.data.playwright;
}
