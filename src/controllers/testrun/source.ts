// A git source's part of a TestRun's reconcile: pinned once, before any shard
// starts, to the commit its revision names then, so that every shard runs that
// commit even when the branch moves during the run. What to do is decided
// here, purely; the reconcile asks the remote when told to and writes the
// outcome into status.source or a Scheduled=False condition.
import { type SecretObject, secretValues } from '../../api/builtin.ts';
import type { TestRunSpec, TestRunStatus } from '../../api/v1alpha1/index.ts';
import { remoteCredentialsOf } from '../../git/credentials.ts';
import type { GitRemote } from '../../git/remote.ts';
import { sshAddressOf, withoutCredentials } from '../../git/url.ts';

export type PinnedSource = NonNullable<TestRunStatus['source']>;

export type SourcePlan =
  | { type: 'none' } |
  { type: 'pinned'; source: PinnedSource } |
  { type: 'resolve'; remote: GitRemote; revision?: string } |
  { type: 'unavailable'; reason: 'SourceNotFound' | 'SourceUnavailable'; message: string };

/** The shortest and longest wait before asking an unavailable remote again. */
export const SOURCE_RETRY_MIN_MS = 5_000;
export const SOURCE_RETRY_MAX_MS = 300_000;

/**
 * What a run's git source needs: nothing (no git source, or already pinned),
 * its revision resolved with the credentials of its Secret, or a fix from the
 * user (a missing Secret or key), said without contacting the remote.
 */
export function planSource(
  namespace: string,
  spec: TestRunSpec,
  pinned: PinnedSource | undefined,
  secret: SecretObject | undefined,
): SourcePlan {
  const git = spec.source.git;
  if (!git) return { type: 'none' };
  if (pinned) return { type: 'pinned', source: pinned };
  const revision = git.revision ? { revision: git.revision } : {};
  const name = git.secretRef?.name;
  if (!name) return { type: 'resolve', remote: { url: git.url }, ...revision };
  const repository = withoutCredentials(git.url);
  if (!secret) {
    return {
      type: 'unavailable',
      reason: 'SourceNotFound',
      message: `Secret ${name} with the credentials of repository ${repository} does not exist in namespace ` +
        `${namespace}: create it (${sshAddressOf(git.url) ? 'keys identity and known_hosts' : 'key token, or username and password'}) ` +
        'or fix spec.source.git.secretRef',
    };
  }
  const found = remoteCredentialsOf(git.url, secretValues(secret));
  if (!found.ok) {
    return {
      type: 'unavailable',
      reason: 'SourceUnavailable',
      message: `Secret ${name} (spec.source.git.secretRef) has no ${found.missing}: add the credentials of ` +
        `repository ${repository} to it`,
    };
  }
  return { type: 'resolve', remote: { url: git.url, ...found.credentials, secret: name }, ...revision };
}

/**
 * How long to wait before asking again a remote that has failed since
 * `failingSince`: as long as it has been failing, within bounds, so that a
 * flapping server is retried soon and a dead one rarely.
 */
export function sourceRetryAfterMs(failingSince: string | undefined, now: Date): number {
  const elapsed = failingSince ? now.getTime() - Date.parse(failingSince) : 0;
  return Math.min(SOURCE_RETRY_MAX_MS, Math.max(SOURCE_RETRY_MIN_MS, Number.isNaN(elapsed) ? 0 : elapsed));
}
