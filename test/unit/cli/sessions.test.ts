// What `fleetwright sessions` prints: the table, the URLs, the live view's
// address, and the commands that print tokens (never a token).
import { describe, expect, it } from 'vitest';
import { type Tunnel, TunnelResource } from '../../../src/api/v1alpha1/index.ts';
import type { ListedSession } from '../../../src/contracts/tunnel-session.ts';
import { humanBytes, liveLines, liveUrl, sessionRows, sessionsText } from '../../../src/cli/sessions-render.ts';
import { sessionsCommand } from '../../../src/cli/sessions.ts';

const now = Date.parse('2026-12-06T12:00:00Z');
const tunnel = (status: object = {}, takeover = false): Tunnel => ({
  ...TunnelResource.parse({
    apiVersion: 'fleetwright.dev/v1alpha1',
    kind: 'Tunnel',
    metadata: { name: 'dev', namespace: 'team' },
    spec: { poolRefs: [{ name: 'chromium' }], auth: { secretRef: { name: 'dev-token' } }, liveView: { takeover } },
  }),
  status: { url: 'wss://browsers.example.com/tunnels/team/dev', sessionsURL: 'https://reports.example.com/sessions/team/dev/', ...status },
});
const base = { namespace: 'team', tunnel: 'dev', pool: 'chromium', pod: 'chromium-abc', protocol: 'playwright' as const };
const done: ListedSession = {
  ...base, id: 'aaaaaaaaaaaa', client: '1.65.1', start: '2026-12-06T11:00:00Z', end: '2026-12-06T11:05:30Z', durationMs: 330_000,
  bytesFromClient: 1536, bytesToClient: 20 * 1024 * 1024, close: { by: 'browser', code: 1006, reason: 'browser lost', abnormal: true },
  video: 'https://reports.example.com/sessions/team/dev/aaaaaaaaaaaa/video.webm',
};
const running: ListedSession = { ...base, id: 'bbbbbbbbbbbb', protocol: 'cdp', client: 'cdp', start: '2026-12-06T11:58:00Z' };

describe('fleetwright sessions', () => {
  it('humanises byte counts', () => {
    expect([0, 999, 1536, 10 * 1024, 20 * 1024 * 1024, undefined].map(humanBytes)).toEqual(['0 B', '999 B', '1.5 KiB', '10 KiB', '20 MiB', '-']);
  });

  it('prints one row per session: client, start, duration (so far), bytes, and how it ended', () => {
    expect(sessionRows([running, done], now)).toEqual([
      ['bbbbbbbbbbbb', 'cdp', '2m ago', '2m', '-', '-', 'running'],
      ['aaaaaaaaaaaa', '1.65.1', '60m ago', '5m30s', '1.5 KiB', '20 MiB', '1006 browser: browser lost'],
    ]);
  });

  it('puts the URLs below the table: recordings, and the live view of a running session, with the token command', () => {
    const text = sessionsText(tunnel(), { sessions: [running, done] }, now);
    expect(text[0]).toMatch(/^ID {3,}CLIENT {3,}STARTED/);
    expect(text.slice(4)).toEqual([
      'URLs (add ?token=$(kubectl get secret fleetwright-reports -n team -o jsonpath=\'{.data.token}\' | base64 -d)):',
      'SESSION        WHAT    URL',
      'bbbbbbbbbbbb   live    https://browsers.example.com/tunnels/team/dev/sessions/bbbbbbbbbbbb/live',
      'aaaaaaaaaaaa   video   https://reports.example.com/sessions/team/dev/aaaaaaaaaaaa/video.webm',
    ]);
    expect(sessionsText(tunnel(), { sessions: [] }, now)).toEqual(['No sessions of Tunnel team/dev are stored.']);
  });

  it('gives the live view\'s address with the commands that print the tokens, and takeover only where allowed', () => {
    expect(liveUrl('ws://gw:8080/t/', 'aaaaaaaaaaaa')).toBe('http://gw:8080/t/sessions/aaaaaaaaaaaa/live');
    expect(liveLines(tunnel(), 'aaaaaaaaaaaa', false).lines).toEqual([
      'Live view of session aaaaaaaaaaaa of Tunnel team/dev:',
      '  https://browsers.example.com/tunnels/team/dev/sessions/aaaaaaaaaaaa/live?token=<read token>',
      'The read token: kubectl get secret fleetwright-reports -n team -o jsonpath=\'{.data.token}\' | base64 -d',
    ]);
    expect(liveLines(tunnel(), 'aaaaaaaaaaaa', true).error).toMatch(/set spec.liveView.takeover: true/);
    const takeover = liveLines(tunnel({}, true), 'aaaaaaaaaaaa', true).lines;
    expect(takeover[1]).toMatch(/\?token=<read token>&takeover=<Tunnel token>$/);
    expect(takeover[3]).toMatch(/fleetwright tunnel dev -n team --print-token$/);
    expect(liveLines(tunnel({ url: '/tunnels/team/dev' }), 'aaaaaaaaaaaa', false).error).toMatch(/--gateway-url/);
  });

  it('refuses what it cannot do before it reaches the cluster', async () => {
    const out = { write: () => true } as unknown as NodeJS.WritableStream;
    await expect(sessionsCommand([], { out })).rejects.toThrow(/name of one Tunnel/);
    await expect(sessionsCommand(['dev', '-o', 'yaml'], { out })).rejects.toThrow(/the one format is json/);
    await expect(sessionsCommand(['dev', '--live', 'x'], { out })).rejects.toThrow(/12 hex digits/);
    await expect(sessionsCommand(['dev', '--takeover'], { out })).rejects.toThrow(/goes with --live/);
    await expect(sessionsCommand(['dev', '--limit', '0'], { out })).rejects.toThrow(/--limit=0/);
  });
});
