import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { keepAlive } from './agents.ts';

/**
 * A non-2xx answer of the API server, with its `metav1.Status`. `code` has
 * the same name as client-node's `ApiException.code`, so `statusCode()`
 * reads both.
 */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(method: string, path: string, code: number, status: { message?: string; reason?: string }) {
    super(`${method} ${path}: ${code} ${status.reason ?? ''} ${status.message ?? ''}`.trim());
    this.name = 'ApiError';
    this.code = code;
    this.reason = status.reason ?? '';
  }
}

/** The HTTP status of an error from this client, client-node's typed APIs or its Watch; undefined for others. */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isConflict = (err: unknown) => statusCode(err) === 409;
export const isNotFound = (err: unknown) => statusCode(err) === 404;
export const isGone = (err: unknown) => statusCode(err) === 410;

/** The request's result, or undefined when the object is not there (controller-runtime's IgnoreNotFound). */
export async function ignoreNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export type RequestObserver = (method: string, code: number) => void;

/**
 * Plain-JSON requests to any path, authenticated from the kubeconfig.
 * client-node's typed and object APIs deserialize into classes (dates become
 * Date objects) while its Watch hands over raw JSON; a cache fed by both
 * would hold two shapes of the same object. This keeps every object as the
 * API server wrote it, and reaches subresources (`/status`) of any kind.
 */
export class RestClient {
  readonly kubeConfig: KubeConfig;
  private readonly server: URL;
  private readonly observe?: RequestObserver;

  /** `observe` hears of every request's method and status code (0: no response), as client-go's metrics do. */
  constructor(kubeConfig: KubeConfig, observe?: RequestObserver) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster: set current-context or pass --kubeconfig');
    this.kubeConfig = kubeConfig;
    this.server = new URL(cluster.server);
    this.observe = observe;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { method, headers: { Accept: 'application/json' }, signal: options.signal };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    opts.agent = keepAlive(opts.agent) as http.Agent | undefined;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      // Node sends a DELETE's body neither chunked nor with a length unless told its length: the API server
      // would read none, and a DeleteOptions' preconditions and grace period would be silently dropped.
      const length = Buffer.byteLength(payload);
      opts.headers = { ...opts.headers, 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': length };
    }
    const send = url.protocol === 'https:' ? https.request : http.request;
    const exchange = () => new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        // Decoded as it comes: a list page's bytes are not held twice (chunks, then their concatenation)
        // outside the heap, where they would wait for a full GC.
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
    // A kept connection the server closed as this request went out is retried once on a new one, as Node's
    // documentation of reusedSocket advises; not a create, which might have been carried out.
    const { code, text } = await exchange().catch((err: unknown) => {
      const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean };
      if (e.reusedSocket && e.code === 'ECONNRESET' && method !== 'POST') return exchange();
      throw err;
    }).catch((err: unknown) => {
      this.observe?.(method, 0);
      throw err;
    });
    this.observe?.(method, code);
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (code < 200 || code > 299) throw new ApiError(method, url.pathname, code, (json ?? {}) as object);
    return json as T;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal) {
    return this.request<T>('GET', path, { query, signal });
  }

  create<T>(path: string, body: unknown, query?: Query) {
    return this.request<T>('POST', path, { body, query });
  }

  replace<T>(path: string, body: unknown) {
    return this.request<T>('PUT', path, { body });
  }

  delete<T>(path: string, query?: Query) {
    return this.request<T>('DELETE', path, { query });
  }

  mergePatch<T>(path: string, patch: unknown, query?: Query) {
    return this.request<T>('PATCH', path, { body: patch, query, contentType: 'application/merge-patch+json' });
  }

  /** Server-side apply; `force` takes over fields another manager owns, as controllers should (KEP-555). */
  apply<T>(path: string, body: unknown, fieldManager: string, force = true) {
    return this.request<T>('PATCH', path, {
      body,
      query: { fieldManager, force },
      contentType: 'application/apply-patch+yaml',
    });
  }
}
