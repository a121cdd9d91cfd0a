// `fleetwright runner` against a real browser: Debian's chromium behind
// launchServer on loopback, standing in for the runner pod's leased browser.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { type BrowserServer, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/contracts/progress.ts';
import { parseShardSummary } from '../../src/contracts/shard-summary.ts';
import { startGitServer } from '../../hack/lib/gitserver.ts';
import { LAYOUT_KEY } from '../../src/contracts/suite-layout.ts';
import { runFetchSource } from '../../src/runner/fetch-source.ts';
import { prepareSuite, suitePath } from '../../src/runner/workdir.ts';
import { onFreePort, portTaken } from '../../hack/lib/ports.ts';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(root, 'test/fixtures/suite');
/** The three browser projects `npm init playwright` writes. */
const initFixture = join(root, 'test/fixtures/init-playwright');
const playwrightCli = join(root, 'node_modules/@playwright/test/cli.js');

interface Counts {
  passed: number;
  failed: number;
  flaky: number;
  skipped: number;
}

const counts = ({ passed, failed, flaky, skipped }: Counts): Counts => ({ passed, failed, flaky, skipped });

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

type OnStdout = (text: string, child: ChildProcess) => void;

function node(args: string[], env: NodeJS.ProcessEnv, onStdout?: OnStdout, cwd = root): Promise<Exit> {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout: stripVTControlCharacters(stdout), stderr })));
}

/**
 * A suite's webServer listens on the port its config names, picked here just before: when another process took
 * it meanwhile, Playwright says so (or the server's EADDRINUSE), and onFreePort runs it again on another.
 */
function unlessPortTaken(exit: Exit): Exit {
  if (portTaken(`${exit.stdout}\n${exit.stderr}`)) throw new Error(`the webServer's port was taken:\n${exit.stdout}`);
  return exit;
}

