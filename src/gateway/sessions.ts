// What the gateway does for a Tunnel session besides relaying it: the record
// it stores in the report store at the start and the end, the recording order
// it hands the browser's agent, and how the session ended, told to that agent
// afterwards (src/contracts/tunnel-session.ts).
import type { Logger } from 'pino';
import type { Tunnel } from '../api/v1alpha1/index.ts';
import {
  agentSessionPath,
  isAbnormalEnd,
  type RecordingOrder,
  SESSION_FILE_TYPES,
  SESSION_FILES,
  type SessionEnd,
  type SessionRecord,
  sessionPath,
} from '../contracts/tunnel-session.ts';

/** How long a PUT to the store or a POST to the agent may take; neither holds up the session or the browser. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Pure: what the agent records for a session of `tunnel`; undefined when nothing, or nowhere to keep it. */
export function recordingOrder(
  tunnel: Tunnel,
  id: string,
  store: URL | undefined,
  token: string | undefined,
): RecordingOrder | undefined {
  const { video, log } = tunnel.spec.recording;
  if ((video === 'Never' && log === 'Never') || !store || !token) return undefined;
  const uploadUrl = new URL(sessionPath(tunnel.metadata.namespace ?? '', tunnel.metadata.name, id).slice(1), store).href;
  return { video, log, uploadUrl, token };
}

/** Pure: the record of a session once it has ended. */
export function endedRecord(
  started: SessionRecord,
  end: SessionEnd,
  bytes: { to_browser: number; to_client: number },
  now: Date,
): SessionRecord {
  return {
    ...started,
    end: now.toISOString(),
    durationMs: Math.max(0, now.getTime() - Date.parse(started.start)),
    bytesFromClient: bytes.to_browser,
    bytesToClient: bytes.to_client,
    close: { ...end, abnormal: isAbnormalEnd(end) },
  };
}

/**
 * The session's record in the store, and its end told to the agent. Both are
 * best effort: a store or agent that does not answer costs the record or the
 * recording, logged, never the session or the browser.
 */
export class SessionReports {
  /** The report store as the gateway reaches it (trailing slash); undefined: no records are kept. */
  readonly store?: URL;

  constructor(store: URL | undefined) {
    this.store = store && new URL(store.href.endsWith('/') ? store.href : `${store.href}/`);
  }

  /** PUTs the record with the Tunnel's session token; nothing when there is no store or token. */
  async save(record: SessionRecord, token: string | undefined, log: Logger): Promise<void> {
    if (!this.store || !token) return;
    const url = new URL(`${sessionPath(record.namespace, record.tunnel, record.id).slice(1)}${SESSION_FILES.record}`, this.store);
    try {
      const res = await fetch(url, {
        method: 'PUT',
        headers: { 'authorization': `Bearer ${token}`, 'content-type': SESSION_FILE_TYPES['session.json'] },
        body: JSON.stringify(record),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (!res.ok) log.warn({ session: record.id, status: res.status }, 'the report store refused the session record');
    } catch (err) {
      log.warn({ session: record.id, err: (err as Error).message }, 'could not store the session record');
    }
  }

  /** Tells how the session ended to the agent at `endpoint` (ws://<pod>:<port><wsPath>), then it keeps or drops. */
  async tellAgent(endpoint: string, id: string, end: SessionEnd, log: Logger): Promise<void> {
    const agent = new URL(endpoint);
    const url = `http://${agent.host}${agentSessionPath(agent.pathname, id)}/end`;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(end),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (!res.ok) log.warn({ session: id, status: res.status }, 'the browser agent refused the session end');
    } catch (err) {
      log.warn({ session: id, err: (err as Error).message }, 'could not tell the browser agent how the session ended');
    }
  }
}
