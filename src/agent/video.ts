// A session's video (spec.recording.video): the screencast frames of its
// current page piped into ffmpeg, as Playwright recorded videos up to 1.5x
// (its videoRecorder.js then: JPEGs in through image2pipe, VP8 out, at a
// constant rate). Screencast frames come only when the page changes, so each
// is repeated until the next one is due and the last until the session ends,
// and the video lasts as long as the session. (Playwright 1.65 hands ffmpeg
// timestamped frames in a Matroska stream it writes itself; the older way
// needs no container code.)
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { FRAME_SIZE, type Frame } from './screencast.ts';

/** Frames per second of the video: Playwright's. */
export const VIDEO_FPS = 25;

/** How many frames of a video started at `startMs` are due by `atMs`. */
export const framesDue = (startMs: number, atMs: number) =>
  Math.max(0, Math.round((atMs - startMs) * VIDEO_FPS / 1000));

/** ffmpeg's arguments: Playwright's of 1.5x (realtime VP8, frames padded with gray to one size), writing `file`. */
export function ffmpegArgs(file: string): string[] {
  const { width, height } = FRAME_SIZE;
  return [
    '-loglevel error -f image2pipe -avioflags direct -fpsprobesize 0 -probesize 32 -analyzeduration 0',
    `-framerate ${VIDEO_FPS} -c:v mjpeg -i pipe:0 -y -an -r ${VIDEO_FPS}`,
    '-c:v vp8 -qmin 0 -qmax 50 -crf 8 -deadline realtime -speed 8 -b:v 1M -threads 1',
    `-vf pad=${width}:${height}:0:0:gray,crop=${width}:${height}:0:0`,
  ].flatMap((part) => part.split(' ')).concat(file);
}

export class VideoRecorder {
  private readonly ffmpeg: ChildProcess;
  private readonly startMs: number;
  private readonly exited: Promise<string | undefined>;
  /** The latest frame, written up to when the next one comes. */
  private pending: Frame | undefined;
  private written = 0;

  /** Starts ffmpeg writing `file`; the video starts at `startMs`. */
  constructor(ffmpeg: string, file: string, startMs: number) {
    this.startMs = startMs;
    this.ffmpeg = spawn(ffmpeg, ffmpegArgs(file), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    this.ffmpeg.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2048)));
    // A frame written after ffmpeg died would otherwise throw EPIPE.
    this.ffmpeg.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.ffmpeg.once('error', (err) => resolve(`could not start ${ffmpeg}: ${err.message}`));
      void once(this.ffmpeg, 'exit').then(([code]) =>
        resolve(code === 0 ? undefined : `ffmpeg exited with ${String(code)}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  }

  frame(frame: Frame): void {
    if (this.pending) this.writeUpTo(framesDue(this.startMs, frame.timestampMs));
    this.pending = frame;
  }

  /**
   * Writes the last frame up to `endMs` and waits for ffmpeg to finish the
   * file. Resolves to why there is no video: no frame ever came, or ffmpeg failed.
   */
  async finish(endMs: number): Promise<string | undefined> {
    if (!this.pending) {
      this.ffmpeg.kill('SIGKILL');
      await this.exited;
      return 'the session showed no page';
    }
    this.writeUpTo(Math.max(this.written + 1, framesDue(this.startMs, endMs)));
    this.ffmpeg.stdin?.end();
    return this.exited;
  }

  private writeUpTo(due: number): void {
    for (; this.written < due; this.written++) this.ffmpeg.stdin?.write(this.pending?.jpeg);
  }
}
