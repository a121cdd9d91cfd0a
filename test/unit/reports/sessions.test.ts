// The pure decisions about Tunnel sessions in the report store: what a path
// asks for, where sessions are kept (never where a run's report could be,
// and the other way round), who may write, what a listing holds, and what
// retention deletes.
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../../src/contracts/tunnel-session.ts';
import { authorizeSessionUpload, type TokenSecretView, type TunnelView } from '../../../src/reports/auth.ts';
import { runOfKey, runPrefix } from '../../../src/reports/paths.ts';
import { retentionPlan, sessionRetentionPlan } from '../../../src/reports/retention.ts';
import {
  CLOCK_SKEW_MS,
  listedSession,
  newestSessions,
  parseLimit,
  sessionFolders,
} from '../../../src/reports/session-listing.ts';
import { parseSessionRequest, sessionKey, sessionOfKey, tunnelSessionsPrefix } from '../../../src/reports/session-paths.ts';
import { checkRecord } from '../../../src/reports/sessions-server.ts';
import { needsSessionsURL, sessionsURL } from '../../../src/reports/sessions-url.ts';
import type { StoredObject } from '../../../src/reports/storage.ts';

const uuid = (n: string) => `${n.repeat(8)}-${n.repeat(4)}-4${n.repeat(3)}-8${n.repeat(3)}-${n.repeat(12)}`;
const [uid1, uid2, uid3] = [uuid('1'), uuid('2'), uuid('3')];
const dev: TunnelView = { namespace: 'team', name: 'dev', uid: uid1 };
const now = new Date('2026-12-06T12:00:00Z');
const day = 24 * 3600_000;
const object = (key: string, modified: Date | number = now): StoredObject =>
  ({ key, size: 1, modified: typeof modified === 'number' ? new Date(now.getTime() - modified) : modified });
const record = (id: string, start: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  id, namespace: 'team', tunnel: 'dev', pool: 'chromium', pod: 'chromium-abc', protocol: 'playwright', client: '1.65.1', start, ...extra,
});

describe('session paths', () => {
  it('reads the list and a session file, and refuses anything else', () => {
    expect(parseSessionRequest('/sessions/team/dev/?limit=5')).toEqual({ kind: 'list', tunnel: { namespace: 'team', name: 'dev' } });
    expect(parseSessionRequest('/sessions/team/dev')).toEqual({ kind: 'list', tunnel: { namespace: 'team', name: 'dev' } });
    expect(parseSessionRequest('/sessions/team/dev/0123456789ab/video.webm')).toEqual({
      kind: 'file', tunnel: { namespace: 'team', name: 'dev' }, id: '0123456789ab', file: 'video.webm',
    });
    for (const bad of [
      '/sessions/team/dev/0123456789AB/video.webm',
      '/sessions/team/dev/0123456789ab/other.txt',
      '/sessions/team/dev/0123456789ab/',
      '/sessions/team/dev/0123456789ab/video.webm/x',
      '/sessions/team/dev/..%2f..%2fx/video.webm',
      '/sessions/team/../dev/0123456789ab/log.jsonl',
      '/sessions/Team/dev/',
      '/sessions/team/%2e%2e/',
    ]) expect(parseSessionRequest(bad).kind, bad).toBe('invalid');
    expect(parseSessionRequest('/reports/team/dev/').kind).toBe('unknown');
  });

  it('keeps a Tunnel\'s sessions under its uid, below a root no namespace can have', () => {
    expect(sessionKey(dev, '0123456789ab', 'session.json')).toBe(`_sessions/team/dev/${uid1}/0123456789ab/session.json`);
    expect(tunnelSessionsPrefix({ ...dev, uid: uid2 })).toBe(`_sessions/team/dev/${uid2}/`);
    expect(() => sessionKey(dev, '../x', 'session.json')).toThrow(/not a session id/);
    expect(() => tunnelSessionsPrefix({ ...dev, uid: 'x' })).toThrow(/not a valid Tunnel/);
  });

  it('never takes a session key for a run\'s, even of a Tunnel named like a UUID', () => {
    const uuidNamed = { namespace: 'team', name: uid2, uid: uid3 };
    for (const tunnel of [dev, uuidNamed, { namespace: 'sessions', name: uid2, uid: uid3 }]) {
      for (const file of ['session.json', 'video.webm', 'log.jsonl'] as const) {
        const key = sessionKey(tunnel, '0123456789ab', file);
        expect(runOfKey(key), key).toBeUndefined();
        expect(sessionOfKey(key)).toMatchObject({ ...tunnel, id: '0123456789ab', file });
      }
    }
    // And the old layout a brief might suggest, sessions/<ns>/<tunnel>/<uid>/…, is not a run's either.
    expect(runOfKey(`sessions/team/${uid2}/${uid3}/0123456789ab/session.json`)).toBeUndefined();
  });

  it('never takes a run\'s report key for a session\'s, even in a namespace called sessions', () => {
    const run = { namespace: 'sessions', name: 'team', uid: uid1 };
    for (const key of [`${runPrefix(run)}blobs/1.zip`, `${runPrefix(run)}html/index.html`, `${runPrefix(run)}html/data/a/b.png`]) {
      expect(sessionOfKey(key), key).toBeUndefined();
      expect(runOfKey(key)).toEqual(run);
    }
    expect(sessionOfKey(`_sessions/team/dev/${uid1}/0123456789ab/session.json/x`)).toBeUndefined();
    expect(sessionOfKey(`_sessions/team/dev/${uid1}/0123456789ab/notes.txt`)).toBeUndefined();
  });
});

