// Folders in a ConfigMap. A ConfigMap key is a file name ([-._a-zA-Z0-9]+),
// so `fleetwright run` stores tests/login.spec.ts under a flat key and writes
// the key -> path map into one more key, fleetwright-layout.json; the runner
// moves each file back to its path in its copy of the suite. A ConfigMap made
// by hand from a flat folder has no layout key and needs none.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { z } from 'zod';

export const LAYOUT_KEY = 'fleetwright-layout.json';

export const Layout = z.object({
  /** ConfigMap key -> the file's path in the project, `/`-separated, relative. */
  files: z.record(z.string(), z.string()),
});
export type Layout = z.infer<typeof Layout>;

/** A valid ConfigMap key (the API server's IsConfigMapKey). */
export const isConfigMapKey = (key: string) =>
  key.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(key) && key !== '.' && key !== '..' && !key.startsWith('..');

/** A relative path that stays inside the folder: no `..`, no absolute path, no empty or `.` segments. */
export function isContainedPath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..') &&
    posix.normalize(path) === path;
}

/** Moves the files of a copied ConfigMap to the paths its layout names; no layout, nothing to do. */
export function restoreLayout(suite: string): void {
  const file = join(suite, LAYOUT_KEY);
  if (!existsSync(file)) return;
  const fail = (why: string) =>
    new Error(`the suite's ${LAYOUT_KEY} ${why}: pack the folder again with fleetwright run, or remove that key`);
  let layout: Layout;
  try {
    layout = Layout.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw fail(`is not a layout (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  // Gone before the moves: a file of the project may have this very name (under another key).
  rmSync(file);
  // Two passes through a staging folder: a path may be another entry's key.
  const staging = join(suite, '..fleetwright-layout');
  mkdirSync(staging);
  for (const [key, path] of Object.entries(layout.files)) {
    if (!isContainedPath(path)) throw fail(`names a path outside the suite: ${JSON.stringify(path)}`);
    if (!isConfigMapKey(key) || !existsSync(join(suite, key))) throw fail(`names a key the ConfigMap lacks: ${key}`);
    renameSync(join(suite, key), join(staging, key));
  }
  for (const [key, path] of Object.entries(layout.files)) {
    mkdirSync(dirname(join(suite, path)), { recursive: true });
    renameSync(join(staging, key), join(suite, path));
  }
  rmSync(staging, { recursive: true });
}
