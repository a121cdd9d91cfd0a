// The runner's progress port: `GET /progress` answers the shard's running
// counts, which the fleetwright reporter keeps in a file while Playwright
// runs (src/reporter/progress.ts). The TestRun controller polls it while the
// shard runs; nothing else depends on it, so it never stops a run.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { emptyProgress, PROGRESS_PATH, PROGRESS_PORT_ENV } from '../contracts/progress.ts';

export interface ProgressServer {
  url: string;
  close(): Promise<void>;
}

/** PROGRESS_PORT_ENV's value as a port number; throws naming the variable when it is not one. */
export function progressPort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65535) {
    throw new Error(`${PROGRESS_PORT_ENV}=${value}: expected a port number (0 picks a free one)`);
  }
  return port;
}

async function current(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    // Playwright has not loaded the suite yet (the reporter writes the file from onBegin on).
    return JSON.stringify(emptyProgress());
  }
}

/**
 * Serves `file` on every interface (the pod IP) at `port`. Resolves undefined
 * when the port cannot be had: the tests run all the same, without live progress.
 */
export async function serveProgress(port: number, file: string, log: Logger): Promise<ProgressServer | undefined> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://runner').pathname;
    if (req.method !== 'GET' || path !== PROGRESS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: GET ${PROGRESS_PATH}\n`);
      return;
    }
    void current(file).then((body) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(body));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, () => resolve());
    });
  } catch (err) {
    log.warn({ port, err: String(err) }, 'cannot serve progress; the tests run without live progress');
    return undefined;
  }
  const { port: bound } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${bound}${PROGRESS_PATH}`;
  log.info({ url }, 'serving progress');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
