// Pure: who may upload a shard's blob report or a Tunnel's session files,
// and who may read a report or a session.
// The server gathers what the informer caches hold and asks these functions;
// they decide from plain values, so the unit tests state every rule.
import { isFinishedPhase } from '../api/objects.ts';
import { tokenMatches } from '../runtime/tokens.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY, reportTokenSecret } from '../contracts/report-store.ts';
import { SESSION_TOKEN_KEY, sessionTokenSecret } from '../contracts/tunnel-session.ts';
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

/** A Tunnel as the store needs it. */
export interface TunnelView {
  namespace: string;
  name: string;
  uid: string;
  sessionsURL?: string;
}

/** A writer's token Secret (a run's upload token, a Tunnel's session token) as the store needs it. */
export interface TokenSecretView {
  namespace: string;
  name: string;
  /** The value of the contract's label (REPORT_TOKEN_LABEL, SESSION_TOKEN_LABEL): its owner's name. */
  ownerLabel?: string;
  /** uids of the objects of the owner's kind it has ownerReferences to. */
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
 * Whether `secret` is the token Secret of exactly this incarnation of its
 * owner: the contract's name, labelled with the owner's name, and owned by
 * the object with the current uid (a Secret left from a deleted object of
 * the same name is not).
 */
function isSecretOf(secret: TokenSecretView, owner: Pick<TunnelView, 'namespace' | 'name' | 'uid'>, name: string): boolean {
  return secret.namespace === owner.namespace &&
    secret.name === name &&
    secret.ownerLabel === owner.name &&
    secret.ownerUids.includes(owner.uid) &&
    secret.token !== undefined;
}

export const isTokenSecretOf = (secret: TokenSecretView, run: RunView) =>
  isSecretOf(secret, run, reportTokenSecret(run.name));

/** What a writer's token is checked against. */
interface WriterToken {
  /** `TestRun ns/name`, `Tunnel ns/name`: who is written to. */
  ref: string;
  /** The bearer token sent; undefined when none. */
  token?: string;
  /** The valid token; undefined when the Secret is missing or not the owner's. */
  valid?: string;
  /** Whether `token` is the valid token of another owner of the same kind (then 403, not 401). */
  ofOther: (token: string) => boolean;
  /** How to send the right one, for the 401 without a token. */
  hint: string;
  /** `TestRun`, `Tunnel`. */
  kind: string;
}

/** 401 no or wrong token, 403 another's token; undefined when the token is the owner's own. */
function checkWriterToken(w: WriterToken): Refusal | undefined {
  if (w.token === undefined) {
    return { status: 401, failure: 'unauthorized', message: `send ${w.hint} as Authorization: Bearer <token>`, headers: challenge };
  }
  if (w.valid !== undefined && tokenMatches(w.token, w.valid)) return undefined;
  if (w.ofOther(w.token)) {
    return { status: 403, failure: 'forbidden', message: `this token is another ${w.kind}'s: it may not upload to ${w.ref}` };
  }
  const which = w.kind === 'TestRun' ? 'upload' : 'session';
  return { status: 401, failure: 'unauthorized', message: `wrong ${which} token for ${w.ref}`, headers: challenge };
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
  const { run } = input;
  const ref = `TestRun ${input.namespace}/${input.name}`;
  if (!run) return { ok: false, status: 404, failure: 'not_found', message: `${ref} not found` };
  const refusal = checkWriterToken({
    ref,
    kind: 'TestRun',
    token: input.token,
    valid: input.secret && isTokenSecretOf(input.secret, run) ? input.secret.token : undefined,
    ofOther: input.tokenOfOtherRun,
    hint: `the run's upload token (Secret ${reportTokenSecret(run.name)}, key ${REPORT_TOKEN_KEY})`,
  });
  if (refusal) return { ok: false, ...refusal };
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

export interface SessionUploadInput {
  namespace: string;
  name: string;
  /** The Tunnel in the cache; undefined when there is none. */
  tunnel?: TunnelView;
  token?: string;
  /** The Secret sessionTokenSecret(name) in the Tunnel's namespace, if cached. */
  secret?: TokenSecretView;
  /** Whether `token` is the session token of some other Tunnel (then 403, not 401). */
  tokenOfOtherTunnel: (token: string) => boolean;
}

export type SessionUploadDecision = { ok: true; tunnel: TunnelView } | ({ ok: false } & Refusal);

/** 404 unknown Tunnel, 401 no or wrong token, 403 another Tunnel's token. */
export function authorizeSessionUpload(input: SessionUploadInput): SessionUploadDecision {
  const { tunnel } = input;
  const ref = `Tunnel ${input.namespace}/${input.name}`;
  if (!tunnel) return { ok: false, status: 404, failure: 'not_found', message: `${ref} not found` };
  const secret = sessionTokenSecret(tunnel.name);
  const refusal = checkWriterToken({
    ref,
    kind: 'Tunnel',
    token: input.token,
    valid: input.secret && isSecretOf(input.secret, tunnel, secret) ? input.secret.token : undefined,
    ofOther: input.tokenOfOtherTunnel,
    hint: `the Tunnel's session token (Secret ${secret}, key ${SESSION_TOKEN_KEY})`,
  });
  return refusal ? { ok: false, ...refusal } : { ok: true, tunnel };
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
      message: `reports and sessions of namespace ${input.namespace} need its read token: the ${where}; ` +
        'open the URL with ?token=<token> or send Authorization: Bearer <token>',
      headers: challenge,
    };
  }
  if (input.readerToken === undefined || !tokenMatches(given, input.readerToken)) {
    // The same answer whether the Secret is missing or the token wrong: nothing to learn by probing.
    return { ok: false, status: 401, message: `wrong read token: use the one in the ${where}`, headers: challenge };
  }
  return { ok: true, setCookie: input.bearer === undefined && input.query !== undefined };
}
