// The live view of the sessions this agent observes (LIVE_PATHS under
// agentSessionPath), which the gateway proxies to viewers it authenticated.
// A session is served from its start until its socket closes; after that,
// and for a session never observed here, the answer is 404: the agent keeps
// nothing to show of a session that has ended.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { LIVE_PATHS, LiveInput, type LiveState, TAKEOVER_HEADER } from '../contracts/tunnel-session.ts';
import { inputCommands } from './live-input.ts';
import { LIVE_PAGE } from './live-page.ts';
import { readJson } from './session-http.ts';
import type { Observer } from './observer.ts';
import type { RecordingMetrics } from './recording-metrics.ts';
import type { Frame, Screencast } from './screencast.ts';

export type LivePath = (typeof LIVE_PATHS)[keyof typeof LIVE_PATHS];

export interface LiveSession {
  tunnel: string;
  observer: Observer;
  screencast: Screencast;
  log: Logger;
}

/** The largest LiveInput body read: a typed text of 10 000 characters, as JSON. */
const MAX_INPUT_BYTES = 64 * 1024;

export class LiveViews {
  private readonly sessions = new Map<string, LiveSession & { streams: Set<ServerResponse> }>();
  private readonly metrics: RecordingMetrics;

  constructor(metrics: RecordingMetrics) {
    this.metrics = metrics;
  }

  open(id: string, session: LiveSession): void {
    this.sessions.set(id, { ...session, streams: new Set() });
  }

  /** The session ended: its frame streams end, and it is no longer served. */
  close(id: string): void {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    for (const stream of session?.streams ?? []) stream.end();
  }

  async serve(id: string, path: LivePath, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) {
      return plain(res, 404, `no session ${id} runs on this browser pod: it has ended, or it is not observed here ` +
        '(a session of a Firefox or WebKit pod, or one that came without a session id)');
    }
    const method = path === LIVE_PATHS.input ? 'POST' : 'GET';
    if (req.method !== method) return plain(res, 405, `${path} takes ${method}`);
    const takeover = req.headers[TAKEOVER_HEADER] === 'allowed';
    switch (path) {
      case LIVE_PATHS.page:
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(LIVE_PAGE);
        return;
      case LIVE_PATHS.state: {
        // A page that closed just now has no info: the next poll shows the page current then.
        const page = await session.observer.currentInfo().catch(() => undefined);
        const state: LiveState = { ...page, takeover };
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(state));
        return;
      }
      case LIVE_PATHS.frames:
        return this.stream(session, res);
      case LIVE_PATHS.input:
        if (!takeover) return plain(res, 403, `session ${id}: this viewer may not take over (spec.liveView.takeover and ?takeover=)`);
        return input(session, req, res);
    }
  }

  /**
   * multipart/x-mixed-replace JPEGs of the current page while the viewer
   * stays. A viewer that cannot keep up skips frames rather than queueing them.
   */
  private stream(session: LiveSession & { streams: Set<ServerResponse> }, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=frame', 'cache-control': 'no-store' });
    const send = (frame: Frame) => {
      if (res.writableNeedDrain) return;
      res.write(`--frame\r\ncontent-type: image/jpeg\r\ncontent-length: ${frame.jpeg.length}\r\n\r\n`);
      res.write(frame.jpeg);
      res.write('\r\n');
    };
    if (session.screencast.lastFrame) send(session.screencast.lastFrame);
    const unwatch = session.screencast.watch(send);
    const uncount = this.metrics.viewer(session.tunnel);
    session.streams.add(res);
    session.log.info('live viewer joined');
    res.once('close', () => {
      unwatch();
      uncount();
      session.streams.delete(res);
      session.log.info('live viewer left');
    });
  }
}

async function input(session: LiveSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parsed = LiveInput.safeParse(await readJson(req, MAX_INPUT_BYTES));
  if (!parsed.success) {
    return plain(res, 400, 'not a live input: send {"type":"click","x","y"}, {"type":"text","text"} or {"type":"key","key"}');
  }
  const page = session.observer.current();
  const geometry = session.screencast.geometry;
  if (!page || !geometry) return plain(res, 409, 'the session has shown no page yet: wait for its first frame');
  try {
    for (const { method, params } of inputCommands(parsed.data, geometry)) {
      await session.observer.connection.send(method, params, page.sessionId);
    }
  } catch (err) {
    return plain(res, 409, `the page did not take the input: ${(err as Error).message}`);
  }
  session.log.info({ input: parsed.data.type }, 'live input sent to the page');
  res.writeHead(204).end();
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(`${text}\n`);
}
