// How each session ended, as the gateway tells the agent (POST
// <wsPath>/sessions/<id>/end, a SessionEnd) once it closed both sides. The
// POST may come before or after the agent sees the session's socket close.
import type { SessionEnd } from '../contracts/tunnel-session.ts';

interface Waiting {
  end?: SessionEnd;
  wake?: (end: SessionEnd) => void;
}

export class SessionEnds {
  private readonly sessions = new Map<string, Waiting>();

  /** A session started: its end will be asked for. */
  expect(id: string): void {
    this.sessions.set(id, {});
  }

  /** The gateway's word on session `id`; false when no such session is expected here (404). */
  report(id: string, end: SessionEnd): boolean {
    const waiting = this.sessions.get(id);
    if (!waiting) return false;
    waiting.end = end;
    waiting.wake?.(end);
    return true;
  }

  /** How session `id` ended, once the gateway said, or undefined after `timeoutMs`; the session is forgotten. */
  async wait(id: string, timeoutMs: number): Promise<SessionEnd | undefined> {
    const waiting = this.sessions.get(id);
    if (!waiting) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const end = waiting.end ?? await new Promise<SessionEnd | undefined>((resolve) => {
      waiting.wake = resolve;
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    clearTimeout(timer);
    this.sessions.delete(id);
    return end;
  }
}
