// The suite's own dependencies, before `playwright test`: planned from its
// package.json and lockfile (dependencies.ts), restored from the report
// store's cache or installed from the lockfile into <work>/dependencies, with
// fleetwright's own Playwright linked in place of the suite's copy. What
// cannot be installed ends the shard with a DependenciesFailed message.
import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { DEPENDENCY_CACHE_URL_ENV } from '../contracts/report-store.ts';
import { dependencyCacheKey } from './cache-key.ts';
import { type CacheEntry, restoreDependencies, storeDependencies } from './dependency-cache.ts';
import { type DependencyPlan, PackageJsonError, planDependencies, PROVIDED_PACKAGES } from '../suite/dependencies.ts';
import { installFailureCause, lastLines } from './install-failure.ts';
import { credentialValues, maskSecrets } from '../suite/npmrc.ts';

/** Files an installer reads beside package.json and the lockfile. */
const INSTALLER_FILES = ['.npmrc', '.yarnrc', '.yarnrc.yml', 'pnpm-workspace.yaml'];
/** The installer's last lines in the termination message: enough for npm's error block. */
const TAIL_LINES = 25;
/** Of the installer's output, what is kept to classify and quote. */
const MAX_OUTPUT = 256 * 1024;

/** The suite's dependencies could not be had; the message names why and what to fix. */
export class DependenciesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependenciesError';
  }
}

export interface InstallContext {
  source: string;
  workRoot: string;
  /** The node_modules holding fleetwright's own @playwright/test, playwright and playwright-core. */
  appNodeModules: string;
  env: NodeJS.ProcessEnv;
  /** The upload token's file, when the runner has a report store. */
  tokenFile?: string;
  log: Logger;
}

const readIfExists = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function planOf(source: string, env: NodeJS.ProcessEnv): DependencyPlan {
  const names = new Set(['package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock']
    .filter((name) => existsSync(join(source, name))));
  try {
    return planDependencies({
      packageJson: readIfExists(join(source, 'package.json')),
      names,
      hasNodeModules: existsSync(join(source, 'node_modules')),
      corepack: onPath('corepack', env),
      yarnLock: readIfExists(join(source, 'yarn.lock')),
    });
  } catch (err) {
    if (err instanceof PackageJsonError) throw new DependenciesError(err.message);
    throw err;
  }
}

/** The .npmrc texts in effect: the suite's own and the one NPM_CONFIG_USERCONFIG names (the TestRun's Secret). */
function npmrcsOf(dir: string, env: NodeJS.ProcessEnv): string[] {
  const userconfig = env.NPM_CONFIG_USERCONFIG ?? env.npm_config_userconfig;
  return [readIfExists(join(dir, '.npmrc')), userconfig ? readIfExists(userconfig) : undefined]
    .filter((text) => text !== undefined);
}

/** Runs the installer in `dir`; resolves with its exit code and its output (the last MAX_OUTPUT of it). */
type InstallerExit = { code: number | null; output: string };

function runInstaller(command: string[], dir: string, env: NodeJS.ProcessEnv): Promise<InstallerExit> {
  const [file = 'npm', ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new DependenciesError(`cannot start \`${command.join(' ')}\`: ${err.message}`)));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Fleetwright's Playwright in place of the suite's: one @playwright/test module for the CLI and the specs. */
function linkProvided(nodeModules: string, appNodeModules: string): void {
  for (const name of PROVIDED_PACKAGES) {
    const target = join(appNodeModules, name);
    const link = join(nodeModules, name);
    rmSync(link, { recursive: true, force: true });
    if (!existsSync(target)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link, 'dir');
  }
}

function cacheEntryOf(ctx: InstallContext, key: string): CacheEntry | undefined {
  const base = ctx.env[DEPENDENCY_CACHE_URL_ENV];
  if (!base || !ctx.tokenFile) return undefined;
  return { url: `${base.replace(/\/?$/, '/')}${encodeURIComponent(key)}`, key, tokenFile: ctx.tokenFile };
}

/**
 * Makes the suite's dependencies available; resolves with the node_modules
 * to link into the suite, or undefined when it needs none installed. Throws
 * a DependenciesError with what to fix.
 */
export async function installDependencies(ctx: InstallContext): Promise<string | undefined> {
  const { source, workRoot, env, log } = ctx;
  const plan = planOf(source, env);
  if (plan.kind === 'none') {
    log.debug({ why: plan.why }, 'no dependencies to install');
    return undefined;
  }
  if (plan.kind === 'refused') throw new DependenciesError(plan.message);

  const dir = join(workRoot, 'dependencies');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const name of ['package.json', plan.lockfile, ...INSTALLER_FILES]) {
    if (existsSync(join(source, name))) copyFileSync(join(source, name), join(dir, name));
  }
  const npmrcs = npmrcsOf(dir, env);
  const key = dependencyCacheKey({
    installer: plan.installer,
    lockfile: readFileSync(join(dir, plan.lockfile)),
    npmrcs,
    envRegistry: env.NPM_CONFIG_REGISTRY ?? env.npm_config_registry,
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
  });
  const nodeModules = join(dir, 'node_modules');
  const entry = cacheEntryOf(ctx, key);
  if (entry) {
    const restored = await restoreDependencies(entry, dir);
    if (restored.hit) {
      linkProvided(nodeModules, ctx.appNodeModules);
      log.info({ key, bytes: restored.bytes, seconds: restored.ms / 1000 }, 'dependencies restored from cache');
      return nodeModules;
    }
    log.info({ key, reason: restored.reason }, 'dependency cache miss; installing');
  }

  const started = performance.now();
  log.info({ command: plan.command.join(' '), lockfile: plan.lockfile }, 'installing the suite\'s dependencies');
  const { code, output } = await runInstaller(plan.command, dir, {
    ...env,
    // npm's own cache beside the install, in the writable work directory rather than $HOME.
    npm_config_cache: env.npm_config_cache ?? join(workRoot, 'npm-cache'),
    npm_config_update_notifier: 'false',
    // The shard's message quotes npm's errors: a silent npm (an outer `npm run --silent` exports
    // npm_config_loglevel=silent) would fail with nothing to say why. Any other level shows them.
    ...(env.npm_config_loglevel === 'silent' ? { npm_config_loglevel: 'error' } : {}),
    // The image sets NODE_ENV=production, under which npm, pnpm and yarn leave devDependencies out: where
    // suites keep @playwright/test's companions and their webServer's tools. The suite's tree is a dev tree.
    NODE_ENV: undefined,
  });
  const masked = maskSecrets(output, npmrcs.flatMap((text) => credentialValues(text, env)));
  if (code !== 0) {
    const cause = installFailureCause(masked, plan.command, code);
    log.error({ command: plan.command.join(' '), code, output: lastLines(masked, TAIL_LINES) }, `installing the suite's dependencies failed: ${cause}`);
    throw new DependenciesError(`${cause}\n${lastLines(masked, TAIL_LINES)}`);
  }
  log.info({ key, seconds: Math.round(performance.now() - started) / 1000 }, 'dependencies installed');
  if (entry) await storeDependencies(entry, dir, log);
  linkProvided(nodeModules, ctx.appNodeModules);
  return nodeModules;
}
