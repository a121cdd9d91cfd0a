// `fleetwright runner` on a suite whose dependencies cannot be installed: it
// stops before Playwright, with the reason as its termination message.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runnerFailureReason } from '../../../src/contracts/runner-failure.ts';

const root = resolve(import.meta.dirname, '../../..');
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fw-runner-deps-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('ends the shard with a DependenciesFailed termination message, and exit code 1, before Playwright runs', async () => {
  const source = join(tmp, 'suite');
  cpSync(join(root, 'test/fixtures/webserver-bin'), source, { recursive: true });
  rmSync(join(source, 'package-lock.json'));
  const termination = join(tmp, 'termination-log');
  const run = promisify(execFile)(process.execPath, ['src/main.ts', 'runner', '--shard=1/1'], {
    cwd: root,
    env: { ...process.env, FLEETWRIGHT_SOURCE_DIR: source, FLEETWRIGHT_WORK_DIR: join(tmp, 'work'), FLEETWRIGHT_TERMINATION_LOG: termination },
  });
  await expect(run).rejects.toMatchObject({ code: 1 });
  const message = readFileSync(termination, 'utf8');
  expect(runnerFailureReason(message)).toBe('DependenciesFailed');
  expect(message).toBe('DependenciesFailed: package.json asks for http-server but the suite has no lockfile: commit one ' +
    '(`npm install` writes package-lock.json); versions are never resolved anew on the cluster');
}, 30_000);
