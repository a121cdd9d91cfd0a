// Which Playwright versions a pool serves, from what its agents reported: the
// gateway routes each client to a pool that serves its own major.minor,
// because Playwright refuses a client of another minor (HTTP 428).
import type { BrowserPodView } from './plan.ts';

/** A live Ready pod whose agent has not yet said its Playwright versions: the controller asks it. */
export const needsVersionProbe = (pod: BrowserPodView): boolean =>
  pod.ready && !pod.terminating && pod.finishedAt === undefined && pod.playwrightVersions === undefined;

/**
 * The versions most live Ready pods report (the same list, the default first);
 * on a tie, the newest pod's (a rollout to a new image brings new pods).
 * Undefined while none has reported.
 */
export function poolPlaywrightVersions(pods: BrowserPodView[]): string[] | undefined {
  const byVersions = new Map<string, { versions: string[]; pods: number; newest: number }>();
  for (const pod of pods) {
    if (!pod.ready || pod.terminating || pod.finishedAt !== undefined || !pod.playwrightVersions?.length) continue;
    const key = pod.playwrightVersions.join(',');
    const seen = byVersions.get(key) ?? { versions: pod.playwrightVersions, pods: 0, newest: -Infinity };
    byVersions.set(key, { ...seen, pods: seen.pods + 1, newest: Math.max(seen.newest, pod.createdAt.getTime()) });
  }
  let best: { versions: string[]; pods: number; newest: number } | undefined;
  for (const seen of byVersions.values()) {
    if (!best || seen.pods > best.pods || (seen.pods === best.pods && seen.newest > best.newest)) best = seen;
  }
  return best?.versions;
}
