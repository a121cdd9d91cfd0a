// The report store's HTTP server: runners PUT their shard's blob report,
// readers GET the merged HTML report. Every decision is made by the pure
// functions of paths.ts and auth.ts from what the informer caches hold; this
// file moves the bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline, Transform } from 'node:stream';
import type { Logger } from 'pino';
import { DEPENDENCIES_PREFIX, DEPENDENCY_CACHE_TYPE } from '../contracts/report-store.ts';
import { answerRoute, servingProbes } from '../runtime/http.ts';
import { authorizeRead, authorizeUpload, type Refusal, type RunView, type TokenSecretView } from './auth.ts';
import { cacheObjectKey, parseCacheRequest } from './cache-paths.ts';
import { BASE_HEADERS, bearerToken, cookieToken, fileHeaders, readCookie } from './headers.ts';
import type { ReportMetrics, UploadFailure } from './metrics.ts';
import { blobKey, htmlKey, parseReportRequest, type RunRef } from './paths.ts';
import type { ReportStorage } from './storage.ts';
import { GZIP, NotGzipError, NotZipError, TooLargeError, UploadBody, declaredLength, type BodyFormat } from './upload-body.ts';

/** What the server reads from the informer caches. */
export interface StoreState {
  run(namespace: string, name: string): RunView | undefined;
  tokenSecret(namespace: string, run: string): TokenSecretView | undefined;
  isTokenOfOtherRun(token: string, namespace: string, run: string): boolean;
  readerToken(namespace: string): string | undefined;
  readonly ready: boolean;
}

/** Uploads being stored, by `namespace/name`: a run is merged only once its last upload is in. */
export class UploadsInFlight {
  private readonly counts = new Map<string, number>();
  private readonly onIdle: (key: string) => void;

  constructor(onIdle: (key: string) => void = () => undefined) {
    this.onIdle = onIdle;
  }

  begin(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  end(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n > 0) return void this.counts.set(key, n);
    this.counts.delete(key);
    this.onIdle(key);
  }

  active(key: string): boolean {
    return this.counts.has(key);
  }

  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}

export interface ReportServerDeps {
  state: StoreState;
  storage: ReportStorage;
  metrics: ReportMetrics;
  uploads: UploadsInFlight;
  publicUrl: string;
  maxUploadBytes: number;
  log: Logger;
}

const runKey = (run: RunRef) => `${run.namespace}/${run.name}`;

export class ReportServer {
  readonly server: Server;
  private readonly deps: ReportServerDeps;
  private draining = false;
  /** /healthz and /readyz, beside the reports: 503 while the caches sync and once draining. */
  private readonly probes = servingProbes(() => this.deps.state.ready, () => this.draining);

  constructor(deps: ReportServerDeps) {
    this.deps = deps;
    this.server = createServer({ headersTimeout: 10_000, requestTimeout: 0, connectionsCheckingInterval: 1_000 });
    const handle = (req: IncomingMessage, res: ServerResponse) =>
      void this.onRequest(req, res).catch((err: unknown) => this.internal(err, res));
    this.server.on('request', handle);
    // Answer `Expect: 100-continue` ourselves: a refused upload is refused before its body is sent.
    this.server.on('checkContinue', handle);
  }

