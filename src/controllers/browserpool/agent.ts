// What the controller asks a browser pod's agent, on its health port.
import { AGENT_STATUS_PATH, AgentStatus } from '../../contracts/agent.ts';
import { AGENT_HEALTH_PORT } from '../../contracts/ports.ts';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * The Playwright versions a browser pod's agent serves, from its /status: the
 * default (warm) first, each once. Throws when the agent does not answer in
 * time or answers without one (an agent image older than this controller).
 */
export async function readPlaywrightVersions(podIP: string): Promise<string[]> {
  const url = `http://${podIP}:${AGENT_HEALTH_PORT}${AGENT_STATUS_PATH}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  const parsed = AgentStatus.safeParse(await response.json());
  if (!parsed.success) throw new Error(`${url} reports no Playwright version: ${parsed.error.issues[0]?.message}`);
  return servedVersions(parsed.data);
}

/**
 * The versions of an agent's status, the default first, each once: an agent
 * older than playwrightVersions serves its `playwright` alone.
 */
export function servedVersions(status: AgentStatus): string[] {
  return [...new Set([status.playwright, ...(status.playwrightVersions ?? [])])];
}
