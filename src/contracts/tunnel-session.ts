// Tunnel sessions: what the gateway, the browser agent, the report store and
// the CLI agree on.
//
// The gateway gives every accepted WebSocket a session id, returned to the
// client on the 101 and sent to the agent with the Tunnel's name on the
// upgrade request (and the recording order when the Tunnel records). The
// gateway PUTs the session's record to the report store when the session
// starts and again when it ends; then it POSTs how the session ended to the
// agent, which keeps or drops its recordings by the Tunnel's policy and PUTs
// the kept ones beside the record. Writers authenticate with the Tunnel's
// session token (Secret sessionTokenSecret(tunnel), owned by the Tunnel, made
// by the Tunnel controller); readers with the namespace's report read token.
// The store lists a Tunnel's sessions from what is stored, and deletes them
// with the Tunnel and after its --max-age: no object per session in etcd.
import { z } from 'zod';

/** On the 101 to the client and on the gateway's upgrade request to the agent. */
export const SESSION_ID_HEADER = 'x-fleetwright-session';
/** Gateway → agent: `<namespace>/<name>` of the Tunnel the session is of. */
export const SESSION_TUNNEL_HEADER = 'x-fleetwright-tunnel';
/** Gateway → agent: a RecordingOrder as JSON; absent when the Tunnel records nothing. */
export const SESSION_RECORDING_HEADER = 'x-fleetwright-recording';

/** 12 lowercase hex digits (48 random bits): unique among a Tunnel's sessions; the last part of its lease holder. */
export const SESSION_ID = /^[0-9a-f]{12}$/;

/** A Tunnel's spec.recording.video and .log values (the API imports nothing of ours: a unit test keeps them equal). */
export const RecordingPolicy = z.enum(['Never', 'Always', 'OnAbnormalClose']);
export type RecordingPolicy = z.infer<typeof RecordingPolicy>;

/** What the agent records of one session, and where it uploads what it keeps. */
export const RecordingOrder = z.object({
  video: RecordingPolicy,
  log: RecordingPolicy,
  /** The session's folder in the report store (sessionPath), as the agent reaches it; ends in `/`. */
  uploadUrl: z.url(),
  /** The Tunnel's session token; never logged. */
  token: z.string().min(1),
});
export type RecordingOrder = z.infer<typeof RecordingOrder>;

/** How a session ended, as the gateway saw it. */
export const SessionEnd = z.object({
  /** Who closed: the client, the browser, or the gateway (a timeout, a limit, shutdown). */
  by: z.enum(['client', 'browser', 'gateway']),
  code: z.int().min(1000).max(4999),
  reason: z.string().max(1024),
});
export type SessionEnd = z.infer<typeof SessionEnd>;

/**
 * A clean end is the client closing with 1000 or with no code (1005);
 * anything else (a timeout, a lost browser or client, an error code) is
 * abnormal, and OnAbnormalClose keeps its recordings.
 */
export const isAbnormalEnd = (end: SessionEnd) => !(end.by === 'client' && (end.code === 1000 || end.code === 1005));

/** Whether `policy` keeps a recording of a session that ended as `end`. */
export const keepsRecording = (policy: RecordingPolicy, end: SessionEnd) =>
  policy === 'Always' || (policy === 'OnAbnormalClose' && isAbnormalEnd(end));