  /** Stops taking requests and waits up to `timeoutMs` for the uploads in flight. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    const deadline = Date.now() + timeoutMs;
    while (this.deps.uploads.total > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.server.closeAllConnections();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?', 1)[0];
    if (answerRoute(this.probes, path ?? '', res, { logger: this.deps.log, what: 'health probes' }, BASE_HEADERS)) return;
    const method = req.method ?? 'GET';
    if (!['GET', 'HEAD', 'PUT'].includes(method)) {
      return this.text(res, 405, 'reports take GET, HEAD and PUT', { allow: 'GET, HEAD, PUT' });
    }
    if (path?.startsWith(DEPENDENCIES_PREFIX)) return this.dependencyCache(req, res, rawUrl);
    const request = parseReportRequest(method, rawUrl);
    switch (request.kind) {
      case 'unknown':
        return this.text(res, 404, 'not found: reports are under /reports/<namespace>/<testrun>/');
      case 'invalid':
        if (method !== 'PUT') return this.text(res, 400, request.reason);
        return this.refuseUpload(req, res, { status: 400, failure: 'bad_request', message: request.reason }, {
          log: this.deps.log.child({ path: rawUrl.split('?', 1)[0] }),
          bodyComing: !expectsContinue(req),
        });
      case 'upload':
        return this.upload(req, res, request.run, request.index);
      case 'root':
        // index.html loads its files relatively: it must be served from the folder.
        return this.redirect(res, 301, `${encodeURIComponent(request.run.name)}/${query(rawUrl)}`);
      case 'file':
        return this.serveFile(req, res, request.run, request.path);
    }
  }

  private async upload(req: IncomingMessage, res: ServerResponse, ref: RunRef, index: number): Promise<void> {
    const log = this.deps.log.child({ namespace: ref.namespace, name: ref.name, shard: index });
    return this.receive(req, res, ref, index, {
      log,
      format: undefined,
      key: (run) => blobKey(run, index),
      stored: (bytes, run) => {
        log.info({ bytes, uid: run.uid }, 'stored the shard\'s blob report');
        return `stored the report of shard ${index} of TestRun ${runKey(ref)} (${bytes} bytes)`;
      },
    });
  }

  /** A runner's dependency cache entry: GET (hit or miss) or PUT (stored), with its run's upload token. */
  private async dependencyCache(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    const { metrics, storage, log: baseLog } = this.deps;
    const request = parseCacheRequest(rawUrl);
    const bodyComing = !expectsContinue(req);
    const log = baseLog.child({ path: rawUrl.split('?', 1)[0] });
    const refused = () => metrics.dependencyCacheRequests.inc({ result: 'refused' });
    if (request.kind !== 'entry') {
      const reason = request.kind === 'invalid' ? request.reason : 'not found';
      return this.refuseUpload(req, res, { status: 400, message: reason }, { log, bodyComing, count: refused });
    }
    const { run: ref, key } = request;
    const objectKey = cacheObjectKey(ref.namespace, key);
    if (req.method === 'PUT') {
      return this.receive(req, res, ref, 1, {
        log,
        format: GZIP,
        count: refused,
        key: () => objectKey,
        stored: (bytes) => {
          metrics.dependencyCacheRequests.inc({ result: 'stored' });
          log.info({ namespace: ref.namespace, key, bytes }, 'stored a dependency cache entry');
          return `stored dependency cache entry ${key} of namespace ${ref.namespace} (${bytes} bytes)`;
        },
      });
    }
    const decision = this.authorize(req, ref, 1);
    if (!decision.ok) {
      refused();
      return this.text(res, decision.status, decision.message, decision.headers);
    }
    const object = await storage.get(objectKey);
    if (!object) {
      metrics.dependencyCacheRequests.inc({ result: 'miss' });
      return this.text(res, 404, `no dependency cache entry ${key} in namespace ${ref.namespace}: install, then PUT it here`);
    }
    metrics.dependencyCacheRequests.inc({ result: 'hit' });
    res.writeHead(200, { ...BASE_HEADERS, 'content-type': DEPENDENCY_CACHE_TYPE, 'content-length': String(object.size) });
    if (req.method === 'HEAD') {
      object.body.destroy();
      return void res.end();
    }
    await new Promise<void>((resolve) => pipeline(object.body, res, () => resolve()));
    metrics.bytes.inc({ direction: 'serve' }, object.size);
  }

  private authorize(req: IncomingMessage, ref: RunRef, index: number) {
    const { state } = this.deps;
    return authorizeUpload({
      ...ref,
      index,
      run: state.run(ref.namespace, ref.name),
      token: bearerToken(req.headers.authorization),
      secret: state.tokenSecret(ref.namespace, ref.name),
      tokenOfOtherRun: (token) => state.isTokenOfOtherRun(token, ref.namespace, ref.name),
    });
  }

  /** A body PUT with the run's upload token, checked while it streams into `key`. */
  private async receive(
    req: IncomingMessage,
    res: ServerResponse,
    ref: RunRef,
    index: number,
    target: {
      log: Logger;
      format: BodyFormat | undefined;
      count?: () => void;
      key: (run: RunView) => string;
      stored: (bytes: number, run: RunView) => string;
    },
  ): Promise<void> {
    const { metrics, storage, uploads } = this.deps;
    const { log, count } = target;
    const decision = this.authorize(req, ref, index);
    // A client that sends `Expect: 100-continue` sends its body only once told to.
    let bodyComing = !expectsContinue(req);
    const refuse = (refusal: Refusal, err?: unknown) =>
      this.refuseUpload(req, res, refusal, { log, err, bodyComing, count });
    if (!decision.ok) return refuse(decision);
    const declared = declaredLength(req.headers);
    if (Number.isNaN(declared)) return refuse({ status: 400, failure: 'bad_request', message: 'Content-Length is not a number' });
    if (declared !== undefined && declared > this.deps.maxUploadBytes) {
      const message = new TooLargeError(this.deps.maxUploadBytes, target.format?.what).message;
      return refuse({ status: 413, failure: 'too_large', message });
    }
    if (!bodyComing) {
      res.writeContinue();
      bodyComing = true;
    }

    const { run } = decision;
    const body = new UploadBody(this.deps.maxUploadBytes, target.format);
    // Not pipeline(): it would destroy the request, and with it the socket the refusal goes out on.
    req.pipe(body);
    req.once('close', () => req.complete || body.destroy(new UploadAborted()));
    uploads.begin(runKey(ref));
    try {
      const bytes = await storage.put(target.key(run), body);
      metrics.bytes.inc({ direction: 'upload' }, bytes);
      this.text(res, 201, target.stored(bytes, run));
    } catch (err) {
      req.unpipe(body);
      refuse(uploadFailure(err), err);
    } finally {
      uploads.end(runKey(ref));
    }
  }

