import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { UsageError } from './usage.ts';

/** Where a server listens: `host` unset is every interface, port 0 a free one. */
export type Bind = { host?: string; port: number };

/**
 * controller-runtime's bind address syntax: `:8080` (every interface),
 * `127.0.0.1:8080`, `[::1]:8080`; `0` turns the server off.
 */
export function parseBindAddress(value: string, flag: string): Bind | undefined {
  if (value === '0') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new UsageError(`${flag}=${value}: expected [host]:port such as :8080 or 127.0.0.1:8080, or 0 to disable`);
  }
  const host = match[1] ?? match[2];
  return { host: host || undefined, port };
}

export interface Answer {
  status: number;
  type: string;
  body: string;
}

export type Routes = Record<string, () => Promise<Answer>>;

/**
 * Answers a request for `path` from `routes`; false when no route is there
 * (the caller answers). `headers` go with every answer. A process that serves
 * more than these (the gateway, the report store) mounts them in its own
 * server this way.
 */
export function answerRoute(
  routes: Routes,
  path: string,
  res: ServerResponse,
  log: { logger: Logger; what: string },
  headers: Record<string, string> = {},
): boolean {
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (!route) return false;
  route().then(
    ({ status, type, body }) => res.writeHead(status, { ...headers, 'Content-Type': type }).end(body),
    (err: unknown) => {
      log.logger.error({ err, path }, `${log.what}: handler failed`);
      res.writeHead(500, headers).end('internal error\n');
    },
  );
  return true;
}

/** A GET-only server for `routes`; resolves with the address it listens on (port 0 picks a free one). */
export async function serve(
  bind: Bind,
  routes: Routes,
  log: Logger,
  what: string,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || !answerRoute(routes, path, res, { logger: log, what })) {
      res.writeHead(404).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url }, `serving ${what}`);
  return { server, url };
}

/** A probe: 200 `ok`, or `failStatus` with the reason, as controller-runtime's healthz handlers answer. */
export const probe = (check: () => string | undefined, failStatus = 500) => async (): Promise<Answer> => {
  const problem = check();
  return problem
    ? { status: failStatus, type: 'text/plain', body: `${problem}\n` }
    : { status: 200, type: 'text/plain', body: 'ok\n' };
};

/** /healthz (the process is alive) and /readyz (`notReady` says why it cannot serve yet, or nothing). */
export const probeRoutes = (notReady: () => string | undefined, failStatus = 500): Routes => ({
  '/healthz': probe(() => undefined, failStatus),
  '/readyz': probe(notReady, failStatus),
});

/**
 * The probes of a server that serves its own requests beside them and drains
 * on SIGTERM (the gateway, the report store): not ready, 503, while its
 * caches sync and once it drains.
 */
export const servingProbes = (synced: () => boolean, draining: () => boolean): Routes =>
  probeRoutes(() => {
    if (draining()) return 'shutting down';
    return synced() ? undefined : 'informer caches have not synced yet';
  }, 503);

/** /metrics: the registry in Prometheus' text format. */
export const metricsRoutes = (registry: Registry): Routes => ({
  '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }),
});
