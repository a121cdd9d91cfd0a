// Folders in a ConfigMap. A ConfigMap key is a file name ([-._a-zA-Z0-9]+),
// so `fleetwright run` stores tests/login.spec.ts under a flat key and writes
// the key -> path map into one more key, fleetwright-layout.json; the runner
// moves each file back to its path in its copy of the suite. A ConfigMap made
// by hand from a flat folder has no layout key and needs none.
import { posix } from 'node:path';
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
