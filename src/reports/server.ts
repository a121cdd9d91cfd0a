// The report store's HTTP server: runners PUT their shard's blob report,
// readers GET the merged HTML report. Every decision is made by the pure
// functions of paths.ts and auth.ts from what the informer caches hold; this
// file moves the bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline, Transform } from 'node:stream';
import type { Logger } from 'pino';
import { DEPENDENCIES_PREFIX, DEPENDENCY_CACHE_TYPE, REPORTS_PREFIX } from '../contracts/report-store.ts';
import { SESSIONS_PREFIX } from '../contracts/tunnel-session.ts';
import { answerRoute, servingProbes } from '../runtime/http.ts';
import { admitReader, expectsContinue, query, receiveUpload, redirect, refuseUpload, text, type Upload } from './answers.ts';
import { authorizeUpload, type RunView, type TokenSecretView } from './auth.ts';
import { cacheObjectKey, parseCacheRequest } from './cache-paths.ts';
import { BASE_HEADERS, bearerToken, fileHeaders } from './headers.ts';
import type { ReportMetrics, UploadFailure } from './metrics.ts';
import { blobKey, htmlKey, parseReportRequest, type RunRef } from './paths.ts';
import { type SessionState, SessionRoutes } from './sessions-server.ts';
import type { ReportStorage } from './storage.ts';
import { GZIP, ZIP } from './upload-body.ts';
import type { UploadsInFlight } from './uploads.ts';

/** What the server reads from the informer caches. */
export interface StoreState extends SessionState {
  run(namespace: string, name: string): RunView | undefined;
  tokenSecret(namespace: string, run: string): TokenSecretView | undefined;
  isTokenOfOtherRun(token: string, namespace: string, run: string): boolean;
  readerToken(namespace: string): string | undefined;
  readonly ready: boolean;
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
  private readonly sessions: SessionRoutes;
  private draining = false;
  /** /healthz and /readyz, beside the reports: 503 while the caches sync and once draining. */
  private readonly probes = servingProbes(() => this.deps.state.ready, () => this.draining);

  constructor(deps: ReportServerDeps) {
    this.deps = deps;
    this.sessions = new SessionRoutes(deps);
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
    const inFlight = () => this.deps.uploads.total + this.sessions.uploads.total;
    while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.server.closeAllConnections();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?', 1)[0];
    if (answerRoute(this.probes, path ?? '', res, { logger: this.deps.log, what: 'health probes' }, BASE_HEADERS)) return;
    const method = req.method ?? 'GET';
    if (!['GET', 'HEAD', 'PUT'].includes(method)) {
      return text(res, 405, 'reports take GET, HEAD and PUT', { allow: 'GET, HEAD, PUT' });
    }
    if (path?.startsWith(DEPENDENCIES_PREFIX)) return this.dependencyCache(req, res, rawUrl);
    if (path?.startsWith(SESSIONS_PREFIX)) return this.sessions.handle(req, res, rawUrl);
    const request = parseReportRequest(method, rawUrl);
    switch (request.kind) {
      case 'unknown':
        return text(res, 404, 'not found: reports are under /reports/<namespace>/<testrun>/, sessions under ' +
          '/sessions/<namespace>/<tunnel>/');
      case 'invalid':
        if (method !== 'PUT') return text(res, 400, request.reason);
        return refuseUpload(req, res, { status: 400, failure: 'bad_request', message: request.reason }, {
          log: this.deps.log.child({ path: rawUrl.split('?', 1)[0] }),
          bodyComing: !expectsContinue(req),
          count: this.countFailure,
        });
      case 'upload':
        return this.upload(req, res, request.run, request.index);
      case 'root':
        // index.html loads its files relatively: it must be served from the folder.
        return redirect(res, 301, `${encodeURIComponent(request.run.name)}/${query(rawUrl)}`);
      case 'file':
        return this.serveFile(req, res, request.run, request.path);
    }
  }

  private readonly countFailure = (reason: UploadFailure) => this.deps.metrics.uploadFailures.inc({ reason });

  private async upload(req: IncomingMessage, res: ServerResponse, ref: RunRef, index: number): Promise<void> {
    const log = this.deps.log.child({ namespace: ref.namespace, name: ref.name, shard: index });
    return this.receive(req, res, ref, index, {
      log,
      format: ZIP,
      count: this.countFailure,
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
      return refuseUpload(req, res, { status: 400, message: reason }, { log, bodyComing, count: refused });
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
      return text(res, decision.status, decision.message, decision.headers);
    }
    const object = await storage.get(objectKey);
    if (!object) {
      metrics.dependencyCacheRequests.inc({ result: 'miss' });
      return text(res, 404, `no dependency cache entry ${key} in namespace ${ref.namespace}: install, then PUT it here`);
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
    target: Pick<Upload, 'log' | 'format' | 'count'> & {
      key: (run: RunView) => string;
      stored: (bytes: number, run: RunView) => string;
    },
  ): Promise<void> {
    const { metrics, storage, uploads, maxUploadBytes } = this.deps;
    const decision = this.authorize(req, ref, index);
    if (!decision.ok) {
      const { log, count } = target;
      return refuseUpload(req, res, decision, { log, bodyComing: !expectsContinue(req), count });
    }
    const { run } = decision;
    uploads.begin(runKey(ref));
    try {
      await receiveUpload(req, res, {
        ...target,
        storage,
        maxBytes: maxUploadBytes,
        key: target.key(run),
        stored: (bytes) => {
          metrics.bytes.inc({ direction: 'upload' }, bytes);
          return target.stored(bytes, run);
        },
      });
    } finally {
      uploads.end(runKey(ref));
    }
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, ref: RunRef, path: string): Promise<void> {
    const { state, storage, metrics, publicUrl } = this.deps;
    const readerToken = state.readerToken(ref.namespace);
    if (!admitReader(req, res, { publicUrl, area: REPORTS_PREFIX, namespace: ref.namespace, readerToken })) return;
    const run = state.run(ref.namespace, ref.name);
    const missing = `no report for TestRun ${runKey(ref)}: it does not exist, has not finished and been merged yet, ` +
      'had no shard reports uploaded, or its report is older than the store\'s --max-age';
    if (!run) return text(res, 404, missing);
    const object = await storage.get(htmlKey(run, path));
    if (!object) return text(res, 404, path === '' ? missing : `the report of TestRun ${runKey(ref)} has no file ${path}`);
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

  /** Never a stack trace to the client: the log has it. */
  private internal(err: unknown, res: ServerResponse): void {
    this.deps.log.error({ err }, 'report store request failed');
    if (res.headersSent) return void res.destroy();
    text(res, 500, 'internal error');
  }
}