describe('fleetwright runner', () => {
  let browser: BrowserServer;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let whole: Counts;
  let wholeRun: Awaited<ReturnType<typeof runner>>;
  /** What the whole run's progress port answered while it ran, and what its progress file held at the end. */
  const served: Progress[] = [];
  let lastProgress: Progress;

  /**
   * Polls the progress port the runner logs until the runner exits, one
   * request at a time: answers to overlapping requests can arrive out of
   * order on a busy machine, and the test checks their order.
   */
  function pollProgress(): OnStdout {
    let polling = false;
    return (stdout, child) => {
      const url = /"url":"([^"]+)","msg":"serving progress"/.exec(stdout)?.[1];
      if (polling || !url) return;
      polling = true;
      let exited = false;
      child.once('exit', () => (exited = true));
      const poll = (): void => {
        fetch(url)
          .then(async (r) => served.push(await r.json() as Progress), () => undefined)
          .finally(() => exited || setTimeout(poll, 100));
      };
      poll();
    };
  }

  /** `node src/main.ts runner [args]` as a runner pod runs it; returns its exit and the summary it left. */
  async function runner(name: string, args: string[], source = fixture, onStdout?: OnStdout, extraEnv = {}) {
    const termination = join(tmp, `${name}.termination-log`);
    const exit = await onFreePort('127.0.0.1', async (port) => unlessPortTaken(await node(['src/main.ts', 'runner', ...args], {
      ...env,
      ...extraEnv,
      SUITE_PORT: String(port),
      FLEETWRIGHT_SOURCE_DIR: source,
      FLEETWRIGHT_WORK_DIR: join(tmp, name),
      FLEETWRIGHT_TERMINATION_LOG: termination,
    }, onStdout)));
    const message = existsSync(termination) ? readFileSync(termination, 'utf8') : undefined;
    const parsed = parseShardSummary(message);
    if (!parsed.ok) throw new Error(`${name}: ${parsed.message}\n${exit.stdout}\n${exit.stderr}`);
    expect(Buffer.byteLength(message!)).toBeLessThanOrEqual(4096);
    return { ...exit, summary: parsed.value };
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fleetwright-runner-'));
    browser = await chromium.launchServer({
      executablePath: '/usr/bin/chromium',
      host: '127.0.0.1',
      port: 0,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    env = {
      ...process.env,
      PW_TEST_CONNECT_WS_ENDPOINT: browser.wsEndpoint(),
      PW_TEST_CONNECT_EXPOSE_NETWORK: '<loopback>',
    };
    // Playwright's defaults differ on CI (dot reporter); these tests assert on the local ones.
    delete env.CI;

    // The reference: the same suite run directly, counted by Playwright's own JSON reporter;
    // the runner's run of it alongside, to save a minute on two cores.
    const jsonFile = join(tmp, 'direct.json');
    const reference = onFreePort('127.0.0.1', async (port) => unlessPortTaken(await node(
      [playwrightCli, 'test', '--config', join(fixture, 'playwright.config.ts'), '--reporter=json', '--output', join(tmp, 'direct')],
      { ...env, SUITE_PORT: String(port), PLAYWRIGHT_JSON_OUTPUT_FILE: jsonFile },
    )));
    [, wholeRun] = await Promise.all([
      reference,
      runner('whole', [], fixture, pollProgress(), { FLEETWRIGHT_PROGRESS_PORT: '0' }),
    ]);
    const work = join(tmp, 'whole');
    const file = readdirSync(work).find((f) => f.endsWith('.progress.json'));
    lastProgress = JSON.parse(readFileSync(join(work, file ?? 'missing'), 'utf8')) as Progress;
    expect((await reference).code).toBe(1);
    const { stats } = JSON.parse(readFileSync(jsonFile, 'utf8'));
    whole = { passed: stats.expected, failed: stats.unexpected, flaky: stats.flaky, skipped: stats.skipped };
    // What the fixture is written to produce; if this fails, the fixture changed, not the runner.
    expect(whole).toEqual({ passed: 9, failed: 3, flaky: 1, skipped: 1 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('writes the counts Playwright\'s JSON reporter reports, names the failed tests, and exits 1', () => {
    const { code, stdout, summary } = wholeRun;

    expect(code).toBe(1);
    expect(counts(summary)).toEqual(whole);
    expect(summary).toMatchObject({ status: 'failed', truncated: 0, errors: [] });
    // Its browser still answered after the failures: they are the suite's.
    expect(summary.browserLost).toBeUndefined();
    expect(summary.failures).toEqual([
      { title: 'a.spec.ts:19 › home page › fails on purpose: expects a total the page does not show', error: 'Error: deliberate failure' },
      { title: 'b.spec.ts:19 › sign-up form › fails on purpose: finds no such button', error: 'Error: deliberate failure' },
      { title: 'c.spec.ts:18 › fails on purpose: the about page has no cart', error: 'Error: deliberate failure' },
    ]);
    // The suite configures no reporter: Playwright's default list reporter still prints.
    expect(stdout).toMatch(/✓ +\d+ a\.spec\.ts:\d+:\d+ › home page › has a title/);
  });

  it('serves running counts on its progress port that only grow and end at the summary\'s', () => {
    const settled = (p: Progress) => p.passed + p.failed + p.flaky + p.skipped;
    const during = served.filter((p) => p.total > 0 && !p.done);
    expect(during.length).toBeGreaterThan(3);
    expect(during.some((p) => settled(p) > 0 && settled(p) < 14)).toBe(true);
    for (let i = 1; i < served.length; i++) {
      for (const k of ['passed', 'failed', 'flaky', 'skipped'] as const) {
        expect(served[i]![k]).toBeGreaterThanOrEqual(served[i - 1]![k]);
      }
    }
    expect(lastProgress).toEqual({ ...counts(wholeRun.summary), total: 14, done: true });
  });

  it('splits the suite into shards whose counts add up to the whole run', { timeout: 60_000 }, async () => {
    const shards = await Promise.all([runner('shard-1', ['--shard=1/2']), runner('shard-2', ['--shard=2/2'])]);

    const sum = shards.map((s) => counts(s.summary)).reduce((a, b) => ({
      passed: a.passed + b.passed,
      failed: a.failed + b.failed,
      flaky: a.flaky + b.flaky,
      skipped: a.skipped + b.skipped,
    }));
    expect(sum).toEqual(whole);
    for (const shard of shards) {
      const { passed, failed, flaky, skipped } = shard.summary;
      expect(passed + failed + flaky + skipped).toBeGreaterThan(0);
      expect(shard.code).toBe(shard.summary.failed > 0 ? 1 : 0);
    }
    expect(shards[0]!.stdout).toContain('shard 1 of 2');
  });

  it('starts a webServer with the suite\'s own dependency bins, directly and through npm run', { timeout: 60_000 }, async () => {
    // A baked-in suite as npm installs it: a package with a bin, linked relatively from node_modules/.bin.
    const source = join(tmp, 'own-bins-source');
    const pkg = join(source, 'node_modules/tide-site');
    mkdirSync(pkg, { recursive: true });
    mkdirSync(join(source, 'node_modules/.bin'));
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tide-site', version: '1.0.0', bin: { 'tide-site': 'serve.js' } }));
    writeFileSync(join(pkg, 'serve.js'), [
      '#!/usr/bin/env node',
      'const port = Number(process.argv[process.argv.indexOf(\'--port\') + 1]);',
      'require(\'node:http\').createServer((req, res) => res.end(`<title>tides on ${port}</title>`)).listen(port, \'127.0.0.1\');',
      '',
    ].join('\n'), { mode: 0o755 });
    symlinkSync('../tide-site/serve.js', join(source, 'node_modules/.bin/tide-site'));
    // Its two servers' ports come from the environment: SUITE_PORT (runner's) and DIRECT_PORT (below).
    writeFileSync(join(source, 'package.json'), JSON.stringify({ private: true, scripts: { start: 'tide-site --port $SUITE_PORT' } }));
    writeFileSync(join(source, 'playwright.config.js'), [
      'const [npm, direct] = [process.env.SUITE_PORT, process.env.DIRECT_PORT];',
      'module.exports = { webServer: [',
      '  { command: \'npm run start\', url: `http://127.0.0.1:${npm}/` },',
      '  { command: `tide-site --port ${direct}`, url: `http://127.0.0.1:${direct}/` },',
      '] };',
      '',
    ].join('\n'));
    writeFileSync(join(source, 'tides.spec.js'), [
      'const { expect, test } = require(\'@playwright/test\');',
      'for (const port of [process.env.SUITE_PORT, process.env.DIRECT_PORT]) test(`serves on ${port}`, async ({ page }) => {',
      '  await page.goto(`http://127.0.0.1:${port}/`);',
      '  await expect(page).toHaveTitle(`tides on ${port}`);',
      '});',
      '',
    ].join('\n'));

    const { code, summary, stdout } = await onFreePort('127.0.0.1', (directPort) =>
      runner('own-bins', [], source, undefined, { DIRECT_PORT: String(directPort) }));

    expect(code, stdout).toBe(0);
    expect(counts(summary)).toEqual({ passed: 2, failed: 0, flaky: 0, skipped: 0 });
  });

  it('runs only the projects of the pool\'s browser and names the others in the summary', { timeout: 60_000 }, async () => {
    const onPool = { FLEETWRIGHT_POOL_BROWSER: 'chromium', CI: 'true' };
    const all = await runner('init-all', [], initFixture, undefined, onPool);
    expect(all.code, all.stdout).toBe(0);
    expect(counts(all.summary)).toEqual({ passed: 2, failed: 0, flaky: 0, skipped: 0 });
    expect(all.summary.projectsNotRun).toEqual([{ name: 'firefox', browser: 'firefox' }, { name: 'webkit', browser: 'webkit' }]);
    // The user's own --project filter is narrowed, never widened.
    const chosen = await runner('init-chosen', ['--project=firefox', '--project', 'chromium'], initFixture, undefined, onPool);
    expect(counts(chosen.summary)).toEqual({ passed: 2, failed: 0, flaky: 0, skipped: 0 });
    expect(chosen.summary.projectsNotRun).toEqual([{ name: 'firefox', browser: 'firefox' }]);
  });

  it('runs no more workers than the pool\'s browser serves sessions', { timeout: 90_000 },
    async () => {
      // The suite asks for 2 workers; a browser serving 1 session would refuse the second.
      const one = await runner('one-session', [], fixture, undefined, { FLEETWRIGHT_POOL_SESSIONS: '1' });
      expect(one.stdout).toContain('running 1 Playwright worker(s), not 2: each browser of the pool serves 1 session(s)');
      expect(one.stdout).toMatch(/Running 14 tests using 1 worker\b/);
      expect(counts(one.summary)).toEqual(whole);
    });

  it('runs nothing and fails, naming the projects, when none is of the pool\'s browser', { timeout: 60_000 }, async () => {
    const { code, summary } = await runner('init-none', ['--project=firefox'], initFixture, undefined,
      { FLEETWRIGHT_POOL_BROWSER: 'chromium', CI: 'true' });
    expect(code).toBe(1);
    expect(summary).toMatchObject({ status: 'failed', passed: 0, failed: 0, projectsNotRun: [{ name: 'firefox', browser: 'firefox' }] });
    expect(summary.errors).toEqual(['no project of this suite runs in chromium, the browser of the pool: firefox (firefox). ' +
      'Add a project for chromium, or run the suite on a pool of its projects\' browser']);
  });

  it('runs the suite fetch-source checked out of a folder of a git repository, at the pinned commit', { timeout: 90_000 }, async () => {
    const git = await startGitServer({ host: '127.0.0.1', token: 'tok-runner' });
    try {
      const repo = git.createRepository('app', { protected: true });
      const commit = repo.commitFolder(fixture, 'the suite', { into: 'e2e' });
      // The branch moves on to a suite that would fail differently: the run keeps the pinned commit.
      repo.commit({ 'e2e/a.spec.ts': 'throw new Error(\'not the pinned commit\');\n' }, 'moved on');
      const pod = join(tmp, 'git-pod');
      mkdirSync(join(pod, 'secret'), { recursive: true });
      writeFileSync(join(pod, 'secret', 'token'), git.token);
      const fetched = await runFetchSource({
        env: {
          FLEETWRIGHT_GIT_URL: repo.url, FLEETWRIGHT_GIT_COMMIT: commit, FLEETWRIGHT_GIT_PATH: 'e2e',
          FLEETWRIGHT_GIT_SECRET: 'git', FLEETWRIGHT_TERMINATION_LOG: join(pod, 'fetch.termination-log'),
        },
        credentialsDir: join(pod, 'secret'),
        treeDir: join(pod, 'source', 'tree'),
        dataDir: join(pod, 'source', 'git'),
      });
      expect(fetched).toBe(0);
      const { summary } = await runner('git', [], join(pod, 'source', 'tree', 'e2e'));
      expect(counts(summary)).toEqual(whole);
    } finally {
      await git.stop();
    }
  });

  it('keeps the reporter the suite configures, and passes file arguments through', { timeout: 60_000 }, async () => {
    const source = join(tmp, 'dot-source');
    cpSync(fixture, source, { recursive: true });
    renameSync(join(source, 'playwright.config.ts'), join(source, 'base.config.ts'));
    writeFileSync(join(source, 'playwright.config.ts'), [
      'import { defineConfig } from \'@playwright/test\';',
      'import base from \'./base.config.ts\';',
      'export default defineConfig(base, { reporter: \'dot\' });',
      '',
    ].join('\n'));

    const { code, stdout, summary } = await runner('dot', ['a.spec.ts'], source);

    expect(code).toBe(1);
    expect(counts(summary)).toEqual({ passed: 4, failed: 1, flaky: 0, skipped: 0 });
    expect(stdout).toMatch(/^[·F]{5}$/m);
    expect(stdout).not.toContain('✓');
  });

  it('uploads the shard\'s blob report once, even when the suite writes one itself, and says so in the summary',
    { timeout: 60_000 },
    async () => {
      const source = join(tmp, 'blob-source');
      cpSync(fixture, source, { recursive: true });
      renameSync(join(source, 'playwright.config.ts'), join(source, 'base.config.ts'));
      // What Playwright's sharding guide has a suite do on CI: a blob report of its own.
      writeFileSync(join(source, 'playwright.config.ts'), [
        'import { defineConfig } from \'@playwright/test\';',
        'import base from \'./base.config.ts\';',
        'export default defineConfig(base, { reporter: [[\'blob\'], [\'dot\']] });',
        '',
      ].join('\n'));
      const uploads: { auth?: string; zip: Buffer }[] = [];
      const store = createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          uploads.push({ auth: req.headers.authorization, zip: Buffer.concat(chunks) });
          res.writeHead(201).end('stored');
        });
      }).listen(0, '127.0.0.1');
      await once(store, 'listening');
      const tokenFile = join(tmp, 'upload-token');
      writeFileSync(tokenFile, 'run-token\n');
      try {
        const { code, summary } = await runner('blob', ['a.spec.ts'], source, undefined, {
          FLEETWRIGHT_REPORT_UPLOAD_URL: `http://127.0.0.1:${(store.address() as { port: number }).port}/reports/ns/run/shards/1`,
          FLEETWRIGHT_REPORT_TOKEN_FILE: tokenFile,
        });
        expect(code).toBe(1);
        expect(summary).toMatchObject({ passed: 4, failed: 1, report: 'uploaded' });
        expect(uploads).toHaveLength(1);
        expect(uploads[0]?.auth).toBe('Bearer run-token');
        // A whole blob report of the shard's 5 tests: Playwright merges it.
        const blobs = join(tmp, 'blob-uploaded');
        mkdirSync(blobs);
        writeFileSync(join(blobs, 'report-1.zip'), uploads[0]?.zip ?? Buffer.alloc(0));
        const merged = await node([playwrightCli, 'merge-reports', '--reporter=json', blobs], { ...env }, undefined, tmp);
        const { stats } = JSON.parse(merged.stdout) as { stats: { expected: number; unexpected: number } };
        expect({ passed: stats.expected, failed: stats.unexpected }).toEqual({ passed: 4, failed: 1 });
      } finally {
        store.close();
      }
    });

  it('says its browser is lost when the browser is gone after failed tests, for the controller to retry', { timeout: 60_000 }, async () => {
    const doomed = await chromium.launchServer({ executablePath: '/usr/bin/chromium', host: '127.0.0.1', port: 0, args: ['--no-sandbox'] });
    const { port } = new URL(doomed.wsEndpoint());
    let closed: Promise<void> | undefined;
    // Once the first test has passed, as a browser whose node crashes mid-run.
    const { code, summary } = await runner('lost', [], fixture, (stdout) => {
      if (!closed && /✓/.test(stdout)) closed = doomed.close();
    }, { PW_TEST_CONNECT_WS_ENDPOINT: doomed.wsEndpoint() });
    await closed;

    expect(closed).toBeDefined();
    expect(code).toBe(1);
    expect(summary.status).toBe('failed');
    expect(summary.browserLost).toBe(`127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('stops Playwright gracefully on SIGTERM, so the summary still says what happened', { timeout: 60_000 }, async () => {
    let sent = false;
    // Right as the workers start: the moment Playwright can lose a worker's stop message, which
    // the runner bounds with PWTEST_CHILD_PROCESS_TIMEOUT (10 s; 3 s here, to keep the test short).
    const { code, summary } = await runner('sigterm', [], fixture, (stdout, child) => {
      if (sent || !/Running 14 tests/.test(stdout)) return;
      sent = true;
      // Only the runner, as the kubelet signals only a container's main process.
      child.kill('SIGTERM');
    }, { PWTEST_CHILD_PROCESS_TIMEOUT: '3000' });

    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(summary.status).toBe('interrupted');
    // Interrupted tests and those that never ran count as skipped, as test.outcome() has it.
    expect(summary.passed + summary.failed + summary.flaky + summary.skipped).toBe(14);
    expect(summary.skipped).toBeGreaterThan(0);
    for (const error of summary.errors) expect(error).toMatch(/worker-\d process did not exit within 3000ms/);
  });
});

describe('the runner\'s copy of a suite', () => {
  const app = { root, nodeModules: join(root, 'node_modules') };
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'fleetwright-workdir-'));
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('copies the files of a ConfigMap volume, not the kubelet\'s ..data links, and links Playwright and the reporter', () => {
    // The layout the kubelet's atomic writer gives a ConfigMap volume.
    const volume = join(tmp, 'volume');
    mkdirSync(join(volume, '..2026_11_23_16_00_00.123456789'), { recursive: true });
    for (const file of ['a.spec.ts', 'playwright.config.ts']) {
      writeFileSync(join(volume, '..2026_11_23_16_00_00.123456789', file), `// ${file}\n`);
      symlinkSync(join('..data', file), join(volume, file));
    }
    symlinkSync('..2026_11_23_16_00_00.123456789', join(volume, '..data'));

    const suite = prepareSuite(volume, join(tmp, 'work'), app);

    expect(readdirSync(suite).sort()).toEqual(['a.spec.ts', 'node_modules', 'playwright.config.ts']);
    expect(lstatSync(join(suite, 'a.spec.ts')).isFile()).toBe(true);
    expect(readFileSync(join(suite, 'a.spec.ts'), 'utf8')).toBe('// a.spec.ts\n');
    expect(existsSync(join(suite, 'node_modules/@playwright/test/cli.js'))).toBe(true);
    expect(existsSync(join(suite, 'node_modules/fleetwright/src/reporter/index.ts'))).toBe(true);
    // Each run gets a fresh copy at the same path (the root Playwright records in the shards' blob
    // reports, which merge only with one root): a restarted container never sees the last attempt's files.
    writeFileSync(join(suite, 'left-over.txt'), 'from the last attempt');
    expect(prepareSuite(volume, join(tmp, 'work'), app)).toBe(suite);
    expect(existsSync(join(suite, 'left-over.txt'))).toBe(false);
  });

  it('keeps a baked-in suite\'s own packages but always uses fleetwright\'s Playwright', () => {
    const source = join(tmp, 'baked');
    mkdirSync(join(source, 'node_modules/left-pad'), { recursive: true });
    mkdirSync(join(source, 'node_modules/@playwright/test'), { recursive: true });
    writeFileSync(join(source, 'a.spec.ts'), '');

    const suite = prepareSuite(source, join(tmp, 'work'), app);

    expect(readdirSync(suite).sort()).toEqual(['a.spec.ts', 'node_modules']);
    expect(existsSync(join(suite, 'node_modules/left-pad'))).toBe(true);
    expect(existsSync(join(suite, 'node_modules/@playwright/test/cli.js'))).toBe(true);
  });

  it('resolves a suite\'s scoped packages and commands as npm installed them, Playwright\'s always fleetwright\'s', () => {
    const source = join(tmp, 'installed');
    const modules = join(source, 'node_modules');
    for (const dir of ['http-server/bin', '@playwright/test', '@playwright/mcp', '@acme/fixtures']) mkdirSync(join(modules, dir), { recursive: true });
    writeFileSync(join(modules, 'http-server/bin/http-server'), '#!/usr/bin/env node\n');
    writeFileSync(join(modules, '@playwright/test/cli.js'), '// the suite\'s own Playwright\n');
    writeFileSync(join(modules, '.package-lock.json'), '{}');
    mkdirSync(join(modules, '.bin'));
    // As npm links them: relative, into the package.
    symlinkSync('../http-server/bin/http-server', join(modules, '.bin/http-server'));
    symlinkSync('../@playwright/test/cli.js', join(modules, '.bin/playwright'));

    const suite = prepareSuite(source, join(tmp, 'work'), app);
    const copy = join(suite, 'node_modules');

    expect(readdirSync(copy).sort()).toEqual(['.bin', '@acme', '@playwright', 'fleetwright', 'http-server', 'playwright', 'playwright-core']);
    expect(readdirSync(join(copy, '@playwright')).sort()).toEqual(['mcp', 'test']);
    expect(realpathSync(join(copy, '@playwright/mcp'))).toBe(realpathSync(join(modules, '@playwright/mcp')));
    expect(existsSync(join(copy, '@acme/fixtures'))).toBe(true);
    expect(realpathSync(join(copy, '.bin/http-server'))).toBe(realpathSync(join(modules, 'http-server/bin/http-server')));
    expect(realpathSync(join(copy, '.bin/playwright'))).toBe(realpathSync(join(root, 'node_modules/@playwright/test/cli.js')));
    expect(suitePath(suite, '/usr/local/bin:/usr/bin')).toBe(`${join(copy, '.bin')}:/usr/local/bin:/usr/bin`);
    expect(suitePath(suite, undefined)).toBe(join(copy, '.bin'));
  });

  it('puts the files of a packed folder back where its layout says', () => {
    const volume = join(tmp, 'packed');
    mkdirSync(volume);
    writeFileSync(join(volume, 'playwright.config.ts'), '// config\n');
    writeFileSync(join(volume, 'tests__login.spec.ts'), '// login\n');
    writeFileSync(join(volume, 'tests__fixtures__user.json'), '{}\n');
    writeFileSync(join(volume, LAYOUT_KEY), JSON.stringify({
      files: { 'tests__login.spec.ts': 'tests/login.spec.ts', 'tests__fixtures__user.json': 'tests/fixtures/user.json' },
    }));

    const suite = prepareSuite(volume, join(tmp, 'work'), app);

    expect(readdirSync(suite).sort()).toEqual(['node_modules', 'playwright.config.ts', 'tests']);
    expect(readFileSync(join(suite, 'tests/login.spec.ts'), 'utf8')).toBe('// login\n');
    expect(readFileSync(join(suite, 'tests/fixtures/user.json'), 'utf8')).toBe('{}\n');
  });

  it('refuses a layout that points outside the suite', () => {
    const volume = join(tmp, 'escaping');
    mkdirSync(volume);
    writeFileSync(join(volume, 'a.spec.ts'), '');
    writeFileSync(join(volume, LAYOUT_KEY), JSON.stringify({ files: { 'a.spec.ts': '../../etc/a.spec.ts' } }));
    expect(() => prepareSuite(volume, join(tmp, 'work'), app)).toThrow(/names a path outside the suite/);
  });

  it('names the setting to fix when the source is missing or the work directory is inside it', () => {
    expect(() => prepareSuite(join(tmp, 'nowhere'), join(tmp, 'work'), app)).toThrow(/set FLEETWRIGHT_SOURCE_DIR/);
    expect(() => prepareSuite(fixture, join(fixture, 'work'), app)).toThrow(/set FLEETWRIGHT_WORK_DIR outside it/);
  });
});
