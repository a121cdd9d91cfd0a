import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { inputCommands, jpegSize } from '../../../src/agent/live-input.ts';
import { sessionRequest } from '../../../src/agent/session-http.ts';
import { SessionEnds } from '../../../src/agent/session-ends.ts';
import { framesDue } from '../../../src/agent/video.ts';

describe('a live viewer\'s input', () => {
  it('clicks in the page\'s CSS pixels, scaled from the frame the viewer saw', () => {
    const geometry = { width: 640, height: 360, deviceWidth: 1280, deviceHeight: 720 };
    expect(inputCommands({ type: 'click', x: 100, y: 50 }, geometry).map((c) => c.params)).toEqual([
      { type: 'mousePressed', x: 200, y: 100, button: 'left', clickCount: 1 },
      { type: 'mouseReleased', x: 200, y: 100, button: 'left', clickCount: 1 },
    ]);
  });

  it('types text, and presses keys as Puppeteer does (Enter with the text that submits)', () => {
    const geometry = { width: 1, height: 1, deviceWidth: 1, deviceHeight: 1 };
    expect(inputCommands({ type: 'text', text: 'hé' }, geometry)).toEqual([{ method: 'Input.insertText', params: { text: 'hé' } }]);
    expect(inputCommands({ type: 'key', key: 'Enter' }, geometry).map((c) => c.params.type)).toEqual(['keyDown', 'keyUp']);
    expect(inputCommands({ type: 'key', key: 'Enter' }, geometry)[0]?.params).toMatchObject({ text: '\r', windowsVirtualKeyCode: 13 });
    expect(inputCommands({ type: 'key', key: 'ArrowLeft' }, geometry).map((c) => c.params.type)).toEqual(['rawKeyDown', 'keyUp']);
  });

  it('reads a JPEG\'s size from its start of frame', () => {
    const jpeg = execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=red:s=320x200', '-frames:v', '1',
      '-f', 'mjpeg', 'pipe:1']);
    expect(jpegSize(jpeg)).toEqual({ width: 320, height: 200 });
    expect(jpegSize(Buffer.from('not a jpeg'))).toBeUndefined();
  });
});

describe('requests under a session\'s path', () => {
  it('are the end and the live paths of a session id, nothing else', () => {
    expect(sessionRequest('/pw/sessions/0123456789ab/end', '/pw')).toEqual({ id: '0123456789ab', path: 'end' });
    expect(sessionRequest('/pw/sessions/0123456789ab/live/frames', '/pw')).toEqual({ id: '0123456789ab', path: 'live/frames' });
    for (const path of ['/pw/sessions/0123456789ab/other', '/pw/sessions/../end', '/other/sessions/0123456789ab/live', '/pw']) {
      expect(sessionRequest(path, '/pw'), path).toBeUndefined();
    }
  });
});

describe('the end of a session', () => {
  const end = { by: 'client', code: 1000, reason: '' } as const;

  it('is taken whether the gateway says it before or after the socket closed, once', async () => {
    const ends = new SessionEnds();
    ends.expect('a');
    expect(ends.report('a', end)).toBe(true);
    expect(await ends.wait('a', 1_000)).toEqual(end);
    expect(ends.report('a', end)).toBe(false);
    ends.expect('b');
    const waited = ends.wait('b', 1_000);
    ends.report('b', end);
    expect(await waited).toEqual(end);
  });

  it('is unknown after the wait, and for a session never started', async () => {
    const ends = new SessionEnds();
    ends.expect('a');
    expect(await ends.wait('a', 10)).toBeUndefined();
    expect(ends.report('a', end)).toBe(false);
    expect(ends.report('never', end)).toBe(false);
  });
});

describe('the video\'s frame clock', () => {
  it('counts frames due at 25 per second since the video started, never before it', () => {
    expect([framesDue(1_000, 1_000), framesDue(1_000, 1_039), framesDue(1_000, 2_000), framesDue(1_000, 500)])
      .toEqual([0, 1, 25, 0]);
  });
});
