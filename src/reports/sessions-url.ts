// status.sessionsURL: where the store lists each Tunnel's sessions, written
// onto every Tunnel it serves by server-side apply with a field manager of
// its own (so the controller's applies of the rest of the status leave it
// alone), only when it differs, retried with backoff when the write fails.
// Level-based like the merger: the informer hands over every Tunnel at
// start, so a store with a new --public-url rewrites them all.
import type { Logger } from 'pino';
import { TUNNEL } from '../api/resources.ts';
import { sessionsPath } from '../contracts/tunnel-session.ts';
import { parseKey } from '../runtime/resource.ts';
import { isNotFound, type RestClient } from '../runtime/rest.ts';
import { applyStatus } from '../runtime/status.ts';
import { ExponentialBackoff, WorkQueue } from '../runtime/workqueue.ts';
import type { TunnelView } from './auth.ts';
import { processQueue } from './queue-loop.ts';

/** The report store's field manager: it owns status.sessionsURL and nothing else. */
export const STORE_FIELD_MANAGER = 'fleetwright-report-store';

export const sessionsURL = (publicUrl: string, tunnel: { namespace: string; name: string }) =>
  `${publicUrl}${sessionsPath(tunnel.namespace, tunnel.name)}`;

/** Pure: whether the Tunnel's status.sessionsURL is not (yet) this store's. */
export const needsSessionsURL = (tunnel: TunnelView | undefined, publicUrl: string): tunnel is TunnelView =>
  tunnel !== undefined && tunnel.sessionsURL !== sessionsURL(publicUrl, tunnel);

export interface SessionsURLWriterDeps {
  tunnel(namespace: string, name: string): TunnelView | undefined;
  rest: RestClient;
  publicUrl: string;
  log: Logger;
  backoff?: ExponentialBackoff;
}

export class SessionsURLWriter {
  readonly queue: WorkQueue;
  private readonly deps: SessionsURLWriterDeps;
  private loop?: Promise<void>;

  constructor(deps: SessionsURLWriterDeps) {
    this.deps = deps;
    this.queue = new WorkQueue({ backoff: deps.backoff ?? new ExponentialBackoff(1000, 5 * 60_000) });
  }

  consider(tunnel: TunnelView | undefined): void {
    if (needsSessionsURL(tunnel, this.deps.publicUrl)) this.queue.add(`${tunnel.namespace}/${tunnel.name}`);
  }

  start(): void {
    this.loop ??= processQueue(this.queue, (key) => this.write(key), (key, err, retryInMs) =>
      this.deps.log.error({ ...parseKey(key), err: String(err), retryInMs }, 'could not write status.sessionsURL; retrying'));
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.loop;
  }

  private async write(key: string): Promise<void> {
    const { namespace, name } = parseKey(key);
    const tunnel = this.deps.tunnel(namespace, name);
    if (!needsSessionsURL(tunnel, this.deps.publicUrl)) return;
    const url = sessionsURL(this.deps.publicUrl, tunnel);
    try {
      const status = { sessionsURL: url };
      await applyStatus(this.deps.rest, TUNNEL, { metadata: { namespace, name } }, status, STORE_FIELD_MANAGER);
      this.deps.log.info({ namespace, name, sessionsURL: url }, 'published where the Tunnel\'s sessions are listed');
    } catch (err) {
      if (isNotFound(err)) return void this.deps.log.debug({ namespace, name }, 'the Tunnel is gone; not publishing');
      throw err;
    }
  }
}