describe('retention of sessions', () => {
  const key = (t: TunnelView, id: string, file: 'session.json' | 'video.webm' = 'session.json') => sessionKey(t, id, file);

  it('deletes every session of a Tunnel that no longer exists, and those of an earlier Tunnel of the name', () => {
    const recreated = { ...dev, uid: uid2 };
    const gone = { namespace: 'team', name: 'gone', uid: uid3 };
    const stored = [object(key(dev, 'aaaaaaaaaaaa')), object(key(recreated, 'bbbbbbbbbbbb')), object(key(gone, 'cccccccccccc'))];
    expect(sessionRetentionPlan(stored, [recreated], now, 30 * day)).toEqual([
      { ...dev, prefix: `_sessions/team/dev/${uid1}/`, reason: 'deleted' },
      { ...gone, prefix: `_sessions/team/gone/${uid3}/`, reason: 'deleted' },
    ]);
  });

  it('deletes each session whose newest file is older than --max-age, not the Tunnel\'s others', () => {
    const stored = [
      object(key(dev, 'aaaaaaaaaaaa'), 40 * day),
      object(key(dev, 'aaaaaaaaaaaa', 'video.webm'), 31 * day),
      object(key(dev, 'bbbbbbbbbbbb'), 40 * day),
      object(key(dev, 'bbbbbbbbbbbb', 'video.webm'), 29 * day),
    ];
    expect(sessionRetentionPlan(stored, [dev], now, 30 * day)).toEqual([
      { ...dev, prefix: `_sessions/team/dev/${uid1}/aaaaaaaaaaaa/`, reason: 'expired', id: 'aaaaaaaaaaaa' },
    ]);
  });

  it('keeps the two sweeps apart: the reports\' plan leaves sessions alone, and the sessions\' plan reports', () => {
    const sessions = [object(sessionKey({ namespace: 'team', name: uid2, uid: uid3 }, 'aaaaaaaaaaaa', 'session.json'), 90 * day)];
    const reports = [object(`sessions/team/${uid1}/html/index.html`, 90 * day)];
    expect(retentionPlan(sessions, [], now, day)).toEqual([]);
    expect(sessionRetentionPlan(reports, [], now, day)).toEqual([]);
  });
});

describe('session uploads', () => {
  const secret: TokenSecretView = { namespace: 'team', name: 'dev-sessions', ownerLabel: 'dev', ownerUids: [uid1], token: 'session' };
  const upload = (input: Partial<Parameters<typeof authorizeSessionUpload>[0]>) => authorizeSessionUpload({
    namespace: 'team', name: 'dev', tunnel: dev, token: 'session', secret, tokenOfOtherTunnel: (t) => t === 'other', ...input,
  });

  it('takes the Tunnel\'s own token only', () => {
    expect(upload({})).toEqual({ ok: true, tunnel: dev });
    expect(upload({ tunnel: undefined })).toMatchObject({ status: 404, failure: 'not_found', message: 'Tunnel team/dev not found' });
    expect(upload({ token: undefined })).toMatchObject({ status: 401, message: expect.stringContaining('Secret dev-sessions, key token') });
    expect(upload({ token: 'wrong' })).toMatchObject({ status: 401, message: 'wrong session token for Tunnel team/dev' });
    expect(upload({ token: 'other' })).toMatchObject({ status: 403, failure: 'forbidden', message: expect.stringContaining('another Tunnel\'s') });
  });

  it('takes no token from a Secret left by an earlier Tunnel of the same name, or not labelled as its', () => {
    expect(upload({ secret: { ...secret, ownerUids: [uid2] } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, ownerLabel: undefined } })).toMatchObject({ status: 401 });
  });

  it('stores a record only when it is a SessionRecord of the session its path names', () => {
    const path = { namespace: 'team', tunnel: 'dev', id: 'aaaaaaaaaaaa' };
    const body = (r: unknown) => Buffer.from(JSON.stringify(r));
    expect(() => checkRecord(body(record('aaaaaaaaaaaa', '2026-12-06T11:00:00Z')), path)).not.toThrow();
    expect(() => checkRecord(Buffer.from('{'), path)).toThrow('session.json is not JSON');
    expect(() => checkRecord(body({ id: 'aaaaaaaaaaaa' }), path)).toThrow(/is not a session record: namespace/);
    expect(() => checkRecord(body(record('bbbbbbbbbbbb', '2026-12-06T11:00:00Z')), path))
      .toThrow('session.json is of session team/dev/bbbbbbbbbbbb, not of team/dev/aaaaaaaaaaaa, which the path names');
    expect(() => checkRecord(body(record('aaaaaaaaaaaa', '2026-12-06T11:00:00Z', { tunnel: 'prod' })), path)).toThrow(/team\/prod/);
  });
});

