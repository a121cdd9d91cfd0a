// The HTTP mechanics every route of the report store shares: plain answers,
// an upload refused without resetting the client, a body streamed into
// storage under its limit, and a reader admitted by the namespace's read
// token (with the cookie and redirect for ?token=). The decisions are the
// pure functions' of auth.ts; these move bytes and headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Logger } from 'pino';
import { authorizeRead, type Refusal } from './auth.ts';
import { BASE_HEADERS, bearerToken, cookieToken, readCookie } from './headers.ts';
import type { UploadFailure } from './metrics.ts';
import type { ReportStorage } from './storage.ts';
import { type BodyFormat, declaredLength, NotGzipError, NotZipError, TooLargeError, UploadBody } from './upload-body.ts';

export function text(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${message}\n`);
}

export function redirect(
  res: ServerResponse,
  status: 301 | 303,
  location: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', location, ...headers });
  res.end(`see ${location}\n`);
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c] ?? c);

/** A page that moves on to `location` by itself (no script: the CSP allows none of another origin anyway). */
function refresh(res: ServerResponse, location: string, cookie: string): void {
  const href = escapeHtml(location);
  res.writeHead(200, {
    ...BASE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': 'default-src \'none\'',
    'cache-control': 'private, no-store',
    'set-cookie': cookie,
  });
  res.end(`<!doctype html><meta http-equiv="refresh" content="0; url=${href}"><title>Report</title>` +
    `<a href="${href}">Open the report</a>\n`);
}

/** `?…` of a raw request URL, or ''. */
export function query(rawUrl: string): string {
  const at = rawUrl.indexOf('?');
  return at < 0 ? '' : rawUrl.slice(at);
}

export const expectsContinue = (req: IncomingMessage) => req.headers.expect?.toLowerCase() === '100-continue';

/**
 * Admits a reader with the namespace's read token, or answers for it: a
 * refusal, or (for ?token=) the cookie and a redirect to the same URL
 * without the token. `area` is the path prefix the cookie is for
 * (REPORTS_PREFIX, SESSIONS_PREFIX). Resolves with whether the request may
 * go on.
 */
export function admitReader(
  req: IncomingMessage,
  res: ServerResponse,
  where: { publicUrl: string; area: string; namespace: string; readerToken: string | undefined },
): boolean {
  const params = new URLSearchParams(query(req.url ?? '').slice(1));
  const decision = authorizeRead({
    namespace: where.namespace,
    readerToken: where.readerToken,
    bearer: bearerToken(req.headers.authorization),
    query: params.get('token') ?? undefined,
    cookie: cookieToken(req.headers.cookie),
  });
  if (!decision.ok) {
    text(res, decision.status, decision.message, decision.headers);
    return false;
  }
  if (!decision.setCookie) return true;
  // The same URL without the token, so it is neither bookmarked nor kept in the history.
  const cookie = readCookie(where.publicUrl, where.area, where.namespace, params.get('token') ?? '');
  params.delete('token');
  const rest = params.size > 0 ? `?${params}` : '';
  const last = (req.url ?? '').split('?', 1)[0]?.split('/').at(-1) ?? '';
  const location = `./${last}${rest}`;
  // A browser does not send a SameSite=Strict cookie on a redirect that a link on another site
  // (a CI system, a chat) started. From such a link, a page of ours moves on: that navigation is
  // same-site, so the cookie goes with it.
  if (req.headers['sec-fetch-site'] === 'cross-site') refresh(res, location, cookie);
  else redirect(res, 303, location, { 'set-cookie': cookie });
  return false;
}

export class UploadAborted extends Error {
  constructor() {
    super('the client went away before its upload was complete');
    this.name = 'UploadAborted';
  }
}

/** A body that fails its route's own check (a session record that does not match its path). */
export class BadBodyError extends Error {}

/** What a failed put means for the client and the failure metric. */
function uploadFailure(err: unknown): Refusal {
  if (err instanceof TooLargeError) return { status: 413, failure: 'too_large', message: err.message };
  if (err instanceof NotZipError || err instanceof NotGzipError || err instanceof BadBodyError) {
    return { status: 400, failure: 'bad_request', message: err.message };
  }
  if (err instanceof UploadAborted) return { status: 400, failure: 'aborted', message: err.message };
  return {
    status: 503,
    failure: 'storage_error',
    message: 'the report store could not store the upload: retry later',
    headers: { 'retry-after': '5' },
  };
}

/** How much of a refused body is read and dropped before the connection is cut instead. */
const DISCARD_BYTES = 1024 * 1024;

function discard(req: IncomingMessage): void {
  let left = DISCARD_BYTES;
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) req.socket.destroy();
  });
  req.resume();
}

export interface RefusalContext {
  log: Logger;
  err?: unknown;
  /** Whether the client sends its body without waiting for 100 Continue. */
  bodyComing: boolean;
  /** Counts the refusal in the route's metric. */
  count: (reason: UploadFailure) => void;
}

export function refuseUpload(req: IncomingMessage, res: ServerResponse, refusal: Refusal, context: RefusalContext) {
  const { log, err, bodyComing } = context;
  const reason: UploadFailure = refusal.failure ?? 'bad_request';
  context.count(reason);
  const level = reason === 'storage_error' ? 'error' : 'warn';
  log[level]({ status: refusal.status, reason, ...(err ? { err: String(err) } : {}) }, `refused an upload: ${refusal.message}`);
  if (res.destroyed) return;
  const headers = { ...refusal.headers };
  if (!req.complete) {
    // Read and drop what the client still sends: closing a socket with unread data resets it, and the
    // client might never read this answer. One that waits for 100 Continue sends nothing: close.
    if (bodyComing) discard(req);
    else headers.connection = 'close';
  }
  text(res, refusal.status, refusal.message, headers);
}

export interface Upload {
  log: Logger;
  count: (reason: UploadFailure) => void;
  storage: ReportStorage;
  key: string;
  maxBytes: number;
  format: BodyFormat;
  /** Checks the whole body before it is stored (throws a BadBodyError); unset: the body streams into storage. */
  check?: (body: Buffer) => void;
  /** Called once stored, with the size; returns the answer's text. */
  stored: (bytes: number) => string;
}

/**
 * An authorized PUT: its declared length checked, 100 Continue sent, the
 * body streamed (or, with `check`, read whole) into storage under the limit.
 * Resolves once answered.
 */
export async function receiveUpload(req: IncomingMessage, res: ServerResponse, upload: Upload): Promise<void> {
  const { log, count } = upload;
  // A client that sends `Expect: 100-continue` sends its body only once told to.
  let bodyComing = !expectsContinue(req);
  const refuse = (refusal: Refusal, err?: unknown) => refuseUpload(req, res, refusal, { log, err, bodyComing, count });
  const declared = declaredLength(req.headers);
  if (Number.isNaN(declared)) return refuse({ status: 400, failure: 'bad_request', message: 'Content-Length is not a number' });
  if (declared !== undefined && declared > upload.maxBytes) {
    return refuse({ status: 413, failure: 'too_large', message: new TooLargeError(upload.maxBytes, upload.format.what).message });
  }
  if (!bodyComing) {
    res.writeContinue();
    bodyComing = true;
  }
  const body = new UploadBody(upload.maxBytes, upload.format);
  // Not pipeline(): it would destroy the request, and with it the socket the refusal goes out on.
  req.pipe(body);
  req.once('close', () => req.complete || body.destroy(new UploadAborted()));
  try {
    let source: Readable = body;
    if (upload.check) {
      const whole = await buffer(body);
      upload.check(whole);
      source = Readable.from([whole]);
    }
    const bytes = await upload.storage.put(upload.key, source);
    text(res, 201, upload.stored(bytes));
  } catch (err) {
    req.unpipe(body);
    refuse(uploadFailure(err), err);
  }
}
