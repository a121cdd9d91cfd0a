import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { UsageError } from './usage.ts';

/**
 * controller-runtime's bind address syntax: `:8080` (every interface),
 * `127.0.0.1:8080`, `[::1]:8080`; `0` turns the server off.
 */
export function parseBindAddress(value: string, flag: string): { host?: string; port: number } | undefined {
  if (value === '0') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new UsageError(`${flag}=${value}: expected [host]:port such as :8080 or 127.0.0.1:8080, or 0 to disable`);
  }
  const host = match[1] ?? match[2];
  return { host: host || undefined, port };
}

export type Routes = Record<string, () => Promise<{ status: number; type: string; body: string }>>;

/** A GET-only server for `routes`; resolves with the address it listens on (port 0 picks a free one). */
export async function serve(
  bind: { host?: string; port: number },
  routes: Routes,
  log: Logger,
  what: string,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const route = req.method === 'GET' ? routes[new URL(req.url ?? '/', 'http://x').pathname] : undefined;
    if (!route) {
      res.writeHead(404).end('not found\n');
      return;
    }
    route().then(
      ({ status, type, body }) => res.writeHead(status, { 'Content-Type': type }).end(body),
      (err: unknown) => {
        log.error({ err, path: req.url }, `${what}: handler failed`);
        res.writeHead(500).end('internal error\n');
      },
    );
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

/** A probe: 200 `ok` or 500 with the reason, as controller-runtime's healthz handlers answer. */
export const probe = (check: () => string | undefined) => async () => {
  const problem = check();
  return problem
    ? { status: 500, type: 'text/plain', body: `${problem}\n` }
    : { status: 200, type: 'text/plain', body: 'ok\n' };
};
