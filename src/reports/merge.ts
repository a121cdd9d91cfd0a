// Merging a finished TestRun's shard reports into one HTML report:
// `playwright merge-reports --reporter html` over the blobs, then the report's
// files into storage with index.html last, so a stored index.html always
// means a whole report.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { isFinishedPhase } from '../api/objects.ts';
import type { RunView } from './auth.ts';
import { blobsPrefix, htmlKey, isFileSegment } from './paths.ts';
import type { ReportStorage, StoredObject } from './storage.ts';

export type MergeAction =
  | { kind: 'none'; why: string } |
  { kind: 'merge'; blobs: string[] } |
  /** Merged already (a restart between storing the report and writing status): write status.reportURL. */
  { kind: 'publish' };

/** What to do for `run`, given what is stored under its prefix and the URL its report is served at. */
export function mergeAction(run: RunView, stored: readonly StoredObject[], reportURL: string): MergeAction {
  if (!isFinishedPhase(run.phase)) return { kind: 'none', why: 'the run has not finished' };
  if (stored.some((o) => o.key === htmlKey(run, 'index.html'))) {
    return run.reportURL === reportURL ? { kind: 'none', why: 'merged and published' } : { kind: 'publish' };
  }
  const prefix = blobsPrefix(run);
  const blobs = stored.filter((o) => o.key.startsWith(prefix) && o.key.endsWith('.zip')).map((o) => o.key);
  if (blobs.length === 0) return { kind: 'none', why: 'no shard uploaded a report' };
  return { kind: 'merge', blobs: blobs.sort() };
}

/** Playwright's CLI, from the @playwright/test installed beside fleetwright (as the runner finds it). */
export function playwrightCli(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@playwright/test/package.json')), 'cli.js');
  } catch (err) {
    throw new Error('@playwright/test is not installed beside fleetwright: the report store needs it to merge reports', { cause: err });
  }
}

/** Merges are killed after this long: a hung merge must not stop every other run's. */
const MERGE_TIMEOUT_MS = 10 * 60_000;
/** Report files stored at once. */
const PUT_CONCURRENCY = 4;

async function runMerge(cli: string, workDir: string, blobDir: string, htmlDir: string): Promise<void> {
  // Playwright needs none of the store's credentials.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const child = spawn(process.execPath, [cli, 'merge-reports', '--reporter', 'html', blobDir], {
    cwd: workDir,
    env: { ...env, PLAYWRIGHT_HTML_OUTPUT_DIR: htmlDir, PLAYWRIGHT_HTML_OPEN: 'never', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4096));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), MERGE_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    throw new Error(`playwright merge-reports exited with ${code ?? 'a signal (timed out?)'}: ${output.trim().split('\n').slice(-5).join(' | ')}`);
  }
}

/** Every file under `dir`, as report-relative paths with `/`. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

/**
 * Downloads the blobs, merges them in a temporary folder and stores the
 * report's files under the run's html/ prefix. Resolves with the number of
 * files stored.
 */
export async function mergeRun(options: {
  storage: ReportStorage;
  run: RunView;
  blobs: string[];
  cli: string;
  log: Logger;
}): Promise<number> {
  const { storage, run, blobs, cli, log } = options;
  const workDir = await mkdtemp(join(tmpdir(), 'fleetwright-merge-'));
  try {
    const blobDir = join(workDir, 'blobs');
    const htmlDir = join(workDir, 'html');
    await mkdir(blobDir);
    for (const key of blobs) {
      const object = await storage.get(key);
      if (!object) throw new Error(`blob report ${key} vanished while merging`);
      // merge-reports reads every .zip of the folder; name them as the blob reporter does.
      await pipeline(object.body, createWriteStream(join(blobDir, `report-${key.split('/').at(-1)}`)));
    }
    await runMerge(cli, workDir, blobDir, htmlDir);

    const files = await filesUnder(htmlDir);
    const unsafe = files.filter((f) => !f.split('/').every(isFileSegment));
    if (unsafe.length > 0) log.warn({ files: unsafe.slice(0, 10) }, 'not storing report files whose names cannot be served');
    const others = files.filter((f) => f !== 'index.html' && !unsafe.includes(f));
    if (!files.includes('index.html')) throw new Error('playwright merge-reports wrote no index.html');
    const put = (file: string) => storage.put(htmlKey(run, file), createReadStream(join(htmlDir, ...file.split('/')))).then(() => undefined);
    await inParallel(others, PUT_CONCURRENCY, put);
    await put('index.html');
    return others.length + 1;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
