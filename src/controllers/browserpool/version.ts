// Which Playwright version a pool serves, from what its agents reported: the
// gateway routes each client to a pool of its own major.minor, because
// Playwright refuses a client of another minor (HTTP 428).
import type { BrowserPodView } from './plan.ts';

/** A live Ready pod whose agent has not yet said its Playwright version: the controller asks it. */
export const needsVersionProbe = (pod: BrowserPodView): boolean =>
  pod.ready && !pod.terminating && pod.finishedAt === undefined && pod.playwrightVersion === undefined;

/**
 * The version most live Ready pods report; on a tie, the newest pod's (a
 * rollout to a new image brings new pods). Undefined while none has reported.
 */
export function poolPlaywrightVersion(pods: BrowserPodView[]): string | undefined {
  const byVersion = new Map<string, { pods: number; newest: number }>();
  for (const pod of pods) {
    if (!pod.ready || pod.terminating || pod.finishedAt !== undefined || !pod.playwrightVersion) continue;
    const seen = byVersion.get(pod.playwrightVersion) ?? { pods: 0, newest: -Infinity };
    byVersion.set(pod.playwrightVersion, {
      pods: seen.pods + 1,
      newest: Math.max(seen.newest, pod.createdAt.getTime()),
    });
  }
  let best: { version: string; pods: number; newest: number } | undefined;
  for (const [version, seen] of byVersion) {
    if (!best || seen.pods > best.pods || (seen.pods === best.pods && seen.newest > best.newest)) {
      best = { version, ...seen };
    }
  }
  return best?.version;
}
