// Pure: who may upload a shard's blob report, and who may read a report.
// The server gathers what the informer caches hold and asks these functions;
// they decide from plain values, so the unit tests state every rule.
import { isFinishedPhase } from '../api/objects.ts';
import { tokenMatches } from '../runtime/tokens.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY, reportTokenSecret } from '../contracts/report-store.ts';
import type { UploadFailure } from './metrics.ts';

/** A TestRun as the store needs it. */
export interface RunView {
  namespace: string;
  name: string;
  uid: string;
  shards: number;
  phase?: string;
  reportURL?: string;
  completionTime?: string;
}

/** An upload-token Secret as the store needs it. */
export interface TokenSecretView {
  namespace: string;
  name: string;
  /** The value of REPORT_TOKEN_LABEL. */
  runLabel?: string;
  /** uids of the TestRuns it has ownerReferences to. */
  ownerUids: string[];
  token?: string;
}

export interface Refusal {
  status: number;
  /** The `reason` label of fleetwright_report_upload_failures_total (uploads only). */
  failure?: UploadFailure;
  message: string;
  headers?: Record<string, string>;
}

const challenge = { 'www-authenticate': 'Bearer realm="fleetwright-reports"' };

/**
 * Whether `secret` is the upload-token Secret of exactly this incarnation of
 * the run: the contract's name, labelled with the run's name, and owned by
 * the TestRun with the current uid (a Secret left from a deleted run of the
 * same name is not).
 */
export function isTokenSecretOf(secret: TokenSecretView, run: RunView): boolean {
  return secret.namespace === run.namespace &&
    secret.name === reportTokenSecret(run.name) &&
    secret.runLabel === run.name &&
    secret.ownerUids.includes(run.uid) &&
    secret.token !== undefined;
}

export interface UploadInput {
  namespace: string;
  name: string;
  index: number;
  /** The TestRun in the cache; undefined when there is none. */
  run?: RunView;
  /** The bearer token sent; undefined when none. */
  token?: string;
  /** The Secret reportTokenSecret(name) in the run's namespace, if cached. */
  secret?: TokenSecretView;
  /** Whether `token` is the valid upload token of some other TestRun (then 403, not 401). */
  tokenOfOtherRun: (token: string) => boolean;
}

export type UploadDecision = { ok: true; run: RunView } | ({ ok: false } & Refusal);

/** 404 unknown run, 401 no or wrong token, 403 another run's token, 409 finished, 400 index out of range. */
export function authorizeUpload(input: UploadInput): UploadDecision {
  const { run, token } = input;
  const ref = `TestRun ${input.namespace}/${input.name}`;
  if (!run) return { ok: false, status: 404, failure: 'not_found', message: `${ref} not found` };
  if (token === undefined) {
    return {
      ok: false,
      status: 401,
      failure: 'unauthorized',
      message: `send the run's upload token (Secret ${reportTokenSecret(run.name)}, key ${REPORT_TOKEN_KEY}) ` +
        'as Authorization: Bearer <token>',
      headers: challenge,
    };
  }
  const secret = input.secret && isTokenSecretOf(input.secret, run) ? input.secret : undefined;
  if (!secret?.token || !tokenMatches(token, secret.token)) {
    if (input.tokenOfOtherRun(token)) {
      return { ok: false, status: 403, failure: 'forbidden', message: `this token is another TestRun's: it may not upload to ${ref}` };
    }
    return { ok: false, status: 401, failure: 'unauthorized', message: `wrong upload token for ${ref}`, headers: challenge };
  }
  if (isFinishedPhase(run.phase)) {
    return {
      ok: false,
      status: 409,
      failure: 'finished',
      message: `${ref} has finished (${run.phase}): its upload token is no longer valid`,
    };
  }
  if (input.index > run.shards) {
    return {
      ok: false,
      status: 400,
      failure: 'bad_request',
      message: `${ref} has ${run.shards} shard${run.shards === 1 ? '' : 's'}: shard ${input.index} does not exist`,
    };
  }
  return { ok: true, run };
}

export type ReadDecision = { ok: true; setCookie: boolean } | ({ ok: false } & Refusal);

/**
 * A reader sends the namespace's read token as `Authorization: Bearer`, as
 * `?token=` (answered with a cookie and a redirect) or in that cookie.
 */
export function authorizeRead(input: {
  namespace: string;
  /** The token of REPORT_READER_SECRET in the namespace; undefined when the Secret or key is missing. */
  readerToken?: string;
  bearer?: string;
  query?: string;
  cookie?: string;
}): ReadDecision {
  const given = input.bearer ?? input.query ?? input.cookie;
  const where = `Secret ${REPORT_READER_SECRET} (key ${REPORT_TOKEN_KEY}) in namespace ${input.namespace}`;
  if (given === undefined) {
    return {
      ok: false,
      status: 401,
      message: `reports of namespace ${input.namespace} need its read token: the ${where}; ` +
        'open the report with ?token=<token> or send Authorization: Bearer <token>',
      headers: challenge,
    };
  }
  if (input.readerToken === undefined || !tokenMatches(given, input.readerToken)) {
    // The same answer whether the Secret is missing or the token wrong: nothing to learn by probing.
    return { ok: false, status: 401, message: `wrong read token: use the one in the ${where}`, headers: challenge };
  }
  return { ok: true, setCookie: input.bearer === undefined && input.query !== undefined };
}
