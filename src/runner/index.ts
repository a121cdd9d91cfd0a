// `fleetwright runner`: the main process of a TestRun's runner pod. Copies the
// suite into a writable directory, runs fleetwright's own `playwright test`
// there with the fleetwright reporter added to the suite's reporters, and
// exits with Playwright's exit code. The browser comes from the pod's
// PW_TEST_CONNECT_WS_ENDPOINT (and PW_TEST_CONNECT_EXPOSE_NETWORK), which
// Playwright reads itself. With FLEETWRIGHT_PROGRESS_PORT it also serves the
// shard's running counts (progress.ts). With FLEETWRIGHT_REPORT_UPLOAD_URL
// Playwright also writes the shard's blob report, which the runner uploads
// to the report store when Playwright has exited (report.ts).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { createLogger } from '../runtime/log.ts';
import { PROGRESS_FILE_ENV, PROGRESS_PATH, PROGRESS_PORT_ENV } from '../contracts/progress.ts';
import { DEFAULT_SOURCE_DIR, POOL_BROWSER_ENV, POOL_SESSIONS_ENV, SOURCE_DIR_ENV, WORK_DIR_ENV } from '../contracts/runner.ts';
import { fitSummary } from '../contracts/shard-summary.ts';
import { DEPENDENCIES_FAILED, runnerFailureMessage } from '../contracts/runner-failure.ts';
import { DEPENDENCY_CACHE_URL_ENV, REPORT_TOKEN_FILE_ENV, REPORT_UPLOAD_URL_ENV } from '../contracts/report-store.ts';
import { DEFAULT_TERMINATION_LOG, TERMINATION_LOG_ENV, terminationLogOf } from '../contracts/termination.ts';
import { browserGone } from './browser-probe.ts';
import { DependenciesError, installDependencies } from './install.ts';
import { progressPort, serveProgress } from './progress.ts';
import { projectsForPool } from './projects.ts';
import { amendSummary, blobReportEnv, reportUploadOf, uploadShardReport } from './report.ts';
import { Deadline, STOPPING_BUDGET_MS, UPLOAD_BUDGET_MS } from './upload.ts';
import { type AppPaths, prepareSuite, suitePath } from './workdir.ts';

export const usage = () =>
  'Runs `playwright test [args]` on a copy of the suite; args are passed through (--shard=2/4, --grep, …).\n' +
  'Environment:\n' +
  `  ${SOURCE_DIR_ENV}       the suite (${DEFAULT_SOURCE_DIR} if it exists, else the working directory)\n` +
  `  ${WORK_DIR_ENV}         writable directory for the copy (the OS temp dir, /tmp)\n` +
  `  ${TERMINATION_LOG_ENV}  where the summary goes (${DEFAULT_TERMINATION_LOG})\n` +
  `  ${PROGRESS_PORT_ENV}    serve the running counts at GET ${PROGRESS_PATH} on this port (unset: not served)\n` +
  `  ${REPORT_UPLOAD_URL_ENV}  PUT the shard's Playwright blob report there when the tests are done (unset: no upload)\n` +
  `  ${REPORT_TOKEN_FILE_ENV}   the file with the upload's bearer token\n` +
  `  ${POOL_BROWSER_ENV}     run only the projects of this browser (unset: every project)\n` +
  `  ${POOL_SESSIONS_ENV}    run at most this many Playwright workers (unset: the suite's own)\n` +
  `  ${DEPENDENCY_CACHE_URL_ENV} restore and store the suite's installed dependencies there (unset: install every time)\n` +
  '  NPM_CONFIG_USERCONFIG        an .npmrc with the registry and its token (a TestRun\'s spec.dependencies.npmrcSecretRef)\n' +
  '  PW_TEST_CONNECT_WS_ENDPOINT, PW_TEST_CONNECT_EXPOSE_NETWORK: the browser, read by Playwright';

/** fleetwright's own install: from src/runner/ in development, from dist/runner/ in the image. */
function appPaths(): AppPaths & { cli: string; reporter: string; listReporter: string } {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = dirname(require.resolve('@playwright/test/package.json'));
  } catch (err) {
    throw new Error('@playwright/test is not installed beside fleetwright: rebuild the runner image', { cause: err });
  }
  return {
    root: resolve(import.meta.dirname, '../..'),
    nodeModules: resolve(pkg, '../..'),
    cli: join(pkg, 'cli.js'),
    reporter: join(import.meta.dirname, '../reporter', `index${extname(import.meta.filename)}`),
    listReporter: join(import.meta.dirname, `project-list-reporter${extname(import.meta.filename)}`),
  };
}

