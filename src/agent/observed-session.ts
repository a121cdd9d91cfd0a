// One Tunnel session as the agent observes it: a DevTools observer of its
// browser, its recordings and its live view from the start, and, once its
// socket closed, the gateway's word on how it ended, then the recordings kept
// or dropped and uploaded (recording.ts says why that never holds the browser).
import type { Logger } from 'pino';
import { SESSION_END_WAIT_MS, type SessionEnd } from '../contracts/tunnel-session.ts';
import type { LiveViews } from './live.ts';
import { Observer } from './observer.ts';
import type { RecordingMetrics } from './recording-metrics.ts';
import { SessionRecording } from './recording.ts';
import { Screencast } from './screencast.ts';
import type { SessionEnds } from './session-ends.ts';
import type { SessionIdentity } from './session-identity.ts';

/** What the agent shares between the sessions it observes. */
export interface Observation {
  live: LiveViews;
  ends: SessionEnds;
  metrics: RecordingMetrics;
  ffmpeg: { path: string } | { missing: string };
}

/** How a session ended when the gateway did not say within SESSION_END_WAIT_MS: abnormally. */
const UNREPORTED_END: SessionEnd = { by: 'gateway', code: 1006, reason: 'no SessionEnd from the gateway' };

export interface ObservedSession {
  /** Resolves once the observer is attached, or observing failed (logged): the client may be let in. */
  attached: Promise<void>;
  /** The socket closed: follow no new page from now on; detach, finish and settle the recordings in the background. */
  closed(): void;
}

/** Observes `session` on the browser whose DevTools endpoint `endpoint` resolves to. */
export function observeSession(
  session: SessionIdentity,
  endpoint: Promise<URL>,
  shared: Observation,
  log: Logger,
): ObservedSession {
  const { id, tunnel, recording: order } = session;
  shared.ends.expect(id);
  let observer: Observer | undefined;
  let recording: SessionRecording | undefined;
  let over = false;
  const events = order !== undefined && order.log !== 'Never';
  const attached = endpoint.then((url) => Observer.attach(url, log, { events })).then(
    (attachedObserver) => {
      if (over) return attachedObserver.close();
      observer = attachedObserver;
      const screencast = new Screencast(observer);
      if (order) recording = new SessionRecording(order, observer, screencast, shared.ffmpeg);
      shared.live.open(id, { tunnel, observer, screencast, log });
    },
    (err: unknown) => log.warn({ err: (err as Error).message }, 'session not observed: no recording, no live view'),
  );
  /** Waits for the recordings' files and the gateway's word, then keeps, drops or uploads them. */
  const settle = async () => {
    await observer?.detach();
    const [files, end] = await Promise.all([recording?.finish(), shared.ends.wait(id, SESSION_END_WAIT_MS)]);
    if (!order) return;
    if (!end) log.warn(`no SessionEnd from the gateway within ${SESSION_END_WAIT_MS} ms: taken as abnormal`);
    if (!recording || !files) {
      for (const kind of (['video', 'log'] as const)) if (order[kind] !== 'Never') shared.metrics.recorded(tunnel, kind, 'failed');
      return;
    }
    await recording.settle(files, order, end ?? UNREPORTED_END, tunnel, shared.metrics, log);
  };
  return {
    attached,
    closed() {
      over = true;
      shared.live.close(id);
      void settle();
    },
  };
}
