// Which of a suite's Playwright projects a shard runs, and with how many
// workers: the projects of the pool's browser (the agent refuses a client of
// another browser, so a project of another browser would only fail; `npm init
// playwright` writes projects for chromium, firefox and webkit, and a pool
// serves one of them), and no more workers than the leased browser serves
// sessions (each worker is a client of its own; Playwright's default is half
// the node's cores, and the pool's default one session per browser).
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { PROJECT_LIST_FILE_ENV } from '../contracts/runner.ts';
import type { ProjectNotRun, ShardSummary } from '../contracts/shard-summary.ts';

export interface ListedProject {
  name: string;
  browser: string;
}

/** What `playwright test --list` resolved: the workers it would start and each project it would run, in order. */
export interface SuiteListing {
  workers: number;
  projects: ListedProject[];
}

/**
 * The engine a project's `page` runs in, as Playwright's `browserName` fixture
 * decides it: its `use.browserName`, else its device's `defaultBrowserType`,
 * else chromium (a `channel` such as chrome or msedge is still chromium).
 */
export function projectBrowser(use: { browserName?: unknown; defaultBrowserType?: unknown }): string {
  const name = use.browserName ?? use.defaultBrowserType;
  return typeof name === 'string' && name ? name : 'chromium';
}

export type ProjectSelection =
  | { kind: 'all' } |
  { kind: 'some'; run: string[]; notRun: ProjectNotRun[] } |
  { kind: 'none'; notRun: ProjectNotRun[] };

/** Splits the listed projects by whether `browser` serves them. */
export function selectProjects(projects: readonly ListedProject[], browser: string): ProjectSelection {
  const notRun = projects.filter((p) => p.browser !== browser).map((p) => ({ name: p.name, browser: p.browser }));
  if (notRun.length === 0) return { kind: 'all' };
  const run = projects.filter((p) => p.browser === browser).map((p) => p.name);
  return run.length === 0 ? { kind: 'none', notRun } : { kind: 'some', run, notRun };
}

/**
 * The arguments without their `--project` filters (`--project=a`, or
 * `--project a b …`: commander reads values up to the next option), which
 * the runner replaces with the projects it selected from them.
 */
export function withoutProjectArgs(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--project=')) continue;
    if (arg === '--project') {
      while (i + 1 < args.length && !(args[i + 1] as string).startsWith('-')) i++;
      continue;
    }
    kept.push(arg);
  }
  return kept;
}

/** `--shard` makes the listing one shard's: every shard must drop the same projects. */
const withoutShardArgs = (args: readonly string[]) => args.filter((a) => !a.startsWith('--shard'));

/**
 * The projects `playwright test --list` would run with `args`, through
 * `listReporter`; undefined when Playwright cannot list them (a broken
 * config), in which case the real run reports the same error.
 */
async function listProjects(
  cli: string,
  listReporter: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; file: string },
): Promise<SuiteListing | undefined> {
  rmSync(options.file, { force: true });
  const child = spawn(process.execPath, [cli, 'test', '--list', '--reporter', listReporter, ...withoutShardArgs(args)], {
    cwd: options.cwd,
    env: { ...options.env, [PROJECT_LIST_FILE_ENV]: options.file },
    stdio: 'ignore',
  });
  const code = await new Promise<number | null>((done) => {
    child.once('error', () => done(null));
    child.once('exit', done);
  });
  if (code !== 0) return undefined;
  try {
    return JSON.parse(readFileSync(options.file, 'utf8')) as SuiteListing;
  } catch {
    return undefined;
  }
}

export type PoolProjects =
  | { kind: 'run'; args: string[]; notRun: ProjectNotRun[] } |
  { kind: 'none'; summary: ShardSummary };

/** `--workers` when the suite would start more workers than the browser serves sessions; else nothing. */
export function workerArgs(workers: number | undefined, sessions: number | undefined): string[] {
  return workers !== undefined && sessions !== undefined && workers > sessions ? [`--workers=${sessions}`] : [];
}

/**
 * The arguments of the shard's `playwright test` when its pool serves
 * `browser` with `sessions` clients per browser: the user's, with `--project`
 * for each project of that browser when the suite also has others, and
 * `--workers` when it would start more workers than that; or, when it has no
 * project of that browser, the failed summary that says so. No pool (a runner
 * outside a pod): the arguments as they are.
 */
export async function projectsForPool(
  pool: { browser?: string | undefined; sessions?: number | undefined },
  args: readonly string[],
  options: { cli: string; listReporter: string; cwd: string; env: NodeJS.ProcessEnv; file: string; log: Logger },
): Promise<PoolProjects> {
  const { browser, sessions } = pool;
  if (!browser && sessions === undefined) return { kind: 'run', args: [...args], notRun: [] };
  const listed = await listProjects(options.cli, options.listReporter, args, options);
  const workers = workerArgs(listed?.workers, sessions);
  if (workers.length > 0) {
    options.log.info({ workers: listed?.workers, sessions },
      `running ${sessions} Playwright worker(s), not ${listed?.workers}: each browser of the pool serves ${sessions} ` +
      'session(s) at once (its sessionsPerBrowser)');
  }
  const selection = listed && browser ? selectProjects(listed.projects, browser) : { kind: 'all' as const };
  if (selection.kind === 'all') return { kind: 'run', args: [...args, ...workers], notRun: [] };
  if (selection.kind === 'none') {
    const projects = selection.notRun.map((p) => `${p.name || '(unnamed)'} (${p.browser})`).join(', ');
    const error = `no project of this suite runs in ${browser}, the browser of the pool: ${projects}. ` +
      `Add a project for ${browser}, or run the suite on a pool of its projects' browser`;
    options.log.error({ browser, projectsNotRun: selection.notRun }, error);
    return { kind: 'none', summary: noProjectSummary(error, selection.notRun) };
  }
  options.log.warn({ browser, projects: selection.run, projectsNotRun: selection.notRun },
    'leaving out the projects of other browsers');
  return {
    kind: 'run',
    args: [...withoutProjectArgs(args), ...selection.run.map((name) => `--project=${name}`), ...workers],
    notRun: selection.notRun,
  };
}

/** The summary of a shard none of whose projects is of the pool's browser: nothing ran, and it failed. */
function noProjectSummary(error: string, projectsNotRun: ProjectNotRun[]): ShardSummary {
  return {
    passed: 0, failed: 0, flaky: 0, skipped: 0, durationMs: 0,
    status: 'failed', failures: [], truncated: 0, errors: [error], projectsNotRun,
  };
}