/** Runs the suite; resolves to the exit code to leave with. */
export async function runRunner(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = createLogger().child({ component: 'runner' });
  const app = appPaths();
  // --add-reporter keeps whatever reporters the suite's config or a --reporter argument
  // chooses (Playwright's default list reporter when neither does) and adds ours.
  if (app.reporter.includes(',')) throw new Error(`fleetwright is installed under a path with a comma (${app.reporter})`);
  const source = env[SOURCE_DIR_ENV] || (existsSync(DEFAULT_SOURCE_DIR) ? DEFAULT_SOURCE_DIR : process.cwd());
  const portValue = env[PROGRESS_PORT_ENV];
  const port = portValue ? progressPort(portValue) : undefined;
  const workRoot = env[WORK_DIR_ENV] || tmpdir();
  let dependencies: string | undefined;
  try {
    const tokenFile = env[REPORT_TOKEN_FILE_ENV] || undefined;
    const appNodeModules = app.nodeModules;
    dependencies = await installDependencies({ source, workRoot, appNodeModules, env, tokenFile, log });
  } catch (err) {
    if (!(err instanceof DependenciesError)) throw err;
    // The shard's message, read by the controller: the suite's to fix, so not retried.
    writeFileSync(terminationLogOf(env), runnerFailureMessage(DEPENDENCIES_FAILED, err.message));
    return 1;
  }
  const suite = prepareSuite(source, workRoot, app, dependencies);
  log.info({ source, suite, args }, 'running playwright test');
  // Beside the suite, not in it: nothing of the suite's own may be overwritten.
  const progressFile = `${suite}.progress.json`;
  const progress = port === undefined ? undefined : await serveProgress(port, progressFile, log);

  const upload = reportUploadOf(env);
  // Beside the suite too: Playwright empties the blob report's folder before it writes.
  const blobDir = `${suite}.blob-report`;
  const reporters = upload ? `${app.reporter},blob` : app.reporter;
  const childEnv = {
    // A worker that is still starting when Playwright stops can miss its stop message and keep
    // Playwright waiting (microsoft/playwright#39753) until a watchdog kills it, 5 minutes by default
    // (#40637): far past a pod's grace period. Ten seconds without a heartbeat is plenty for a worker
    // that did get it; the kill then shows up in the summary's errors.
    PWTEST_CHILD_PROCESS_TIMEOUT: '10000',
    ...env,
    // The suite's own commands (a webServer's `vite`, `http-server`) resolve as under `npm run`.
    PATH: suitePath(suite, env.PATH),
  };
  const terminationLog = terminationLogOf(env);

  const sessions = Number.parseInt(env[POOL_SESSIONS_ENV] ?? '', 10);
  const pool = { browser: env[POOL_BROWSER_ENV], sessions: Number.isNaN(sessions) ? undefined : sessions };
  const projects = await projectsForPool(pool, args, {
    cli: app.cli, listReporter: app.listReporter, cwd: suite, env: childEnv, file: `${suite}.projects.json`, log,
  });
  if (projects.kind === 'none') {
    writeFileSync(terminationLog, JSON.stringify(fitSummary(projects.summary)));
    await progress?.close();
    return 1;
  }
  const { args: runArgs, notRun } = projects;

  const child = spawn(process.execPath, [app.cli, 'test', '--add-reporter', reporters, ...runArgs], {
    cwd: suite,
    env: {
      ...childEnv,
      ...(progress ? { [PROGRESS_FILE_ENV]: progressFile } : {}),
      ...(upload ? blobReportEnv(blobDir) : {}),
    },
    stdio: 'inherit',
  });
  // Playwright stops gracefully only on SIGINT (reporters still get onEnd, so the summary says
  // "interrupted"); the SIGTERM the kubelet sends would kill it before it writes anything.
  let stoppedAt: number | undefined;
  let deadline: Deadline | undefined;
  const stop = () => {
    stoppedAt ??= Date.now();
    deadline?.shorten(STOPPING_BUDGET_MS);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    const code = await new Promise<number>((done, fail) => {
      child.once('error', (err) => fail(new Error(`cannot start playwright test: ${err.message}`)));
      child.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    if (notRun.length > 0) amendSummary(terminationLog, (summary) => ({ ...summary, projectsNotRun: notRun }));
    const endpoint = env.PW_TEST_CONNECT_WS_ENDPOINT;
    if (code !== 0 && stoppedAt === undefined && endpoint) {
      const gone = await browserGone(endpoint);
      if (gone) {
        log.warn({ reason: gone }, 'the browser no longer answers: the failures are its loss, for the controller to retry');
        amendSummary(terminationLog, (summary) => (summary.status === 'passed' ? summary : { ...summary, browserLost: gone }));
      }
    }
    if (upload) {
      // Told to stop: only what is left of the grace period.
      const budget = stoppedAt === undefined ? UPLOAD_BUDGET_MS : stoppedAt + STOPPING_BUDGET_MS - Date.now();
      deadline = new Deadline(budget);
      try {
        await uploadShardReport({ ...upload, blobDir, deadline, log, terminationLog });
      } finally {
        deadline.dispose();
      }
    }
    return code;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await progress?.close();
  }
}
