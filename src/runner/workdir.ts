// The runner's copy of the suite: a writable directory (test-results, the
// suite's own files) in which `@playwright/test` and `fleetwright/reporter`
// resolve to the packages shipped with fleetwright.
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { SOURCE_DIR_ENV, WORK_DIR_ENV } from '../contracts/runner.ts';
import { PROVIDED_PACKAGES } from '../suite/dependencies.ts';
import { restoreLayout } from './layout.ts';

export interface AppPaths {
  /** The fleetwright package: what `fleetwright/reporter` resolves in. */
  root: string;
  /** The node_modules that holds fleetwright's own @playwright/test. */
  nodeModules: string;
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * A ConfigMap volume holds each key as a symlink into a hidden `..<timestamp>`
 * directory, reached through `..data` (the kubelet's atomic writer): copy the
 * files the links point at, and leave the kubelet's own entries behind.
 */
function copied(source: string) {
  return (path: string) => {
    const name = basename(path);
    return !name.startsWith('..') && !(name === 'node_modules' && dirname(path) === source);
  };
}

/**
 * Copies the suite into `<workRoot>/suite`, emptied first, and links its
 * node_modules (`ownModules`: the suite's own, or what the runner installed
 * for it); returns that directory. The same path in every runner pod:
 * Playwright records it as the blob report's root, and merges only reports
 * with one root. So one runner per work directory.
 */
export function prepareSuite(sourceDir: string, workRoot: string, app: AppPaths, ownModules?: string): string {
  const source = resolve(sourceDir);
  const work = resolve(workRoot);
  if (!existsSync(source) || !statSync(source).isDirectory()) {
    throw new Error(`test source ${source} is not a directory: mount the suite there or set ${SOURCE_DIR_ENV}`);
  }
  if (isInside(source, work)) {
    throw new Error(`work directory ${work} is inside the test source ${source}: set ${WORK_DIR_ENV} outside it`);
  }
  let suite: string;
  try {
    suite = join(work, 'suite');
    rmSync(suite, { recursive: true, force: true });
    mkdirSync(suite, { recursive: true });
  } catch (err) {
    throw new Error(`cannot write to the work directory ${work} (${err instanceof Error ? err.message : err}): ` +
      `mount an emptyDir there or set ${WORK_DIR_ENV} to a writable directory`, { cause: err });
  }
  cpSync(source, suite, { recursive: true, dereference: true, filter: copied(source) });
  restoreLayout(suite);

  linkPackages(ownModules ?? join(source, 'node_modules'), join(suite, 'node_modules'), app);
  return suite;
}

/**
 * The work copy's node_modules: a link to each of the suite's installed
 * packages (each package of a scope on its own, so that the scope keeps its
 * other packages when Playwright's is replaced), fleetwright's Playwright and
 * reporter over the suite's, and a `.bin` like npm's in which each command
 * leads to the package the copy resolves: `playwright` to fleetwright's.
 */
function linkPackages(own: string, modules: string, app: AppPaths): void {
  const links = new Map<string, string>();
  const installed = existsSync(own) ? readdirSync(own).filter((name) => !name.startsWith('.')) : [];
  for (const name of installed) {
    const path = join(own, name);
    if (name.startsWith('@') && statSync(path).isDirectory()) {
      for (const scoped of readdirSync(path)) links.set(`${name}/${scoped}`, join(path, scoped));
    } else {
      links.set(name, path);
    }
  }
  for (const name of PROVIDED_PACKAGES) links.set(name, join(app.nodeModules, name));
  links.set('fleetwright', app.root);
  mkdirSync(modules);
  for (const [name, target] of links) {
    if (!existsSync(target)) continue;
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(target, join(modules, name), 'dir');
  }
  linkBins(join(own, '.bin'), join(modules, '.bin'));
}

/**
 * npm links `.bin/<command>` relatively into the package (`../vite/bin/vite.js`):
 * the same relative link in the copy reaches the copy's package, which is
 * fleetwright's for Playwright's own commands. A command that is no relative
 * link into node_modules (a copied file, an absolute link) is linked as it is.
 */
function linkBins(ownBin: string, bin: string): void {
  if (!existsSync(ownBin)) return;
  mkdirSync(bin);
  for (const name of readdirSync(ownBin)) {
    const path = join(ownBin, name);
    const target = lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
    const relativeIntoPackages =
      target !== undefined && !isAbsolute(target) && isInside(dirname(ownBin), resolve(ownBin, target));
    symlinkSync(relativeIntoPackages ? target : path, join(bin, name));
  }
}

/**
 * The PATH of `playwright test` and so of its webServer command: the copy's
 * `node_modules/.bin` first, as npm puts it for a package's scripts.
 */
export function suitePath(suite: string, path: string | undefined): string {
  const bin = join(suite, 'node_modules', '.bin');
  return path ? `${bin}${delimiter}${path}` : bin;
}
