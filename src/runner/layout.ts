// The runner's side of a packed suite's layout (contracts/suite-layout.ts):
// files of a copied ConfigMap moved back to the paths the layout names.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isConfigMapKey, isContainedPath, Layout, LAYOUT_KEY } from '../contracts/suite-layout.ts';

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
