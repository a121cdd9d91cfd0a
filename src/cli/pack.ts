// A local Playwright project as the data of one ConfigMap, the way the
// runner reads it back: one key per file, flat names as they are, files in
// folders under a flat key with fleetwright-layout.json saying where each
// goes (src/contracts/suite-layout.ts). Text goes to `data`, anything else to
// `binaryData`. The API server refuses a ConfigMap over 1 MiB; this refuses
// first, and says what to do instead. package.json, its lockfile and an
// .npmrc go along, so the runner installs what the suite needs; an .npmrc
// with a credential does not (a ConfigMap is no place for a token), nor does a
// suite with dependencies and no lockfile (the cluster never resolves
// versions anew).
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { isConfigMapKey, type Layout, LAYOUT_KEY } from '../contracts/suite-layout.ts';
import { lockfileOf, ownDependencies, PackageJsonError } from '../suite/dependencies.ts';
import { credentialKeys } from '../suite/npmrc.ts';

/** The API server's limit on a ConfigMap's data plus binaryData (core.MaxSecretSize, 1 MiB). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/** Never packed: what Playwright writes, what the runner brings, and hidden files (.git, .env with secrets). */
export const SKIPPED_NAMES = ['node_modules', 'test-results', 'playwright-report', 'blob-report'];
/** The hidden file that is packed, at the top only: the registry settings of the suite's install. */
const NPMRC = '.npmrc';

/** Playwright's default testMatch: **\/*.@(spec|test).?(c|m)[jt]s?(x). */
const DEFAULT_TEST_FILE = /\.(spec|test)\.[cm]?[jt]sx?$/;
const CONFIG_FILE = /^playwright\.config\.[cm]?[jt]s$/;

export interface PackedFile {
  /** Path in the project, `/`-separated. */
  path: string;
  key: string;
  bytes: number;
}

export interface PackedFolder {
  data: Record<string, string>;
  binaryData: Record<string, string>;
  files: PackedFile[];
  /** What the API server counts against its limit. */
  bytes: number;
  /** Directory symlinks that were left out (they may loop). */
  skippedLinks: string[];
}

export class PackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackError';
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function walk(root: string, dir: string, files: string[], links: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const kept = name === NPMRC && dir === root;
    if ((name.startsWith('.') && !kept) || SKIPPED_NAMES.includes(name)) continue;
    const path = join(dir, name);
    const rel = relative(root, path).split(sep).join('/');
    const link = lstatSync(path).isSymbolicLink();
    let stat;
    try {
      stat = statSync(path);
    } catch {
      continue; // a dangling link
    }
    if (stat.isDirectory()) {
      if (link) links.push(rel);
      else walk(root, path, files, links);
    } else if (stat.isFile()) {
      files.push(rel);
    }
  }
}

