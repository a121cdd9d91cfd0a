// A runner that stops before Playwright runs writes one line of its own into
// the termination message instead of a shard summary: `<Reason>: <what and
// the fix>`. The TestRun controller reads the reason back: such a failure is
// the suite's, not the infrastructure's, so the shard is not retried, and the
// run's Failed condition carries the reason.
import { TERMINATION_MESSAGE_MAX_BYTES } from './termination.ts';

/** The suite's own dependencies could not be installed (lockfile, registry, credentials). */
export const DEPENDENCIES_FAILED = 'DependenciesFailed';

const REASONS: readonly string[] = [DEPENDENCIES_FAILED];

/** The termination message for `reason`, cut to what the kubelet keeps (whole characters). */
export function runnerFailureMessage(reason: string, text: string): string {
  const message = `${reason}: ${text}`;
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= TERMINATION_MESSAGE_MAX_BYTES) return message;
  return new TextDecoder().decode(bytes.subarray(0, TERMINATION_MESSAGE_MAX_BYTES - 3)).replace(/\uFFFD$/, '') + '…';
}

/** The reason of a runner's own failure message; undefined for anything else (a summary, Node's last output). */
export function runnerFailureReason(message: string | undefined): string | undefined {
  const reason = /^([A-Za-z]+): /.exec(message ?? '')?.[1];
  return reason !== undefined && REASONS.includes(reason) ? reason : undefined;
}