/** The session record the gateway stores (SESSION_FILES.record), at the start and again at the end. */
export const SessionRecord = z.object({
  id: z.string().regex(SESSION_ID),
  namespace: z.string(),
  tunnel: z.string(),
  pool: z.string(),
  pod: z.string(),
  protocol: z.enum(['playwright', 'cdp']),
  /** The client's Playwright version from its User-Agent (`1.65.1`), or `cdp`; `unknown` when it sent none. */
  client: z.string().max(64),
  start: z.iso.datetime(),
  /** Set once the session has ended, with the rest below. */
  end: z.iso.datetime().optional(),
  durationMs: z.int().min(0).optional(),
  bytesFromClient: z.int().min(0).optional(),
  bytesToClient: z.int().min(0).optional(),
  close: SessionEnd.extend({ abnormal: z.boolean() }).optional(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

/** The files of a session's folder: the record (from the gateway) and the recordings (from the agent). */
export const SESSION_FILES = {
  record: 'session.json',
  video: 'video.webm',
  log: 'log.jsonl',
} as const;
export type SessionFile = (typeof SESSION_FILES)[keyof typeof SESSION_FILES];
export const SESSION_FILE_TYPES: Record<SessionFile, string> = {
  'session.json': 'application/json',
  'video.webm': 'video/webm',
  'log.jsonl': 'application/jsonl',
};

/** A session as the store lists it: the record with the URLs of the recordings it keeps. */
export const ListedSession = SessionRecord.extend({
  video: z.url().optional(),
  log: z.url().optional(),
});
export type ListedSession = z.infer<typeof ListedSession>;

/** `GET <sessionsPath>` answers `{ sessions: [...] }`, newest first. */
export const SessionListing = z.object({ sessions: z.array(ListedSession) });
export type SessionListing = z.infer<typeof SessionListing>;

/** Sessions are stored and served below this path: `<namespace>/<tunnel>/`, then `<id>/<file>`. */
export const SESSIONS_PREFIX = '/sessions/';
/** The list of a Tunnel's sessions (GET, read token). */
export const sessionsPath = (namespace: string, tunnel: string) =>
  `${SESSIONS_PREFIX}${encodeURIComponent(namespace)}/${encodeURIComponent(tunnel)}/`;
/** One session's folder: PUT and GET `<file>` below it. */
export const sessionPath = (namespace: string, tunnel: string, id: string) => `${sessionsPath(namespace, tunnel)}${id}/`;

/** The Secret holding a Tunnel's session token (key SESSION_TOKEN_KEY), owned by the Tunnel. */
export const sessionTokenSecret = (tunnel: string) => `${tunnel}-sessions`;
export const SESSION_TOKEN_KEY = 'token';
/** Label on a Tunnel's session-token Secret; its value is the Tunnel's name. */
export const SESSION_TOKEN_LABEL = 'fleetwright.dev/session-token';

/** Under the agent's WebSocket path: POST a SessionEnd to `<wsPath>/sessions/<id>/end` once the session is over. */
export const agentSessionPath = (wsPath: string, id: string) => `${wsPath}/sessions/${id}`;
/** How long the agent waits for the SessionEnd after the session's socket closed; then it takes the end as abnormal. */
export const SESSION_END_WAIT_MS = 10_000;

// Live view: under a Tunnel's path the gateway serves `sessions/<id>/live`
// (a page), `…/live/frames` (multipart/x-mixed-replace JPEG frames),
// `…/live/state` (LiveState) and `…/live/input` (POST a LiveInput) and
// proxies them to the same paths under agentSessionPath on the session's pod.
// Viewing takes the namespace's report read token (?token=); input takes
// spec.liveView.takeover and the Tunnel's own token (?takeover=). The gateway
// checks both and tells the agent with TAKEOVER_HEADER; the page carries its
// query string along to the URLs it loads.

export const LIVE_PATHS = { page: 'live', frames: 'live/frames', state: 'live/state', input: 'live/input' } as const;
/** Gateway → agent on live requests: `allowed` when this viewer may send input; the agent refuses input otherwise. */
export const TAKEOVER_HEADER = 'x-fleetwright-takeover';

export const LiveState = z.object({
  /** The page shown (the session's most recently active one); absent before it opens any. */
  url: z.string().optional(),
  title: z.string().optional(),
  /** Whether input is accepted from this viewer (decided by the gateway, told to the agent). */
  takeover: z.boolean(),
});
export type LiveState = z.infer<typeof LiveState>;

/** A viewer's input, in the coordinates of the frames it was shown. */
export const LiveInput = z.discriminatedUnion('type', [
  z.object({ type: z.literal('click'), x: z.number().min(0).max(10_000), y: z.number().min(0).max(10_000) }),
  z.object({ type: z.literal('text'), text: z.string().min(1).max(10_000) }),
  z.object({ type: z.literal('key'), key: z.enum(['Enter', 'Backspace', 'Tab', 'Escape', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight']) }),
]);
export type LiveInput = z.infer<typeof LiveInput>;