/** The key of a file: its path when that is a valid key, else the path made one; unique among `taken`. */
export function keyFor(path: string, taken: Set<string>): string {
  let key = path.replaceAll('/', '__').replace(/[^-._a-zA-Z0-9]/g, '_').replace(/^\.+/, '_');
  if (key.length > 240) key = key.slice(key.length - 240);
  if (!isConfigMapKey(key)) key = `file_${key}`;
  let unique = key;
  for (let n = 2; taken.has(unique) || unique === LAYOUT_KEY; n++) unique = `${key}-${n}`;
  taken.add(unique);
  return unique;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asText(content: Buffer): string | undefined {
  try {
    return utf8.decode(content);
  } catch {
    return undefined;
  }
}

/** Packs `dir`; throws a PackError saying what to fix when it holds no tests or is too large for a ConfigMap. */
export function packFolder(dir: string): PackedFolder {
  const root = resolve(dir);
  let isDir: boolean;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    throw new PackError(`${dir}: no such folder; pass the folder of your Playwright project (where playwright.config is)`);
  }
  if (!isDir) throw new PackError(`${dir} is a file; pass the folder of your Playwright project (where playwright.config is)`);

  const paths: string[] = [];
  const skippedLinks: string[] = [];
  walk(root, root, paths, skippedLinks);
  const config = paths.find((p) => CONFIG_FILE.test(p));
  const tests = paths.filter((p) => DEFAULT_TEST_FILE.test(p));
  // A config with its own testMatch may name other files: Playwright itself will say if it finds none.
  const ownMatch = config !== undefined && /\btestMatch\b/.test(readFileSync(join(root, config), 'utf8'));
  if (tests.length === 0 && !ownMatch) {
    throw new PackError(
      `${dir} holds no Playwright tests: no *.spec.ts or *.test.ts file (or .js, .mjs, .tsx…)` +
      `${config ? '' : ' and no playwright.config'}; pass the folder of your Playwright project ` +
      `(${SKIPPED_NAMES.join(', ')} and hidden files are not looked in)`,
    );
  }

  checkDependencies(dir, root, paths);

  const taken = new Set<string>();
  const layout: Layout = { files: {} };
  const packed: PackedFolder = { data: {}, binaryData: {}, files: [], bytes: 0, skippedLinks };
  // Flat names first, so that they keep their own name as key.
  for (const path of [...paths].sort((a, b) => Number(a.includes('/')) - Number(b.includes('/')))) {
    let key = path;
    if (path.includes('/') || !isConfigMapKey(path) || path === LAYOUT_KEY || taken.has(path)) {
      key = keyFor(path, taken);
      layout.files[key] = path;
    } else {
      taken.add(path);
    }
    const content = readFileSync(join(root, path));
    const text = asText(content);
    if (text !== undefined) packed.data[key] = text;
    else packed.binaryData[key] = content.toString('base64');
    packed.files.push({ path, key, bytes: content.length });
    packed.bytes += content.length;
  }
  if (Object.keys(layout.files).length > 0) {
    const text = JSON.stringify(layout, null, 2);
    packed.data[LAYOUT_KEY] = text;
    packed.bytes += Buffer.byteLength(text);
  }
  if (packed.bytes > CONFIGMAP_MAX_BYTES) throw new PackError(tooLarge(dir, packed));
  return packed;
}

/** A suite the runner could not install is refused here, before anything is created. */
function checkDependencies(dir: string, root: string, paths: string[]): void {
  if (paths.includes(NPMRC)) {
    const keys = credentialKeys(readFileSync(join(root, NPMRC), 'utf8'));
    if (keys.length > 0) {
      throw new PackError(`${join(dir, NPMRC)} holds a registry credential (${keys.join(', ')}), which would go into a ` +
        'ConfigMap anyone who reads the namespace can read: move that .npmrc into a Secret ' +
        '(kubectl create secret generic npmrc --from-file=.npmrc) and pass --npmrc-secret npmrc, ' +
        'keeping only registry= lines in the suite\'s .npmrc');
    }
  }
  if (!paths.includes('package.json')) return;
  let own: string[];
  try {
    own = ownDependencies(readFileSync(join(root, 'package.json'), 'utf8'));
  } catch (err) {
    if (err instanceof PackageJsonError) throw new PackError(`${join(dir, 'package.json')}: ${err.message}`);
    throw err;
  }
  if (own.length > 0 && !lockfileOf(new Set(paths))) {
    throw new PackError(`${join(dir, 'package.json')} asks for ${own.slice(0, 3).join(', ')}${own.length > 3 ? '…' : ''} ` +
      'but the folder has no lockfile: commit one (`npm install` writes package-lock.json); the cluster installs ' +
      'from the lockfile only and never resolves versions anew');
  }
}

function tooLarge(dir: string, packed: PackedFolder): string {
  const largest = [...packed.files].sort((a, b) => b.bytes - a.bytes).slice(0, 3)
    .map((f) => `${f.path} (${formatBytes(f.bytes)})`).join(', ');
  return `${dir} is ${formatBytes(packed.bytes)} in ${packed.files.length} files, more than the ` +
    `${formatBytes(CONFIGMAP_MAX_BYTES)} a ConfigMap holds (largest: ${largest}). Leave out what the tests do ` +
    `not need (${SKIPPED_NAMES.join(', ')} and hidden files are already left out), or bake the tests into an image ` +
    'and run them with spec.source.image and spec.runner.image (README: TestRuns)';
}
