// The report store's routes under /sessions/ (src/contracts/tunnel-session.ts):
// gateways PUT a session's record and browser agents its kept recordings,
// with the Tunnel's session token; readers, with the namespace's read token,
// GET the list of a Tunnel's sessions and each file. Decisions are
// session-paths.ts's, auth.ts's and session-listing.ts's; this file moves
// the bytes. Files are served whole (no Range requests).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { buffer } from 'node:stream/consumers';
import type { Logger } from 'pino';
import {
  SESSION_FILE_TYPES,
  SESSION_FILES,
  type SessionFile,
  SessionRecord,
  SESSIONS_PREFIX,
  type SessionListing,
} from '../contracts/tunnel-session.ts';
import { admitReader, BadBodyError, expectsContinue, receiveUpload, refuseUpload, text } from './answers.ts';
import { authorizeSessionUpload, type TokenSecretView, type TunnelView } from './auth.ts';
import { BASE_HEADERS, bearerToken } from './headers.ts';
import type { ReportMetrics, SessionFileLabel, UploadFailure } from './metrics.ts';
import type { RunRef } from './paths.ts';
import { listedSession, newestSessions, parseLimit, sessionFolders } from './session-listing.ts';
import { parseSessionRequest, sessionKey, tunnelSessionsPrefix } from './session-paths.ts';
import type { ReportStorage } from './storage.ts';
import type { BodyFormat } from './upload-body.ts';
import { UploadsInFlight } from './uploads.ts';

/** What the session routes read from the informer caches. */
export interface SessionState {
  tunnel(namespace: string, name: string): TunnelView | undefined;
  sessionSecret(namespace: string, tunnel: string): TokenSecretView | undefined;
  isTokenOfOtherTunnel(token: string, namespace: string, tunnel: string): boolean;
  readerToken(namespace: string): string | undefined;
}

export interface SessionRoutesDeps {
  state: SessionState;
  storage: ReportStorage;
  metrics: ReportMetrics;
  publicUrl: string;
  maxUploadBytes: number;
  log: Logger;
}

/** A record is a few hundred bytes; this bounds what is read into memory to check one. */
export const RECORD_MAX_BYTES = 64 * 1024;

const anything = (what: string): BodyFormat => ({ signatures: [], what, wrong: () => new BadBodyError(what) });
/** Every WebM file starts with the EBML header's ID. */
const WEBM: BodyFormat = {
  signatures: [Buffer.from([0x1a, 0x45, 0xdf, 0xa3])],
  what: 'a session video',
  wrong: () => new BadBodyError('a session video must be a WebM file (it starts with the EBML header)'),
};
const FORMATS: Record<SessionFile, BodyFormat> = {
  'session.json': anything('a session record'),
  'video.webm': WEBM,
  'log.jsonl': anything('a session log'),
};

const labelOf = (file: SessionFile) =>
  (Object.keys(SESSION_FILES) as SessionFileLabel[]).find((k) => SESSION_FILES[k] === file) ?? 'record';

