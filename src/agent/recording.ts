// The recordings of one session (spec.recording): its log and its video,
// written to temp files while it runs, then kept or dropped by the Tunnel's
// policy once the gateway said how it ended, and the kept ones uploaded.
//
// The browser goes back to the pool as soon as the session's socket closes:
// the recordings are finished in temp files by then (the observer detached,
// so nothing of the next session on the same browser can reach them), and
// waiting for the gateway's SessionEnd and the upload never holds the browser.
// So a failed upload costs that session's recordings, never the browser or
// the next session.
import { createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  keepsRecording,
  type RecordingOrder,
  SESSION_FILE_TYPES,
  SESSION_FILES,
  type SessionEnd,
} from '../contracts/tunnel-session.ts';
import type { Observer } from './observer.ts';
import type { RecordingKind, RecordingMetrics } from './recording-metrics.ts';
import type { Screencast } from './screencast.ts';
import { logLine } from './session-log.ts';
import { upload } from './upload.ts';
import { VideoRecorder } from './video.ts';

/** A recording finished in a temp file, or why there is none. */
export type Finished = { kind: RecordingKind; file: string } | { kind: RecordingKind; problem: string };

export class SessionRecording {
  private readonly dir = mkdtempSync(join(tmpdir(), 'fleetwright-session-'));
  private readonly stops: (() => Promise<Finished>)[] = [];

  /** Starts recording what `order` asks for; without `ffmpeg`, the video is skipped (`noVideo` says why). */
  constructor(
    order: RecordingOrder,
    observer: Observer,
    screencast: Screencast,
    ffmpeg: { path: string } | { missing: string },
  ) {
    if (order.log !== 'Never') {
      const file = join(this.dir, SESSION_FILES.log);
      const out: WriteStream = createWriteStream(file);
      const stop = observer.onLog((entry) => out.write(logLine(entry, new Date())));
      this.stops.push(async () => {
        stop();
        await new Promise((resolve) => out.end(resolve));
        return { kind: 'log', file };
      });
    }
    if (order.video !== 'Never') {
      if ('missing' in ffmpeg) {
        this.stops.push(() => Promise.resolve({ kind: 'video', problem: ffmpeg.missing }));
      } else {
        const file = join(this.dir, SESSION_FILES.video);
        const video = new VideoRecorder(ffmpeg.path, file, Date.now());
        const stop = screencast.watch((frame) => video.frame(frame));
        this.stops.push(async () => {
          stop();
          const problem = await video.finish(Date.now());
          return problem ? { kind: 'video', problem } : { kind: 'video', file };
        });
      }
    }
  }

  /** Stops recording (the session's socket closed) and finishes the files. */
  finish(): Promise<Finished[]> {
    return Promise.all(this.stops.map((stop) => stop()));
  }

  /**
   * Keeps or drops each finished recording by `order`'s policy for a session
   * that ended as `end`, uploads the kept ones beside the session's record,
   * counts each, and deletes the temp files whatever happened.
   */
  async settle(finished: Finished[], order: RecordingOrder, end: SessionEnd, tunnel: string, metrics: RecordingMetrics,
    log: Logger): Promise<void> {
    try {
      await Promise.all(finished.map(async (recording) => {
        const { kind } = recording;
        if ('problem' in recording) {
          log.warn({ kind, problem: recording.problem }, 'no recording of the session');
          metrics.recorded(tunnel, kind, 'failed');
        } else if (!keepsRecording(order[kind], end)) {
          log.info({ kind, policy: order[kind] }, 'recording discarded by the Tunnel\'s policy');
          metrics.recorded(tunnel, kind, 'discarded');
        } else {
          const name = SESSION_FILES[kind];
          const started = Date.now();
          try {
            const bytes = await upload(`${order.uploadUrl}${name}`, order.token, recording.file, SESSION_FILE_TYPES[name]);
            log.info({ kind, bytes, ms: Date.now() - started }, 'recording uploaded');
            metrics.recorded(tunnel, kind, 'uploaded', bytes);
          } catch (err) {
            log.warn({ kind, err: (err as Error).message }, 'recording lost: could not upload it to the report store');
            metrics.recorded(tunnel, kind, 'failed');
          }
        }
      }));
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
