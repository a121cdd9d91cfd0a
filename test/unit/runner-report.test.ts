// The runner's upload of a shard's blob report, against a real HTTP server
// on loopback that plays the report store: what it receives, how the runner
// retries, and what the shard summary says afterwards.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseShardSummary, type ShardSummary } from '../../src/contracts/shard-summary.ts';
import { amendSummary, BLOB_REPORT_NAME, uploadShardReport, withUploadOutcome } from '../../src/runner/report.ts';
import { backoffMs, Deadline, isTransientStatus, uploadReport } from '../../src/runner/upload.ts';

const log = pino({ level: 'silent' });
let tmp: string;
let zip: string;
let tokenFile: string;
const body = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(300_000, 7)]);

interface Received {
  method?: string;
  headers: IncomingMessage['headers'];
  bytes: number;
  data: Buffer;
}

/** A store stand-in: `answer` decides each request's status from its attempt number (1-based). */
async function store(
  answer: (attempt: number, req: IncomingMessage, res: ServerResponse) => void,
  options: { refuseBeforeBody?: boolean } = {},
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const data = Buffer.concat(chunks);
      received.push({ method: req.method, headers: req.headers, bytes: data.length, data });
      answer(received.length, req, res);
    });
  });
  if (options.refuseBeforeBody) {
    // What the report store does with `Expect: 100-continue`: refuse on the headers alone.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      received.push({ method: req.method, headers: req.headers, bytes: 0, data: Buffer.alloc(0) });
      res.writeHead(413, { connection: 'close' }).end('report of 300004 bytes is over the limit of 1000 bytes\n');
    });
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports/ns/run/shards/1`, received, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-upload-'));
  zip = join(tmp, BLOB_REPORT_NAME);
  writeFileSync(zip, body);
  tokenFile = join(tmp, 'token');
  writeFileSync(tokenFile, 'f00d\n');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const upload = (url: string, ms = 10_000, file = zip) => {
  const deadline = new Deadline(ms);
  return uploadReport({ file, url, tokenFile, deadline, log }).finally(() => deadline.dispose());
};

describe('uploading a blob report', () => {
  it('PUTs the zip whole with the run\'s token as a bearer token', async () => {
    const { url, received } = await store((_, _req, res) => res.writeHead(201).end('stored'));
    expect(await upload(url)).toEqual({ ok: true, attempts: 1, bytes: body.length });
    expect(received).toHaveLength(1);
    expect(received[0]?.method).toBe('PUT');
    expect(received[0]?.headers).toMatchObject({
      'authorization': 'Bearer f00d',
      'content-type': 'application/zip',
      'content-length': String(body.length),
    });
    expect(received[0]?.data.equals(body)).toBe(true);
  });

  it('retries what may pass (503, 429, 408) and then succeeds', async () => {
    const statuses = [503, 429, 408, 201];
    const { url, received } = await store((n, _req, res) =>
      res.writeHead(statuses[n - 1] ?? 500, { 'retry-after': '0' }).end('busy'));
    expect(await upload(url)).toMatchObject({ ok: true, attempts: 4 });
    expect(received.map((r) => r.bytes)).toEqual([body.length, body.length, body.length, body.length]);
  });

  it('takes a refusal as final and keeps the store\'s reason, sending no body it would drop', async () => {
    const { url, received } = await store(() => undefined, { refuseBeforeBody: true });
    const outcome = await upload(url);
    expect(outcome).toEqual({
      ok: false,
      attempts: 1,
      reason: 'the report store answered HTTP 413: report of 300004 bytes is over the limit of 1000 bytes',
    });
    expect(received).toHaveLength(1);
  });

  it.each([401, 403, 404, 409])('does not retry HTTP %i', async (status) => {
    const { url, received } = await store((_, _req, res) => res.writeHead(status).end('no'));
    expect(await upload(url)).toMatchObject({ ok: false, attempts: 1 });
    expect(received).toHaveLength(1);
  });

  it('retries a store it cannot reach until its time is up, and names the network error', async () => {
    const { url, server } = await store(() => undefined);
    server.close();
    const started = Date.now();
    const outcome = await upload(url, 2_000);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(outcome.ok).toBe(false);
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(outcome.ok ? '' : outcome.reason).toMatch(/^out of time after \d attempt\(s\); last: ECONNREFUSED/);
  });

  it('gives up on a request in flight when the deadline is brought forward (SIGTERM)', async () => {
    const { url } = await store(() => undefined); // reads the body, never answers
    const deadline = new Deadline(60_000);
    const started = Date.now();
    const pending = uploadReport({ file: zip, url, tokenFile, deadline, log });
    setTimeout(() => deadline.shorten(200), 300);
    const outcome = await pending;
    deadline.dispose();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcome).toEqual({ ok: false, attempts: 1, reason: 'out of time after 1 attempt(s)' });
  });

  it('says so when there is no zip or no token, without trying', async () => {
    expect(await upload('http://127.0.0.1:9/x', 1_000, join(tmp, 'missing.zip'))).toMatchObject({
      ok: false, attempts: 0, reason: expect.stringContaining('Playwright wrote no blob report'),
    });
    const deadline = new Deadline(1_000);
    const noToken = await uploadReport({ file: zip, url: 'http://127.0.0.1:9/x', tokenFile: join(tmp, 'nope'), deadline, log });
    deadline.dispose();
    expect(noToken).toMatchObject({ ok: false, attempts: 0, reason: expect.stringContaining(`cannot read the upload token ${join(tmp, 'nope')}`) });
  });

  it('backs off 0.5 s, 1 s, 2 s… up to 8 s, or as Retry-After asks within that', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(backoffMs(1, 3000)).toBe(3000);
    expect(backoffMs(1, 120_000)).toBe(8000);
    expect([408, 429, 500, 502, 503, 504].every(isTransientStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 413].some(isTransientStatus)).toBe(false);
  });
});

describe('the shard summary after an upload', () => {
  const summary: ShardSummary = {
    passed: 3, failed: 1, flaky: 0, skipped: 0, durationMs: 1200, status: 'failed', truncated: 0, errors: [],
    failures: [{ title: 'a.spec.ts:3 › fails', error: 'Error: nope' }],
  };
  const written = (path: string) => {
    const parsed = parseShardSummary(readFileSync(path, 'utf8'));
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.value;
  };

  it('says uploaded, and keeps the counts and failures as the reporter wrote them', () => {
    const path = join(tmp, 'uploaded.log');
    writeFileSync(path, JSON.stringify(summary));
    expect(amendSummary(path, (s) => withUploadOutcome(s, { ok: true, attempts: 1, bytes: 10 }))).toBe(true);
    expect(written(path)).toEqual({ ...summary, report: 'uploaded' });
  });

  it('says failed with a short reason, still within the 4096 bytes of a termination message', () => {
    const path = join(tmp, 'failed.log');
    const many = Array.from({ length: 40 }, (_, i) => ({ title: `t${i} ${'x'.repeat(150)}`, error: 'é'.repeat(150) }));
    writeFileSync(path, JSON.stringify({ ...summary, failed: 40, failures: many }));
    expect(amendSummary(path, (s) => withUploadOutcome(s, { ok: false, attempts: 6, reason: `HTTP 503: ${'busy '.repeat(100)}` }))).toBe(true);
    const text = readFileSync(path, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const amended = written(path);
    expect(amended).toMatchObject({ failed: 40, report: 'failed' });
    expect(amended.reportError).toMatch(/^HTTP 503: busy/);
    expect(Array.from(amended.reportError ?? '').length).toBeLessThanOrEqual(200);
    expect(amended.failures.length + amended.truncated).toBe(40);
  });

  it('leaves a missing summary alone: the shard already counts as an infrastructure failure', () => {
    expect(amendSummary(join(tmp, 'none.log'), (s) => s)).toBe(false);
  });

  it('is written by uploadShardReport whatever the outcome, and the upload never throws', async () => {
    const path = join(tmp, 'end-to-end.log');
    writeFileSync(path, JSON.stringify(summary));
    const { url } = await store((_, _req, res) => res.writeHead(401).end('wrong token'));
    const deadline = new Deadline(5_000);
    const outcome = await uploadShardReport({ url, tokenFile, blobDir: tmp, deadline, log, terminationLog: path });
    deadline.dispose();
    expect(outcome.ok).toBe(false);
    expect(written(path)).toMatchObject({ report: 'failed', reportError: 'the report store answered HTTP 401: wrong token' });
  });
});
