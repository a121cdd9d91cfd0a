// The screencast of a session's current page, shared by everyone who wants
// frames (the video, live viewers). It runs only while someone does, so a
// session nobody watches or records on video costs nothing, and it moves to
// the new current page whenever that changes.
import { jpegSize } from './live-input.ts';
import type { Observer } from './observer.ts';

/** The size frames are capped at: the live view's, and the video's (video.ts pads smaller ones to it). */
export const FRAME_SIZE = { width: 1280, height: 720 } as const;
/** JPEG quality of the frames; 80 keeps a 1280×720 frame near 100 KB. */
const QUALITY = 80;

/** How a frame maps onto the page: its own size in pixels, and the page's viewport in CSS pixels (input's). */
export interface FrameGeometry {
  width: number;
  height: number;
  deviceWidth: number;
  deviceHeight: number;
}

export interface Frame extends FrameGeometry {
  jpeg: Buffer;
  /** When the browser drew it, ms since the epoch. */
  timestampMs: number;
}

type Consumer = (frame: Frame) => void;

export class Screencast {
  private readonly observer: Observer;
  private readonly consumers = new Set<Consumer>();
  /** The page session screencasting now. */
  private casting: string | undefined;
  private last: Frame | undefined;
  private shown: FrameGeometry | undefined;

  constructor(observer: Observer) {
    this.observer = observer;
    observer.onPageChange(() => this.update());
    observer.connection.on((method, params, sessionId) => {
      if (method !== 'Page.screencastFrame' || !sessionId) return;
      // Every frame is acked at once, or Chromium sends no next one; frames of a page no longer cast are dropped.
      void this.observer.connection.send('Page.screencastFrameAck', { sessionId: params.sessionId }, sessionId).catch(() => undefined);
      if (sessionId !== this.casting) return;
      const metadata = params.metadata as { timestamp?: number; deviceWidth: number; deviceHeight: number };
      const timestampMs = metadata.timestamp === undefined ? Date.now() : metadata.timestamp * 1000;
      this.deliver(Buffer.from(params.data as string, 'base64'), timestampMs, metadata.deviceWidth, metadata.deviceHeight);
    });
  }

  private deliver(jpeg: Buffer, timestampMs: number, deviceWidth: number, deviceHeight: number): void {
    const size = jpegSize(jpeg) ?? { width: deviceWidth, height: deviceHeight };
    this.last = { jpeg, timestampMs, ...size, deviceWidth, deviceHeight };
    this.shown = { ...size, deviceWidth, deviceHeight };
    for (const consumer of this.consumers) consumer(this.last);
  }

  /**
   * Chromium's screencast sends nothing when it starts on a page that stands
   * still, until the page paints again (seen with Chromium 156): a viewer
   * joining then would see nothing, and a video would start late. So a still
   * of the viewport, capped at FRAME_SIZE, is shown first, unless a frame of
   * the screencast came meanwhile.
   */
  private async still(sessionId: string): Promise<void> {
    const { connection } = this.observer;
    type Viewport = { pageX: number; pageY: number; clientWidth: number; clientHeight: number };
    const { cssVisualViewport: v } = await connection.send<{ cssVisualViewport: Viewport }>('Page.getLayoutMetrics', {}, sessionId);
    const scale = Math.min(1, FRAME_SIZE.width / v.clientWidth, FRAME_SIZE.height / v.clientHeight);
    const clip = { x: v.pageX, y: v.pageY, width: v.clientWidth, height: v.clientHeight, scale };
    const { data } = await connection.send<{ data: string }>('Page.captureScreenshot', { format: 'jpeg', quality: QUALITY, clip }, sessionId);
    if (this.casting !== sessionId || this.last) return;
    this.deliver(Buffer.from(data, 'base64'), Date.now(), v.clientWidth, v.clientHeight);
  }

  /** The latest frame of the current page, for a viewer that joins while it shows something static. */
  get lastFrame(): Frame | undefined {
    return this.last;
  }

  /** The geometry of the last frame shown, which a viewer's input refers to; kept while no screencast runs. */
  get geometry(): FrameGeometry | undefined {
    return this.shown;
  }

  /** Hands every frame to `consumer` until the result is called. */
  watch(consumer: Consumer): () => void {
    this.consumers.add(consumer);
    this.update();
    return () => {
      this.consumers.delete(consumer);
      this.update();
    };
  }

  private update(): void {
    const wanted = this.consumers.size > 0 ? this.observer.current()?.sessionId : undefined;
    if (wanted === this.casting) return;
    const { connection } = this.observer;
    if (this.casting) void connection.send('Page.stopScreencast', {}, this.casting).catch(() => undefined);
    this.casting = wanted;
    // A frame of another page, or from before the screencast stopped, is not what the page shows now.
    this.last = undefined;
    if (wanted) {
      const params = {
        format: 'jpeg',
        quality: QUALITY,
        maxWidth: FRAME_SIZE.width,
        maxHeight: FRAME_SIZE.height,
      };
      void connection.send('Page.startScreencast', params, wanted)
        .then(() => this.still(wanted))
        .catch(() => undefined);
    }
  }
}
