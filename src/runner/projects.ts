// Which of a suite's Playwright projects a shard runs: those of the pool's
// browser. The agent refuses a client of another browser, so a project of
// another browser would only fail; `npm init playwright` writes projects for
// chromium, firefox and webkit, and a pool serves one of them.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { PROJECT_LIST_FILE_ENV } from '../contracts/runner.ts';
import type { ProjectNotRun, ShardSummary } from '../contracts/shard-summary.ts';

export interface ListedProject {
  name: string;
  browser: string;
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
): Promise<ListedProject[] | undefined> {
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
    return JSON.parse(readFileSync(options.file, 'utf8')) as ListedProject[];
  } catch {
    return undefined;
  }
}

export type PoolProjects =
  | { kind: 'run'; args: string[]; notRun: ProjectNotRun[] } |
  { kind: 'none'; summary: ShardSummary };

/**
 * The arguments of the shard's `playwright test` when its pool serves
 * `browser`: the user's, with `--project` for each project of that browser
 * when the suite also has others; or, when it has none of that browser, the
 * failed summary that says so. No browser (a runner outside a pod): every
 * project, the arguments as they are.
 */
export async function projectsForPool(
  browser: string | undefined,
  args: readonly string[],
  options: { cli: string; listReporter: string; cwd: string; env: NodeJS.ProcessEnv; file: string; log: Logger },
): Promise<PoolProjects> {
  const all = { kind: 'run' as const, args: [...args], notRun: [] };
  if (!browser) return all;
  const listed = await listProjects(options.cli, options.listReporter, args, options);
  const selection = listed ? selectProjects(listed, browser) : { kind: 'all' as const };
  if (selection.kind === 'all') return all;
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
    args: [...withoutProjectArgs(args), ...selection.run.map((name) => `--project=${name}`)],
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
