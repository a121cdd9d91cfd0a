// actionlint, the linter of GitHub Actions workflows, built from its Go module
// once per version into the shared cache, as the Kubernetes binaries are.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './paths.ts';

const ACTIONLINT_MODULE = 'github.com/rhysd/actionlint/cmd/actionlint';
const ACTIONLINT_VERSION = 'v1.7.12';

/** Path of the actionlint binary; `go install`s it the first time. */
export function ensureActionlint(log: (line: string) => void = console.error): string {
  const dir = join(cacheDir, 'tools', `actionlint-${ACTIONLINT_VERSION}`);
  const binary = join(dir, 'actionlint');
  if (existsSync(binary)) return binary;

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(`cannot build actionlint ${ACTIONLINT_VERSION}: Go is not on PATH. Install Go 1.25 or newer.`);
  }
  log(`installing actionlint ${ACTIONLINT_VERSION} into ${dir} with ${go.stdout.trim()}`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  execFileSync('go', ['install', '-trimpath', `${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION}`], {
    cwd: partial,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: partial, GOTOOLCHAIN: 'local' },
  });
  // Rename last, so an interrupted install never leaves a binary that looks complete.
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return binary;
}