describe('the listing', () => {
  const at = (iso: string) => new Date(iso);

  it('finds the sessions that have a record, with their files, the last written first', () => {
    const folders = sessionFolders([
      object(sessionKey(dev, 'aaaaaaaaaaaa', 'session.json'), at('2026-12-06T10:00:00Z')),
      object(sessionKey(dev, 'aaaaaaaaaaaa', 'video.webm'), at('2026-12-06T10:01:00Z')),
      object(sessionKey(dev, 'bbbbbbbbbbbb', 'session.json'), at('2026-12-06T11:00:00Z')),
      // A recording whose record is not there (yet): not listed.
      object(sessionKey(dev, 'cccccccccccc', 'log.jsonl'), at('2026-12-06T11:00:00Z')),
    ]);
    expect(folders.map((f) => [f.id, [...f.files].sort()])).toEqual([
      ['bbbbbbbbbbbb', ['session.json']],
      ['aaaaaaaaaaaa', ['session.json', 'video.webm']],
    ]);
  });

  it('orders by the record\'s start, and stops reading once no older-written record can start later', async () => {
    // 40 sessions, one an hour; each record last written when its session ended, 30 min after its start.
    const hour = 3600_000;
    const start = (i: number) => new Date(Date.parse('2026-12-01T00:00:00Z') + i * hour).toISOString();
    const id = (i: number) => i.toString(16).padStart(12, '0');
    const folders = Array.from({ length: 40 }, (_, i) => ({
      id: id(i), files: new Set(['session.json' as const]), recordModified: Date.parse(start(i)) + 30 * 60_000,
    })).reverse();
    // A long session that started early and ended last: written last, started first.
    folders.unshift({ id: id(99), files: new Set(['session.json' as const]), recordModified: Date.parse(start(41)) });
    const read: string[] = [];
    const sessions = await newestSessions(folders, 3, async (sid) => {
      read.push(sid);
      return record(sid, sid === id(99) ? start(-5) : start(parseInt(sid, 16)));
    });
    expect(sessions.map((s) => s.record.id)).toEqual([id(39), id(38), id(37)]);
    // The first batch of 16, then none: everything older was written before the third start, less the skew.
    expect(read.length).toBe(16);
    expect(CLOCK_SKEW_MS).toBeLessThan(hour);
  });

  it('skips a record that cannot be read', async () => {
    const folders = [{ id: 'aaaaaaaaaaaa', files: new Set(['session.json' as const]), recordModified: 1 }];
    expect(await newestSessions(folders, 5, async () => undefined)).toEqual([]);
  });

  it('gives the URLs of the recordings stored beside the record', () => {
    const found = { record: record('aaaaaaaaaaaa', '2026-12-06T11:00:00Z'), files: new Set(['session.json', 'video.webm'] as const) };
    expect(listedSession(found, 'https://reports.example.com')).toEqual({
      ...found.record,
      video: 'https://reports.example.com/sessions/team/dev/aaaaaaaaaaaa/video.webm',
    });
  });

  it('takes ?limit= from 1 to 500, 50 when absent', () => {
    expect(parseLimit(null)).toBe(50);
    expect(parseLimit('500')).toBe(500);
    for (const bad of ['0', '501', '-1', '1.5', 'x', '']) expect(parseLimit(bad)).toHaveProperty('error');
  });
});

describe('status.sessionsURL', () => {
  it('is written only when it is not the store\'s', () => {
    const url = sessionsURL('https://reports.example.com', dev);
    expect(url).toBe('https://reports.example.com/sessions/team/dev/');
    expect(needsSessionsURL(dev, 'https://reports.example.com')).toBe(true);
    expect(needsSessionsURL({ ...dev, sessionsURL: url }, 'https://reports.example.com')).toBe(false);
    expect(needsSessionsURL({ ...dev, sessionsURL: url }, 'https://elsewhere.example.com')).toBe(true);
    expect(needsSessionsURL(undefined, 'https://reports.example.com')).toBe(false);
  });
});
