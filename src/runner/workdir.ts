// The runner's copy of the suite: a writable directory (test-results, the
// suite's own files) in which `@playwright/test` and `fleetwright/reporter`
// resolve to the packages shipped with fleetwright.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { restoreLayout } from './layout.ts';

export interface AppPaths {
  /** The fleetwright package: what `fleetwright/reporter` resolves in. */
  root: string;
  /** The node_modules that holds fleetwright's own @playwright/test. */
  nodeModules: string;
}

/**
 * Always fleetwright's, even when the suite brings its own node_modules: the
 * CLI that runs the tests and the `@playwright/test` its spec files import
 * must be one and the same module, or Playwright refuses to run.
 */
const PROVIDED = ['@playwright', 'playwright', 'playwright-core'];

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
    throw new Error(`test source ${source} is not a directory: mount the suite there or set FLEETWRIGHT_SOURCE_DIR`);
  }
  if (isInside(source, work)) {
    throw new Error(`work directory ${work} is inside the test source ${source}: set FLEETWRIGHT_WORK_DIR outside it`);
  }
  let suite: string;
  try {
    suite = join(work, 'suite');
    rmSync(suite, { recursive: true, force: true });
    mkdirSync(suite, { recursive: true });
  } catch (err) {
    throw new Error(`cannot write to the work directory ${work} (${err instanceof Error ? err.message : err}): ` +
      'mount an emptyDir there or set FLEETWRIGHT_WORK_DIR to a writable directory', { cause: err });
  }
  cpSync(source, suite, { recursive: true, dereference: true, filter: copied(source) });
  restoreLayout(suite);

  // The suite's own packages stay resolvable; Playwright and fleetwright come from the app.
  const links = new Map<string, string>();
  const own = ownModules ?? join(source, 'node_modules');
  if (existsSync(own)) {
    for (const name of readdirSync(own)) if (!name.startsWith('.')) links.set(name, join(own, name));
  }
  for (const name of PROVIDED) links.set(name, join(app.nodeModules, name));
  links.set('fleetwright', app.root);
  mkdirSync(join(suite, 'node_modules'));
  for (const [name, target] of links) {
    if (existsSync(target)) symlinkSync(target, join(suite, 'node_modules', name), 'dir');
  }
  return suite;
}
