// Tunnel sessions end to end against the real API server: the Tunnel
// controller (alone, with --report-store-url) mints each Tunnel's session
// token and the namespace's read token; `fleetwright report-store` (its own
// process, filesystem backend, the chart's RBAC) takes a session's record
// and recordings with that token, lists and serves them with the read token,
// writes status.sessionsURL, and deletes the sessions with their Tunnel. The
// test PUTs what the gateway and the agent would.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET, type SecretObject, secretValue } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TUNNEL } from '../../src/api/resources.ts';
import type { TunnelStatus } from '../../src/api/v1alpha1/index.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../../src/contracts/report-store.ts';
import {
  SESSION_FILES,
  SESSION_TOKEN_KEY,
  SESSION_TOKEN_LABEL,
  type SessionListing,
  type SessionRecord,
  sessionPath,
  sessionsPath,
  sessionTokenSecret,
} from '../../src/contracts/tunnel-session.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { statusCode } from '../../src/runtime/rest.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, rest, startReportStore, tunnelControllerOnly } from './runtime/support.ts';

const ns = useNamespace('sessions');
const MAX_UPLOAD = 64 * 1024;
const webm = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(4096, 7)]);

type TunnelObject = KubeObject & { status?: TunnelStatus & { conditions?: Condition[] } };

let data: string;
let base: string;
let store: ControllerProcess;
let controller: ControllerProcess;

