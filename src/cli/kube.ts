// The user's cluster, found as kubectl finds it: --kubeconfig, else the files
// in $KUBECONFIG, else ~/.kube/config, else the pod's service account; the
// context from --context or the kubeconfig's current-context; the namespace
// from -n, else the context's, else `default`. Every failure says what to fix.
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ResourceType } from '../api/meta.ts';
import { collectionPath, objectPath } from '../runtime/resource.ts';
import { ApiError, type Query, RestClient, statusCode } from '../runtime/rest.ts';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface KubeTarget {
  kubeConfig: KubeConfig;
  /** Where the configuration came from, for messages. */
  source: string;
  context: string;
  server: string;
  namespace: string;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function load(kc: KubeConfig, file: string, what: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot read the kubeconfig ${file} (${what}): ${why}`, { cause: err });
  }
}

/** The kubeconfig, context and namespace kubectl would use with the same flags and environment. */
export function loadTarget(flags: KubeFlags, env: NodeJS.ProcessEnv = process.env, home = homedir()): KubeTarget {
  const kc = new KubeConfig();
  let source: string;
  if (flags.kubeconfig) {
    if (!existsSync(flags.kubeconfig) || !statSync(flags.kubeconfig).isFile()) {
      throw new Error(`--kubeconfig ${flags.kubeconfig}: no such file`);
    }
    load(kc, flags.kubeconfig, '--kubeconfig');
    source = flags.kubeconfig;
  } else if (env.KUBECONFIG) {
    // kubectl skips missing files of the list; the first file that sets a value wins.
    const files = env.KUBECONFIG.split(delimiter).filter((f) => f && existsSync(f));
    if (files.length === 0) {
      throw new Error(`KUBECONFIG=${env.KUBECONFIG} names no existing file: fix it, or pass --kubeconfig`);
    }
    load(kc, files[0] as string, 'from KUBECONFIG');
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      load(more, file, 'from KUBECONFIG');
      kc.mergeConfig(more, Boolean(kc.getCurrentContext()));
    }
    source = `KUBECONFIG=${env.KUBECONFIG}`;
  } else if (existsSync(join(home, '.kube', 'config'))) {
    source = join(home, '.kube', 'config');
    load(kc, source, 'the default');
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
    source = 'the pod\'s service account';
  } else {
    throw new Error(
      'no kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config ' +
      '(for the local cluster of this repository: KUBECONFIG=.fleetwright/kubeconfig)',
    );
  }
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
      throw new Error(`--context ${flags.context}: no such context in ${source} (it has: ${known})`);
    }
    kc.setCurrentContext(flags.context);
  }
  const context = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!context || !cluster) {
    throw new Error(`${source} has no current context: pass --context, or set one with kubectl config use-context`);
  }
  const namespace = flags.namespace || kc.getContextObject(context)?.namespace || 'default';
  return { kubeConfig: kc, source, context, server: cluster.server, namespace };
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE',
]);
const REQUEST_TIMEOUT_MS = 20_000;

/** An error of a request to the cluster, told as what to fix. Errors it cannot place are returned as they are. */
export function explain(err: unknown, target: KubeTarget): unknown {
  const where = `context "${target.context}" of ${target.source}`;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if ((code && NETWORK_ERRORS.has(code)) || e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new Error(
      `cannot reach the Kubernetes API server at ${target.server} (${message}): is the cluster running? ` +
      `The address comes from ${where}; pass --kubeconfig or --context for another cluster`,
    );
  }
  if (code && /CERT|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new Error(
      `TLS to the API server at ${target.server} failed (${message}): the certificate authority of ${where} ` +
      'does not match the server',
    );
  }
  const status = statusCode(err);
  if (status === 401) {
    return new Error(
      `the API server at ${target.server} did not accept the credentials of ${where} (401 Unauthorized): ` +
      'log in again or fix the kubeconfig\'s user',
    );
  }
  if (status === 403) {
    return new Error(`${message.replace(/^\S+ \S+: 403 \S+ /, '')} (403): ask an administrator for this permission, ` +
      'or use -n for a namespace where you have it');
  }
  if (status === 404 && /could not find the requested resource/.test(message)) {
    return new Error(
      `Fleetwright's CRDs are not installed in the cluster at ${target.server}: install them ` +
      '(kubectl apply -f crds/, or the Helm chart) and start the controller',
    );
  }
  return err;
}

/** Requests to the user's cluster, with a timeout and errors that say what to fix. */
export class Cluster {
  readonly target: KubeTarget;
  readonly rest: RestClient;

  constructor(target: KubeTarget) {
    this.target = target;
    this.rest = new RestClient(target.kubeConfig);
  }

  get namespace(): string {
    return this.target.namespace;
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query, contentType?: string): Promise<T> {
    try {
      return await this.rest.request<T>(method, path, {
        body,
        query,
        contentType,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw explain(err, this.target);
    }
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  /**
   * Reads object `name` of `type` in the namespace. When it does not exist,
   * throws `notFound(names)` with the names that do exist there, so that the
   * message can offer them. A missing CRD is not a missing object: that error
   * goes through as it is.
   */
  async getOrList<T>(type: ResourceType, name: string, notFound: (names: string[]) => string): Promise<T> {
    const { namespace } = this;
    try {
      return await this.get<T>(objectPath(type, { namespace, name }));
    } catch (err) {
      if (statusCode(err) !== 404 || /could not find the requested resource/.test(String(err))) throw err;
    }
    const list = await this.get<{ items: { metadata: { name?: string } }[] }>(collectionPath(type, namespace));
    throw new Error(notFound(list.items.map((o) => o.metadata.name ?? '')));
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, undefined, 'application/merge-patch+json');
  }

  delete<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('DELETE', path, undefined, query);
  }

  /** GETs text (a pod's log) into `out`; with `follow`, until the server ends the stream. */
  async stream(path: string, query: Query, out: NodeJS.WritableStream, follow = false): Promise<void> {
    try {
      await this.streamOnce(path, query, out, follow);
    } catch (err) {
      throw explain(err, this.target);
    }
  }

  private async streamOnce(path: string, query: Query, out: NodeJS.WritableStream, follow: boolean): Promise<void> {
    const server = new URL(this.target.server);
    const url = new URL(server.pathname.replace(/\/$/, '') + path, server);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = {
      method: 'GET',
      headers: { Accept: '*/*' },
      ...(follow ? {} : { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
    };
    await this.target.kubeConfig.applyToHTTPSOptions(opts);
    const send = url.protocol === 'https:' ? https.request : http.request;
    await new Promise<void>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => {
            let status: { message?: string; reason?: string } = {};
            try {
              status = JSON.parse(text) as typeof status;
            } catch {
              status = { message: text.trim() };
            }
            reject(new ApiError('GET', url.pathname, code, status));
          });
          return;
        }
        res.on('data', (c: Buffer) => out.write(c));
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }
}
