// The report store end to end, through both backends: real Playwright blob
// reports (the fixture suite run in 2 shards on Debian's chromium), uploaded
// to `fleetwright report-store` running as its own process against the real
// API server, merged once the TestRun finishes, and opened in chromium from
// status.reportURL, trace viewer included. No controller runs here: the test
// writes the TestRun's status and the Secrets the controller would.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserServer, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import { SECRET } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_LABEL, reportTokenSecret, shardUploadPath } from '../../src/contracts/report-store.ts';
import { S3Storage } from '../../src/reports/s3.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { type S3Server, startS3Server } from '../fixtures/report-suite/s3-server.ts';
import { useNamespace } from './helpers.ts';
import { type ControllerProcess, eventually, rest, startReportStore } from './runtime/support.ts';

const ns = useNamespace('reports');
const suiteDir = join(repoRoot, 'test', 'fixtures', 'report-suite');
/** Small enough that an upload over it is cheap to send; the fixture's blobs are a few KiB. */
const MAX_UPLOAD = 64 * 1024;
const readToken = randomBytes(16).toString('hex');

type RunObject = KubeObject & { status?: { phase?: string; reportURL?: string } };

let work: string;
let browserServer: BrowserServer;
let browser: Browser;
let s3: S3Server;
/** The fixture suite's blob report of shard 1 and shard 2. */
const blobs: Record<number, Buffer> = {};

/** Runs shard `index` of 2 of the fixture suite with the blob reporter; resolves with its zip. */
async function blobReport(index: number, wsEndpoint: string): Promise<Buffer> {
  const file = join(work, `blob-${index}.zip`);
  const cli = join(repoRoot, 'node_modules', '@playwright', 'test', 'cli.js');
  const child = spawn(process.execPath, [cli, 'test', '--reporter=blob', `--shard=${index}/2`, `--output=${join(work, `results-${index}`)}`], {
    cwd: suiteDir,
    env: { ...process.env, PW_TEST_CONNECT_WS_ENDPOINT: wsEndpoint, PLAYWRIGHT_BLOB_OUTPUT_FILE: file },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  // Shard 2 holds the failing test: Playwright exits 1 for it.
  expect(code, stderr).toBe(index === 2 ? 1 : 0);
  return readFileSync(file);
}

interface SendOptions { headers?: Record<string, string>; body?: Buffer | Buffer[] }
interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/**
 * A request exactly as given: node:http sends the path unnormalised (fetch
 * would resolve `..` before sending). `body` as an array is sent chunked.
 */
function send(base: string, method: string, path: string, options: SendOptions = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, method, path, headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    const { body } = options;
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else {
      req.end(body);
    }
  });
}

const runPath = (name: string, sub?: string) => objectPath(TEST_RUN, { namespace: ns.name, name }, sub);
const getRun = (name: string) => rest().get<RunObject>(runPath(name));
const setPhase = (name: string, phase: string) => rest().mergePatch(runPath(name, 'status'), { status: { phase } });