function apply(manifest: string): void {
  const result = kubectl(['apply', '-n', ns.name, '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

const tunnelManifest = (name: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec: { poolRefs: [{ name: chromium }], auth: { secretRef: { name: token } }, recording: { video: Always, log: OnAbnormalClose } }
`;

const getTunnel = (name: string) => rest().get<TunnelObject>(objectPath(TUNNEL, { namespace: ns.name, name }));
const getSecret = (name: string) => rest().get<SecretObject>(objectPath(SECRET, { namespace: ns.name, name }));
const missing = async (read: () => Promise<unknown>) =>
  statusCode(await read().then(() => undefined, (e: unknown) => e)) === 404;

/** The Secret once the controller has made it, and the token in it. */
async function tokenOf(name: string, key: string): Promise<{ secret: SecretObject; token: string }> {
  const secret = await eventually(`Secret ${name}`, () => getSecret(name).catch(() => undefined));
  return { secret, token: secretValue(secret, key) ?? '' };
}

const record = (tunnel: string, id: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  id,
  namespace: ns.name,
  tunnel,
  pool: 'chromium',
  pod: 'chromium-0',
  protocol: 'playwright',
  client: '1.65.1',
  start: new Date().toISOString(),
  ...extra,
});

const put = (tunnel: string, id: string, file: string, token: string | undefined, body: Buffer) =>
  fetch(`${base}${sessionPath(ns.name, tunnel, id)}${file}`, {
    method: 'PUT',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body,
  });
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const list = (tunnel: string, token?: string) =>
  fetch(`${base}${sessionsPath(ns.name, tunnel)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const storedOf = (tunnel: string) => join(data, '_sessions', ns.name, tunnel);

beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'fw-sessions-it-'));
  ({ store, url: base } = await startReportStore('127.0.0.1', [
    '--log-level=debug',
    `--watch-namespace=${ns.name}`,
    '--metrics-bind-address=127.0.0.1:0',
    `--max-upload-bytes=${MAX_UPLOAD}`,
    '--backend=filesystem',
    `--path=${data}`,
  ]));
  await eventually('the report store to be ready', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 30_000);
  controller = new ControllerProcess([
    `--watch-namespace=${ns.name}`,
    `--report-store-url=${base}`,
    '--gateway-url=wss://browsers.example.test',
    '--metrics-bind-address=0',
    '--health-probe-bind-address=0',
  ], {}, tunnelControllerOnly);
  apply(`
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: s3cret }
---${tunnelManifest('dev')}---${tunnelManifest('other')}`);
}, 60_000);

afterAll(async () => {
  await Promise.all([controller?.kill('SIGTERM'), store?.kill('SIGTERM')]);
  rmSync(data, { recursive: true, force: true });
});

describe('Tunnel sessions', () => {
  let devToken: string;
  let otherToken: string;
  let readToken: string;

  it('gives each Tunnel its session token, owned by it, and the namespace a read token', async () => {
    const tunnel = await getTunnel('dev');
    const dev = await tokenOf(sessionTokenSecret('dev'), SESSION_TOKEN_KEY);
    expect(dev.secret.metadata.labels?.[SESSION_TOKEN_LABEL]).toBe('dev');
    expect(dev.secret.metadata.ownerReferences).toMatchObject([{ kind: 'Tunnel', name: 'dev', uid: tunnel.metadata.uid, controller: true }]);
    expect(dev.token).toMatch(/^[0-9a-f]{64}$/);
    devToken = dev.token;
    otherToken = (await tokenOf(sessionTokenSecret('other'), SESSION_TOKEN_KEY)).token;
    readToken = (await tokenOf(REPORT_READER_SECRET, REPORT_TOKEN_KEY)).token;
    const recording = await eventually('the Recording condition True', async () =>
      (await getTunnel('dev')).status?.conditions?.find((c) => c.type === 'Recording' && c.status === 'True'));
    expect(recording.reason).toBe('Recording');
  });

  it('publishes status.sessionsURL, which the controller\'s own status writes keep', async () => {
    const url = `${base}${sessionsPath(ns.name, 'dev')}`;
    await eventually('status.sessionsURL', async () => (await getTunnel('dev')).status?.sessionsURL === url);
    // The controller writes the rest of the status meanwhile (its Ready condition, its counts): the URL stays.
    await new Promise((r) => setTimeout(r, 2000));
    const tunnel = await getTunnel('dev');
    expect(tunnel.status?.sessionsURL).toBe(url);
    expect(tunnel.status?.conditions?.map((c) => c.type).sort()).toEqual(['Ready', 'Recording']);
  });

  it('takes a session\'s record and recordings with the Tunnel\'s token, and refuses every other writer', async () => {
    const id = '0123456789ab';
    const started = record('dev', id);
    expect((await put('dev', id, SESSION_FILES.record, devToken, json(started))).status).toBe(201);
    expect((await put('dev', id, SESSION_FILES.video, devToken, webm)).status).toBe(201);
    const ended = {
      ...started, end: new Date().toISOString(), durationMs: 1500, bytesFromClient: 100, bytesToClient: 2000,
      close: { by: 'client', code: 1000, reason: '', abnormal: false },
    };
    expect((await put('dev', id, SESSION_FILES.record, devToken, json(ended))).status).toBe(201);
    expect((await put('dev', 'bbbbbbbbbbbb', SESSION_FILES.record, devToken, json(record('dev', 'bbbbbbbbbbbb')))).status).toBe(201);

    const refusals = {
      noToken: await put('dev', id, SESSION_FILES.log, undefined, Buffer.from('{}\n')),
      wrongToken: await put('dev', id, SESSION_FILES.log, 'not-the-token', Buffer.from('{}\n')),
      otherTunnelsToken: await put('dev', id, SESSION_FILES.log, otherToken, Buffer.from('{}\n')),
      unknownTunnel: await put('nobody', id, SESSION_FILES.log, devToken, Buffer.from('{}\n')),
      readToken: await put('dev', id, SESSION_FILES.log, readToken, Buffer.from('{}\n')),
      recordOfAnotherTunnel: await put('dev', 'cccccccccccc', SESSION_FILES.record, devToken, json(record('other', 'cccccccccccc'))),
      tooLarge: await put('dev', id, SESSION_FILES.log, devToken, Buffer.alloc(MAX_UPLOAD + 1, 0x61)),
    };
    expect(Object.fromEntries(Object.entries(refusals).map(([k, v]) => [k, v.status]))).toEqual({
      noToken: 401, wrongToken: 401, otherTunnelsToken: 403, unknownTunnel: 404, readToken: 401,
      recordOfAnotherTunnel: 400, tooLarge: 413,
    });
    const uid = (await getTunnel('dev')).metadata.uid ?? '';
    expect(readdirSync(join(storedOf('dev'), uid)).sort()).toEqual(['0123456789ab', 'bbbbbbbbbbbb']);
  });

  it('lists the sessions newest first with the read token, and serves the video', async () => {
    expect((await list('dev')).status).toBe(401);
    expect((await list('dev', devToken)).status).toBe(401);
    const answer = await list('dev', readToken);
    expect(answer.status).toBe(200);
    const listing = await answer.json() as SessionListing;
    expect(listing.sessions.map((s) => s.id)).toEqual(['bbbbbbbbbbbb', '0123456789ab']);
    const video = listing.sessions[1]?.video ?? '';
    expect(video).toBe(`${base}${sessionPath(ns.name, 'dev', '0123456789ab')}${SESSION_FILES.video}`);
    expect(listing.sessions[1]).toMatchObject({ close: { code: 1000 }, bytesToClient: 2000 });
    const served = await fetch(video, { headers: { authorization: `Bearer ${readToken}` } });
    expect(served.headers.get('content-type')).toBe('video/webm');
    expect(Buffer.from(await served.arrayBuffer()).equals(webm)).toBe(true);
    expect((await list('other', readToken)).status).toBe(200);
  });

  it('deletes a Tunnel\'s sessions with it, and a new Tunnel of the name starts with none', async () => {
    expect(kubectl(['delete', 'tunnel', 'dev', '-n', ns.name]).status).toBe(0);
    // The store logs the delete once its files are gone.
    await eventually('the sessions deleted with the Tunnel', async () =>
      store.lines.some((l) => l.msg === 'deleted the sessions of a deleted Tunnel' && l.name === 'dev') || undefined);
    expect(existsSync(storedOf('dev'))).toBe(false);
    await eventually('the session token deleted with its Tunnel', () => missing(() => getSecret(sessionTokenSecret('dev'))));
    expect((await list('dev', readToken)).status).toBe(404);

    apply(tunnelManifest('dev'));
    await eventually('the new Tunnel in the store\'s cache', async () => (await list('dev', readToken)).status === 200);
    expect(((await (await list('dev', readToken)).json()) as SessionListing).sessions).toEqual([]);
  });

  it('logs no session or read token', () => {
    const text = JSON.stringify([...store.lines, ...controller.lines]);
    for (const token of [devToken, otherToken, readToken]) {
      for (const form of [token, Buffer.from(token).toString('base64'), token.slice(0, 8)]) {
        expect(text.includes(form), `a token was logged: ${form}`).toBe(false);
      }
    }
  });
});
