// Pure: the live view of a Tunnel session, as the gateway serves it under the
// Tunnel's path: which request a path is, and who may make it (the contract
// is in src/contracts/tunnel-session.ts).
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { LIVE_PATHS, SESSION_ID } from '../contracts/tunnel-session.ts';
import { tokenMatches } from '../runtime/tokens.ts';

export type LivePath = (typeof LIVE_PATHS)[keyof typeof LIVE_PATHS];
const livePaths = new Set<string>(Object.values(LIVE_PATHS));

const SESSIONS = '/sessions/';

/**
 * `/sessions/<id>/live…` below a Tunnel's path: the session and the live
 * path; a 404 reason for any other path under `/sessions/` (never a browser's
 * to answer); undefined for paths outside it.
 */
export function liveTarget(rest: string): { id: string; path: LivePath } | { notFound: string } | undefined {
  if (!rest.startsWith(SESSIONS)) return undefined;
  const [id = '', ...path] = rest.slice(SESSIONS.length).split('/');
  const joined = path.join('/');
  if (!SESSION_ID.test(id)) return { notFound: 'not a session id: ids are 12 hex digits, as fleetwright sessions lists them' };
  if (!livePaths.has(joined)) return { notFound: `a session's live view is at sessions/${id}/${LIVE_PATHS.page}` };
  return { id, path: joined as LivePath };
}

export interface LiveAccess {
  namespace: string;
  /** The namespace's report read token; undefined when its Secret is missing. */
  readerToken?: string;
  /** The Tunnel's own token, which takes over. */
  tunnelToken?: string;
  /** spec.liveView.takeover. */
  takeoverAllowed: boolean;
  /** The read token the viewer sent (Authorization: Bearer or ?token=). */
  token?: string;
  /** What the viewer sent as ?takeover=. */
  takeover?: string;
  /** Whether the request is input (LIVE_PATHS.input). */
  input: boolean;
}

export type LiveDecision = { ok: true; takeover: boolean } | {
  ok: false;
  status: number;
  reason: string;
  headers?: Record<string, string>;
};

const challenge = { 'www-authenticate': 'Bearer realm="fleetwright"' };

/**
 * Viewing takes the namespace's read token; input also takes the Tunnel's
 * takeover setting and its token in ?takeover=. A viewer whose takeover fails
 * still watches; only its input is refused.
 */
export function authorizeLive(access: LiveAccess): LiveDecision {
  const where = `Secret ${REPORT_READER_SECRET} (key ${REPORT_TOKEN_KEY}) in namespace ${access.namespace}`;
  if (access.token === undefined) {
    return { ok: false, status: 401, reason: `the live view needs the read token of the ${where}: add ?token=`, headers: challenge };
  }
  if (access.readerToken === undefined || !tokenMatches(access.token, access.readerToken)) {
    return { ok: false, status: 401, reason: `wrong read token: use the one in the ${where}`, headers: challenge };
  }
  const takeover = access.takeoverAllowed && access.takeover !== undefined && access.tunnelToken !== undefined &&
    tokenMatches(access.takeover, access.tunnelToken);
  if (!access.input || takeover) return { ok: true, takeover };
  if (!access.takeoverAllowed) {
    return {
      ok: false,
      status: 403,
      reason: 'this Tunnel\'s live view is for watching only (spec.liveView.takeover is false): ask its owner to allow takeover',
    };
  }
  return {
    ok: false,
    status: 401,
    reason: access.takeover === undefined
      ? 'input needs the Tunnel\'s token as ?takeover=<token>'
      : 'wrong takeover token: use the Tunnel\'s own token',
    headers: challenge,
  };
}