  private refuseUpload(
    req: IncomingMessage,
    res: ServerResponse,
    refusal: Refusal,
    { log, err, bodyComing, count }: { log: Logger; err?: unknown; bodyComing: boolean; count?: () => void },
  ): void {
    const reason: UploadFailure = refusal.failure ?? 'bad_request';
    // A refused cache request is counted as one; every other is a refused report upload.
    if (count) count();
    else this.deps.metrics.uploadFailures.inc({ reason });
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
    this.text(res, refusal.status, refusal.message, headers);
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, ref: RunRef, path: string): Promise<void> {
    const { state, storage, metrics } = this.deps;
    const params = new URLSearchParams(query(req.url ?? '').slice(1));
    const decision = authorizeRead({
      namespace: ref.namespace,
      readerToken: state.readerToken(ref.namespace),
      bearer: bearerToken(req.headers.authorization),
      query: params.get('token') ?? undefined,
      cookie: cookieToken(req.headers.cookie),
    });
    if (!decision.ok) return this.text(res, decision.status, decision.message, decision.headers);
    if (decision.setCookie) {
      // The same URL without the token, so it is neither bookmarked nor kept in the history.
      const cookie = readCookie(this.deps.publicUrl, ref.namespace, params.get('token') ?? '');
      params.delete('token');
      const rest = params.size > 0 ? `?${params}` : '';
      const last = (req.url ?? '').split('?', 1)[0]?.split('/').at(-1) ?? '';
      const location = `./${last}${rest}`;
      // A browser does not send a SameSite=Strict cookie on a redirect that a link on another site
      // (a CI system, a chat) started. From such a link, a page of ours moves on: that navigation is
      // same-site, so the cookie goes with it.
      if (req.headers['sec-fetch-site'] === 'cross-site') return this.refresh(res, location, cookie);
      return this.redirect(res, 303, location, { 'set-cookie': cookie });
    }
    const run = state.run(ref.namespace, ref.name);
    const missing = `no report for TestRun ${runKey(ref)}: it does not exist, has not finished and been merged yet, ` +
      'had no shard reports uploaded, or its report is older than the store\'s --max-age';
    if (!run) return this.text(res, 404, missing);
    const object = await storage.get(htmlKey(run, path));
    if (!object) return this.text(res, 404, path === '' ? missing : `the report of TestRun ${runKey(ref)} has no file ${path}`);
    res.writeHead(200, fileHeaders(path, object.size));
    if (req.method === 'HEAD') {
      object.body.destroy();
      return void res.end();
    }
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sent += chunk.length;
        callback(null, chunk);
      },
    });
    await new Promise<void>((resolve) => pipeline(object.body, counter, res, () => resolve()));
    metrics.bytes.inc({ direction: 'serve' }, sent);
  }

  private redirect(res: ServerResponse, status: 301 | 303, location: string, headers: Record<string, string> = {}) {
    res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', location, ...headers });
    res.end(`see ${location}\n`);
  }

  /** A page that moves on to `location` by itself (no script: the CSP allows none of another origin anyway). */
  private refresh(res: ServerResponse, location: string, cookie: string): void {
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

  private text(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(`${message}\n`);
  }

  /** Never a stack trace to the client: the log has it. */
  private internal(err: unknown, res: ServerResponse): void {
    this.deps.log.error({ err }, 'report store request failed');
    if (res.headersSent) return void res.destroy();
    this.text(res, 500, 'internal error');
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c] ?? c);

/** `?…` of a raw request URL, or ''. */
function query(rawUrl: string): string {
  const at = rawUrl.indexOf('?');
  return at < 0 ? '' : rawUrl.slice(at);
}

class UploadAborted extends Error {
  constructor() {
    super('the client went away before its upload was complete');
    this.name = 'UploadAborted';
  }
}

/** What a failed put means for the client and the failure metric. */
function uploadFailure(err: unknown): Refusal {
  if (err instanceof TooLargeError) return { status: 413, failure: 'too_large', message: err.message };
  if (err instanceof NotZipError || err instanceof NotGzipError) {
    return { status: 400, failure: 'bad_request', message: err.message };
  }
  if (err instanceof UploadAborted) return { status: 400, failure: 'aborted', message: err.message };
  return {
    status: 503,
    failure: 'storage_error',
    message: 'the report store could not store the report: retry later',
    headers: { 'retry-after': '5' },
  };
}

const expectsContinue = (req: IncomingMessage) => req.headers.expect?.toLowerCase() === '100-continue';

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
