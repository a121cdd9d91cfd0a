// A live viewer's input (LiveInput, in the pixels of the frames it was shown)
// as the DevTools Input commands that perform it on the page, in CSS pixels.
import type { LiveInput } from '../contracts/tunnel-session.ts';
import type { FrameGeometry } from './screencast.ts';

export interface Command {
  method: string;
  params: Record<string, unknown>;
}

/** The size of a JPEG from its start-of-frame segment; undefined when it has none. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | undefined {
  let offset = 2;
  while (offset + 9 < jpeg.length && jpeg[offset] === 0xff) {
    const marker = jpeg[offset + 1] ?? 0;
    // SOF0–SOF15, but for DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: jpeg.readUInt16BE(offset + 5), width: jpeg.readUInt16BE(offset + 7) };
    }
    offset += 2 + jpeg.readUInt16BE(offset + 2);
  }
  return undefined;
}

/** Keys a viewer may press, with the virtual key code Chromium needs (and Enter the text that submits a form). */
const KEYS: Record<Extract<LiveInput, { type: 'key' }>['key'], { code: number; text?: string }> = {
  Enter: { code: 13, text: '\r' },
  Backspace: { code: 8 },
  Tab: { code: 9 },
  Escape: { code: 27 },
  ArrowLeft: { code: 37 },
  ArrowUp: { code: 38 },
  ArrowRight: { code: 39 },
  ArrowDown: { code: 40 },
};

/**
 * The commands for `input`; a click is scaled from the pixels of `frame`
 * (what the viewer saw) to the page's CSS pixels (`deviceWidth`, from the
 * frame's screencast metadata).
 */
export function inputCommands(input: LiveInput, frame: FrameGeometry): Command[] {
  switch (input.type) {
    case 'click': {
      const x = input.x * frame.deviceWidth / frame.width;
      const y = input.y * frame.deviceHeight / frame.height;
      const mouse = { x, y, button: 'left', clickCount: 1 };
      return [
        { method: 'Input.dispatchMouseEvent', params: { type: 'mousePressed', ...mouse } },
        { method: 'Input.dispatchMouseEvent', params: { type: 'mouseReleased', ...mouse } },
      ];
    }
    case 'text':
      return [{ method: 'Input.insertText', params: { text: input.text } }];
    case 'key': {
      const { code, text } = KEYS[input.key];
      const key = { key: input.key, code: input.key, windowsVirtualKeyCode: code, ...(text ? { text } : {}) };
      // As Puppeteer presses keys: keyDown when the key types text, rawKeyDown when not.
      return [
        { method: 'Input.dispatchKeyEvent', params: { type: text ? 'keyDown' : 'rawKeyDown', ...key } },
        { method: 'Input.dispatchKeyEvent', params: { type: 'keyUp', ...key } },
      ];
    }
  }
}