/** A TestRun with 2 shards, Running, and its upload-token Secret as the controller makes it. */
async function createRun(name: string): Promise<{ uid: string; token: string }> {
  const run = await rest().create<RunObject>(collectionPath(TEST_RUN, ns.name), {
    apiVersion: TEST_RUN.apiVersion,
    kind: TEST_RUN.kind,
    metadata: { name },
    spec: { poolRef: { name: 'chromium' }, source: { configMap: { name: 'suite' } }, shards: 2 },
  });
  const uid = run.metadata.uid ?? '';
  const token = randomBytes(24).toString('base64url');
  await rest().create(collectionPath(SECRET, ns.name), {
    metadata: {
      name: reportTokenSecret(name),
      labels: { [REPORT_TOKEN_LABEL]: name },
      ownerReferences: [{ apiVersion: TEST_RUN.apiVersion, kind: TEST_RUN.kind, name, uid, controller: true }],
    },
    stringData: { token },
  });
  await setPhase(name, 'Running');
  return { uid, token };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fw-reports-it-'));
  browserServer = await chromium.launchServer({ executablePath: '/usr/bin/chromium', host: '127.0.0.1' });
  const [one, two, server] = await Promise.all([
    blobReport(1, browserServer.wsEndpoint()),
    blobReport(2, browserServer.wsEndpoint()),
    startS3Server(),
  ]);
  blobs[1] = one;
  blobs[2] = two;
  s3 = server;
  browser = await chromium.connect(browserServer.wsEndpoint());
  await rest().create(collectionPath(SECRET, ns.name), {
    metadata: { name: REPORT_READER_SECRET },
    stringData: { token: readToken },
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await browserServer?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Backend {
  name: string;
  args: () => string[];
  env: () => Record<string, string>;
  /** The keys stored under `<namespace>/<run>/`, read from the backend itself. */
  stored: (run: string) => Promise<string[]>;
}

const dataDir = () => join(work, 'data');
const backends: Backend[] = [
  {
    name: 'filesystem',
    args: () => ['--backend=filesystem', `--path=${dataDir()}`],
    env: () => ({}),
    stored: async (run) => {
      const dir = join(dataDir(), ns.name, run);
      if (!existsSync(dir)) return [];
      return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    },
  },
  {
    name: 's3',
    args: () => ['--backend=s3', `--s3-bucket=${s3.bucket}`, `--s3-endpoint=${s3.endpoint}`],
    env: () => s3.env,
    stored: async (run) => {
      const storage = new S3Storage({
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
      });
      const keys = (await storage.list(`${ns.name}/${run}/`)).map((o) => o.key);
      storage.destroy();
      return keys;
    },
  },
];

describe.each(backends)('the report store with the $name backend', (backend) => {
  const main = `checkout-${backend.name === 's3' ? 's3' : 'fs'}`;
  const other = `${main}-other`;
  /** Set by the first start; a restart comes back at the same address, as a restarted Service's pod would. */
  let port: number | undefined;
  let base: string;
  let store: ControllerProcess;
  let tokens: Record<string, { uid: string; token: string }>;
  /** Every log line of every store process of this backend, for the check that no token is logged. */
  const logged: unknown[] = [];

  const start = async () => {
    if (store) logged.push(...store.lines);
    ({ store, url: base, port } = await startReportStore('127.0.0.1', [
      '--log-level=debug',
      `--watch-namespace=${ns.name}`,
      '--metrics-bind-address=127.0.0.1:0',
      `--max-upload-bytes=${MAX_UPLOAD}`,
      ...backend.args(),
    ], { env: backend.env(), port }));
    await eventually('the report store to be ready', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 30_000);
  };
  const metrics = async () => (await fetch(await store.url('metrics') + '/metrics')).text();
  const upload = (run: string, index: number, token: string | undefined, body: Buffer | Buffer[]) =>
    send(base, 'PUT', shardUploadPath(ns.name, run, index), { headers: token ? { authorization: `Bearer ${token}` } : {}, body });

  beforeAll(async () => {
    const [a, b] = await Promise.all([createRun(main), createRun(other)]);
    tokens = { [main]: a, [other]: b };
    await start();
  });

  afterAll(async () => {
    await store?.kill('SIGTERM');
  });

  it('takes each shard\'s blob report with the run\'s own token, and refuses everything else', async () => {
    const { token } = tokens[main]!;
    expect((await upload(main, 1, token, blobs[1]!)).status).toBe(201);
    // Chunked, without a Content-Length, as a streaming runner sends it.
    expect((await upload(main, 2, token, [blobs[2]!.subarray(0, 1000), blobs[2]!.subarray(1000)])).status).toBe(201);
    expect((await upload(other, 1, tokens[other]!.token, blobs[1]!)).status).toBe(201);

    const refusals = {
      noToken: await upload(main, 1, undefined, blobs[1]!),
      wrongToken: await upload(main, 1, 'not-the-token', blobs[1]!),
      otherRunsToken: await upload(main, 1, tokens[other]!.token, blobs[1]!),
      unknownRun: await upload('nobody', 1, token, blobs[1]!),
      shardOutOfRange: await upload(main, 3, token, blobs[1]!),
      notAZip: await upload(main, 1, token, Buffer.from('hello, not a zip')),
      // Over --max-upload-bytes: declared up front, and found while streaming a chunked body.
      declaredTooLarge: await upload(main, 1, token, Buffer.concat([blobs[1]!, Buffer.alloc(MAX_UPLOAD)])),
      streamedTooLarge: await upload(main, 1, token, [blobs[1]!, ...Array(4).fill(Buffer.alloc(MAX_UPLOAD / 4))]),
    };
    expect(Object.fromEntries(Object.entries(refusals).map(([k, v]) => [k, v.status]))).toEqual({
      noToken: 401,
      wrongToken: 401,
      otherRunsToken: 403,
      unknownRun: 404,
      shardOutOfRange: 400,
      notAZip: 400,
      declaredTooLarge: 413,
      streamedTooLarge: 413,
    });
    expect(refusals.declaredTooLarge.text).toContain(`at most ${MAX_UPLOAD} bytes (the report store's --max-upload-bytes)`);
    expect(refusals.streamedTooLarge.text).toContain('--max-upload-bytes');
    expect(refusals.otherRunsToken.text).toMatch(/another TestRun's/);

    // Paths that try to leave their place never reach storage.
    const hostile = [
      ['PUT', `/reports/${ns.name}/${main}/shards/1/../../../${other}/shards/1`],
      ['PUT', `/reports/${ns.name}/${main}/shards/..%2f..%2f..%2fescaped`],
      ['PUT', `/reports/${ns.name}/${main}/shards/%2e%2e`],
      ['PUT', `/reports/..%2f${ns.name}/${main}/shards/1`],
      ['PUT', `/reports/${ns.name}/${main}/shards/1.5`],
      ['GET', `/reports/${ns.name}/${main}/../${other}/index.html`],
      ['GET', `/reports/${ns.name}/${main}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`],
      ['GET', `/reports/${ns.name}/${main}/data%2f..%2f..%2findex.html`],
      ['GET', `/reports/${ns.name}/${main}/.%2e/index.html`],
      ['GET', `/reports/${ns.name}/${main}/trace/%00.html`],
    ] as const;
    for (const [method, path] of hostile) {
      const answer = await send(base, method, path, {
        headers: { authorization: `Bearer ${method === 'PUT' ? token : readToken}` },
        body: method === 'PUT' ? blobs[1] : undefined,
      });
      expect(answer.status, `${method} ${path}`).toBe(400);
    }
    expect((await backend.stored(main)).sort()).toEqual(
      backend.name === 's3'
        ? [`${ns.name}/${main}/${tokens[main]!.uid}/blobs/1.zip`, `${ns.name}/${main}/${tokens[main]!.uid}/blobs/2.zip`]
        : ['1.zip', '2.zip'],
    );
    if (backend.name === 'filesystem') expect(readdirSync(dataDir()).sort()).toEqual(['.tmp', ns.name]);

    const text = await metrics();
    expect(text).toMatch(new RegExp(`fleetwright_report_bytes_total{direction="upload"} ${blobs[1]!.length * 2 + blobs[2]!.length}\\n`));
    for (const [reason, n] of [['unauthorized', 2], ['forbidden', 1], ['not_found', 1], ['too_large', 2], ['bad_request', 7]] as const) {
      expect(text, reason).toContain(`fleetwright_report_upload_failures_total{reason="${reason}"} ${n}\n`);
    }
  });

  it('merges after a restart once the run has finished, deletes the report of a run deleted meanwhile, and publishes status.reportURL', async () => {
    expect(await store.kill('SIGTERM')).toBe(0);
    // While the store is down: the run finishes, the other run is deleted.
    await setPhase(main, 'Failed');
    await rest().delete(runPath(other));
    await start();

    const run = await eventually('status.reportURL', async () => (await getRun(main)).status?.reportURL, 30_000);
    expect(run).toBe(`${base}/reports/${ns.name}/${main}/`);
    await eventually('the deleted run\'s report to be swept', async () => (await backend.stored(other)).length === 0);
    expect(store.lines.some((l) => l.msg === 'deleted a report: its TestRun no longer exists' && l.name === other)).toBe(true);
    expect(store.lines.find((l) => l.msg === 'merged the shards\' reports')).toMatchObject({ namespace: ns.name, name: main, shards: 2 });
    expect(await metrics()).toMatch(/fleetwright_report_merge_seconds_count{result="ok"} 1\n/);
  });

  it('serves the merged report to a reader with the namespace\'s read token, and opens its failing test\'s trace in chromium', async () => {
    const url = `${base}/reports/${ns.name}/${main}/`;
    expect((await send(base, 'GET', `/reports/${ns.name}/${main}/`)).status).toBe(401);
    expect((await send(base, 'GET', `/reports/${ns.name}/${main}/`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const index = await send(base, 'GET', `/reports/${ns.name}/${main}/`, { headers: { authorization: `Bearer ${readToken}` } });
    expect(index.status).toBe(200);
    expect(index.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'private, no-cache',
    });
    expect(index.headers['content-security-policy']).toMatch(/default-src 'self'/);

    const context = await browser.newContext();
    const problems: string[] = [];
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${url}?token=${readToken}`);
    // The token went into a cookie and out of the URL.
    expect(page.url()).toBe(url);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: `/reports/${ns.name}/` });

    // Every shard's tests, each exactly once.
    const titles = page.locator('.test-file-test .test-file-title');
    await titles.first().waitFor();
    expect((await titles.allTextContents()).sort()).toEqual([
      'cart has a check-out button',
      'cart lists its items',
      'checkout asks for a card',
      'checkout confirms the order',
    ]);
    await page.getByText('checkout confirms the order').click();
    await page.getByText('Order confirmed').first().waitFor();
    // The failure's screenshot: an attachment, served sandboxed.
    const screenshot = page.locator(`img.screenshot[src^="${url}data/"]`).first();
    await screenshot.waitFor();
    // Loaded, not broken. (No DOM types here: the function runs in the page.)
    const width = await screenshot.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    expect(width).toBeGreaterThan(0);
    const attachment = await send(base, 'GET', new URL(await screenshot.getAttribute('src') ?? '').pathname, {
      headers: { authorization: `Bearer ${readToken}` },
    });
    expect(attachment.headers['content-type']).toBe('image/png');
    expect(attachment.headers['content-security-policy']).toMatch(/^sandbox;/);
    // The trace viewer, served by the store, loads the trace through its service worker and renders it.
    await page.getByRole('link', { name: 'View Trace' }).first().click();
    await page.waitForURL(/\/trace\/index\.html/);
    await page.getByText(/toBeVisible/).first().waitFor({ timeout: 15_000 });
    const snapshot = page.frameLocator('iframe.snapshot-visible[name=snapshot]');
    await snapshot.getByRole('button', { name: 'Pay' }).waitFor({ timeout: 15_000 });
    expect(problems.filter((p) => /Content Security Policy|Refused/.test(p))).toEqual([]);
    await context.close();
  });

  it('opens the report from a link on another site: the cookie is set, then a same-site step carries it', async () => {
    const url = `${base}/reports/${ns.name}/${main}/`;
    const context = await browser.newContext();
    const page = await context.newPage();
    // localhost and 127.0.0.1 are different sites, as a CI system's page and the store are.
    await page.goto(`http://localhost:${port}/healthz`);
    await page.setContent(`<a href="${url}?token=${readToken}">the report</a>`);
    await page.getByRole('link').click();
    await page.locator('.test-file-test').first().waitFor();
    expect(page.url()).toBe(url);
    await context.close();
  });

  it('refuses an upload once the run has finished, and deletes the report with its TestRun', async () => {
    const late = await upload(main, 1, tokens[main]!.token, blobs[1]!);
    expect(late.status).toBe(409);
    expect(late.text).toMatch(/has finished \(Failed\): its upload token is no longer valid/);
    expect(await backend.stored(main)).toContain(backend.name === 's3' ? `${ns.name}/${main}/${tokens[main]!.uid}/html/index.html` : 'index.html');

    await rest().delete(runPath(main));
    await eventually('the report to be deleted with its TestRun', async () => (await backend.stored(main)).length === 0);
    if (backend.name === 'filesystem') expect(existsSync(join(dataDir(), ns.name, main))).toBe(false);
    expect((await send(base, 'GET', `/reports/${ns.name}/${main}/`, { headers: { authorization: `Bearer ${readToken}` } })).status).toBe(404);
  });

  it('logs at debug level no upload or read token, neither whole, in base64, nor an 8-character prefix', () => {
    const text = JSON.stringify([...logged, ...store.lines]);
    expect(text.length).toBeGreaterThan(1000);
    for (const token of [tokens[main]!.token, tokens[other]!.token, readToken]) {
      for (const form of [token, Buffer.from(token).toString('base64'), token.slice(0, 8)]) {
        expect(text.includes(form), `the report store logged ${form} (of token ${token})`).toBe(false);
      }
    }
  });
});