/** Throws a BadBodyError unless `body` is a SessionRecord of the session its path names. */
export function checkRecord(body: Buffer, path: { namespace: string; tunnel: string; id: string }): void {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadBodyError('session.json is not JSON');
  }
  const parsed = SessionRecord.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadBodyError(`session.json is not a session record: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const { id, namespace, tunnel } = parsed.data;
  if (id !== path.id || namespace !== path.namespace || tunnel !== path.tunnel) {
    throw new BadBodyError(`session.json is of session ${namespace}/${tunnel}/${id}, not of ` +
      `${path.namespace}/${path.tunnel}/${path.id}, which the path names`);
  }
}

const tunnelRef = (ref: RunRef) => `Tunnel ${ref.namespace}/${ref.name}`;

export class SessionRoutes {
  /** Session files being stored: the store drains them before it stops. */
  readonly uploads = new UploadsInFlight();
  private readonly deps: SessionRoutesDeps;

  constructor(deps: SessionRoutesDeps) {
    this.deps = deps;
  }

  async handle(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    const request = parseSessionRequest(rawUrl);
    const method = req.method ?? 'GET';
    if (method === 'PUT') {
      if (request.kind === 'file') return this.upload(req, res, request.tunnel, request.id, request.file);
      const reason = request.kind === 'invalid' ? request.reason : 'PUT a session\'s files to /sessions/<namespace>/<tunnel>/<id>/<file>';
      const log = this.deps.log.child({ path: rawUrl.split('?', 1)[0] });
      return refuseUpload(req, res, { status: 400, failure: 'bad_request', message: reason }, {
        log,
        bodyComing: !expectsContinue(req),
        count: (result) => this.deps.metrics.sessionUploads.inc({ file: 'record', result }),
      });
    }
    switch (request.kind) {
      case 'unknown':
      case 'invalid':
        return text(res, 400, request.kind === 'invalid' ? request.reason : 'sessions are under /sessions/<namespace>/<tunnel>/');
      case 'list':
        return this.list(req, res, request.tunnel);
      case 'file':
        return this.serve(req, res, request.tunnel, request.id, request.file);
    }
  }

  private async upload(req: IncomingMessage, res: ServerResponse, ref: RunRef, id: string, file: SessionFile) {
    const { state, metrics, storage, maxUploadBytes } = this.deps;
    const log = this.deps.log.child({ namespace: ref.namespace, name: ref.name, session: id, file });
    const count = (result: UploadFailure | 'stored') => metrics.sessionUploads.inc({ file: labelOf(file), result });
    const decision = authorizeSessionUpload({
      ...ref,
      tunnel: state.tunnel(ref.namespace, ref.name),
      token: bearerToken(req.headers.authorization),
      secret: state.sessionSecret(ref.namespace, ref.name),
      tokenOfOtherTunnel: (token) => state.isTokenOfOtherTunnel(token, ref.namespace, ref.name),
    });
    if (!decision.ok) return refuseUpload(req, res, decision, { log, bodyComing: !expectsContinue(req), count });
    const { tunnel } = decision;
    const isRecord = file === SESSION_FILES.record;
    const key = `${ref.namespace}/${ref.name}/${id}/${file}`;
    this.uploads.begin(key);
    try {
      await receiveUpload(req, res, {
        log,
        count,
        storage,
        key: sessionKey(tunnel, id, file),
        maxBytes: isRecord ? Math.min(RECORD_MAX_BYTES, maxUploadBytes) : maxUploadBytes,
        format: FORMATS[file],
        check: isRecord ? (body) => checkRecord(body, { namespace: ref.namespace, tunnel: ref.name, id }) : undefined,
        stored: (bytes) => {
          count('stored');
          metrics.sessionBytes.inc({ direction: 'upload' }, bytes);
          log.debug({ bytes, uid: tunnel.uid }, 'stored a session file');
          return `stored ${file} of session ${id} of ${tunnelRef(ref)} (${bytes} bytes)`;
        },
      });
    } finally {
      this.uploads.end(key);
    }
  }

  /** The reader's admission, then the Tunnel as this incarnation of it; undefined once answered. */
  private admit(req: IncomingMessage, res: ServerResponse, ref: RunRef): TunnelView | undefined {
    const { state, publicUrl } = this.deps;
    const readerToken = state.readerToken(ref.namespace);
    const where = { publicUrl, area: SESSIONS_PREFIX, namespace: ref.namespace, readerToken };
    if (!admitReader(req, res, where)) return undefined;
    const tunnel = state.tunnel(ref.namespace, ref.name);
    if (!tunnel) text(res, 404, `${tunnelRef(ref)} not found: its sessions went with it`);
    return tunnel;
  }

  private async list(req: IncomingMessage, res: ServerResponse, ref: RunRef): Promise<void> {
    const { storage, publicUrl, log } = this.deps;
    const limit = parseLimit(new URL(req.url ?? '/', 'http://x').searchParams.get('limit'));
    if (typeof limit !== 'number') return text(res, 400, limit.error);
    const tunnel = this.admit(req, res, ref);
    if (!tunnel) return;
    const folders = sessionFolders(await storage.list(tunnelSessionsPrefix(tunnel)));
    const found = await newestSessions(folders, limit, async (id) => {
      const object = await storage.get(sessionKey(tunnel, id, SESSION_FILES.record));
      if (!object) return undefined;
      const text = (await buffer(object.body)).toString('utf8');
      let parsed: ReturnType<typeof SessionRecord.safeParse> | undefined;
      try {
        parsed = SessionRecord.safeParse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) log.warn({ namespace: ref.namespace, name: ref.name, session: id }, 'a stored session record does not parse');
      return parsed?.success ? parsed.data : undefined;
    });
    const listing: SessionListing = { sessions: found.map((f) => listedSession(f, publicUrl)) };
    const body = Buffer.from(JSON.stringify(listing));
    res.writeHead(200, { ...BASE_HEADERS, 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, ref: RunRef, id: string, file: SessionFile) {
    const tunnel = this.admit(req, res, ref);
    if (!tunnel) return;
    const object = await this.deps.storage.get(sessionKey(tunnel, id, file));
    if (!object) {
      return text(res, 404, `${tunnelRef(ref)} has no ${file} of session ${id}: the session does not exist, kept no such ` +
        'recording, or is older than the store\'s --max-age');
    }
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': SESSION_FILE_TYPES[file],
      'content-length': String(object.size),
      // What a session logged is the pages' text: never a document of the store's origin.
      'content-security-policy': 'sandbox; default-src \'none\'; media-src \'self\'',
    });
    if (req.method === 'HEAD') {
      object.body.destroy();
      return void res.end();
    }
    await pipeline(object.body, res).catch(() => undefined);
    this.deps.metrics.sessionBytes.inc({ direction: 'serve' }, object.size);
  }
}
