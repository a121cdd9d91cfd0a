// Uploading a shard's Playwright blob report to the report store: one
// streamed PUT of the zip with the run's upload token, retried while the
// failure may pass (network errors, 408, 429, 5xx) and the time allowed
// lasts. The outcome only goes into the shard summary: a report that could
// not be uploaded never changes the shard's counts or the exit code.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';

/** Time an upload may take after Playwright ends normally, retries included. */
export const UPLOAD_BUDGET_MS = 60_000;
/**
 * Time an upload may take after the runner is told to stop: the kubelet
 * kills the pod 10 s after SIGTERM (terminationGracePeriodSeconds), and
 * the summary must be written before that.
 */
export const STOPPING_BUDGET_MS = 8_000;
const MAX_ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;
/** Of the store's answer, what the reason keeps. */
const MAX_REASON_BODY = 300;

/**
 * When the upload has to stop: UPLOAD_BUDGET_MS from the start, brought
 * forward when the runner is told to stop. Its signal aborts the request
 * in flight and the wait between attempts.
 */
export class Deadline {
  private at: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();
  private readonly now: () => number;

  constructor(ms: number, now: () => number = Date.now) {
    this.now = now;
    this.at = now() + ms;
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get remainingMs(): number {
    return Math.max(0, this.at - this.now());
  }

  /** Brings the deadline forward to `ms` from now; never moves it later. */
  shorten(ms: number): void {
    const at = this.now() + ms;
    if (at >= this.at) return;
    this.at = at;
    this.arm();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const left = this.at - this.now();
    if (left <= 0) this.controller.abort(new Error('out of time'));
    else this.timer = setTimeout(() => this.controller.abort(new Error('out of time')), left).unref();
  }
}

export type UploadOutcome =
  | { ok: true; attempts: number; bytes: number } |
  { ok: false; attempts: number; reason: string };

interface Answer {
  status: number;
  body: string;
  retryAfterMs?: number;
}

/** Retry-After in seconds (RFC 9110 also allows a date, which the store does not send). */
function retryAfter(response: IncomingMessage): number | undefined {
  const value = Number(response.headers['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
}

/**
 * How long to wait for `100 Continue` before sending the body all the same
 * (RFC 9110 §10.1.1; curl waits 1 s too): a server or proxy may not answer it.
 */
const CONTINUE_TIMEOUT_MS = 1_000;

/**
 * One PUT of `file`, streamed, with `Expect: 100-continue`: a store that
 * refuses the upload (a wrong token, a report over its limit) says so
 * before a byte of the zip is sent. Resolves with the answer; rejects on a
 * network error or abort.
 */
function put(url: URL, file: string, size: number, token: string, type: string, signal: AbortSignal): Promise<Answer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let sending = false;
    const req = request(url, {
      method: 'PUT',
      headers: {
        'authorization': `Bearer ${token}`,
        'content-type': type,
        'content-length': String(size),
        'expect': '100-continue',
      },
      signal,
    }, (response) => {
      clearTimeout(waiting);
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < MAX_REASON_BODY) body += chunk;
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body, retryAfterMs: retryAfter(response) });
        // Answered before the body went out: the request can never be completed, only dropped.
        if (!sending) req.destroy();
      });
      response.on('error', reject);
    });
    const send = () => {
      clearTimeout(waiting);
      if (sending) return;
      sending = true;
      const stream = createReadStream(file);
      stream.on('error', (err) => req.destroy(err));
      stream.pipe(req);
    };
    const waiting = setTimeout(send, CONTINUE_TIMEOUT_MS);
    req.on('continue', send);
    req.on('error', (err) => {
      clearTimeout(waiting);
      reject(err);
    });
  });
}

/** 408, 429 and 5xx may pass; every other refusal (401, 403, 404, 409, 413…) is final. */
export const isTransientStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** Before attempt n+1 (n >= 1): 0.5 s, 1 s, 2 s… up to 8 s, or what Retry-After asks within that. */
export const backoffMs = (attempt: number, retryAfterMs?: number) =>
  Math.min(retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS);

function describeAnswer(answer: Answer): string {
  const text = answer.body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return `the report store answered HTTP ${answer.status}${text ? `: ${text}` : ''}`;
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` ${e.message}` : ''}` : String(e.message ?? err);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface UploadRequest {
  /** The blob report zip. */
  file: string;
  url: string;
  /** The file holding the upload token. */
  tokenFile: string;
  deadline: Deadline;
  log: Logger;
  /** The body's media type; a blob report's zip unless said otherwise. */
  contentType?: string;
}

/** Uploads the report; never throws: what went wrong is the outcome's reason. */
export async function uploadReport(request: UploadRequest): Promise<UploadOutcome> {
  const { file, deadline, log } = request;
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { ok: false, attempts: 0, reason: 'Playwright wrote no blob report (it stopped before its reporters ran)' };
  }
  let token: string;
  try {
    token = readFileSync(request.tokenFile, 'utf8').trim();
  } catch (err) {
    return { ok: false, attempts: 0, reason: `cannot read the upload token ${request.tokenFile}: ${describeError(err)}` };
  }
  if (!token) return { ok: false, attempts: 0, reason: `the upload token file ${request.tokenFile} is empty` };
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { ok: false, attempts: 0, reason: `the upload URL ${request.url} is not a URL` };
  }

  let reason = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const answer = await put(url, file, size, token, request.contentType ?? 'application/zip', deadline.signal);
      if (answer.status >= 200 && answer.status < 300) return { ok: true, attempts: attempt, bytes: size };
      reason = describeAnswer(answer);
      if (!isTransientStatus(answer.status)) return { ok: false, attempts: attempt, reason };
      retryAfterMs = answer.retryAfterMs;
    } catch (err) {
      if (deadline.signal.aborted) {
        return { ok: false, attempts: attempt, reason: `out of time after ${attempt} attempt(s)${reason ? `; last: ${reason}` : ''}` };
      }
      reason = describeError(err);
    }
    if (attempt === MAX_ATTEMPTS) break;
    const wait = backoffMs(attempt, retryAfterMs);
    if (wait >= deadline.remainingMs) {
      return { ok: false, attempts: attempt, reason: `out of time after ${attempt} attempt(s); last: ${reason}` };
    }
    log.info({ attempt, reason, retryInMs: wait }, 'report upload failed; retrying');
    await sleep(wait, deadline.signal);
    if (deadline.signal.aborted) {
      return { ok: false, attempts: attempt, reason: `out of time after ${attempt} attempt(s); last: ${reason}` };
    }
  }
  return { ok: false, attempts: MAX_ATTEMPTS, reason: `${reason} (after ${MAX_ATTEMPTS} attempts)` };
}
