// `fleetwright fetch-source` as the runner pod's init container runs it, against the real git server on 127.0.0.1.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitRepository, type GitServer, startGitServer } from '../../../hack/lib/gitserver.ts';
import { runFetchSource } from '../../../src/runner/fetch-source.ts';

let server: GitServer;
let repo: GitRepository;
let commit: string;
let root: string;

beforeAll(async () => {
  server = await startGitServer({ host: '127.0.0.1', token: 'tok-77c1' });
  repo = server.createRepository('private', { protected: true });
  commit = repo.commit({ 'apps/e2e/a.spec.ts': 'a test' }, 'first');
  root = mkdtempSync(join(tmpdir(), 'fleetwright-fetch-source-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

function pod(name: string, secretKeys: Record<string, string>, env: Record<string, string>) {
  const dir = join(root, name);
  const credentialsDir = join(dir, 'secret');
  mkdirSync(credentialsDir, { recursive: true });
  for (const [key, value] of Object.entries(secretKeys)) writeFileSync(join(credentialsDir, key), value);
  const terminationLog = join(dir, 'termination-log');
  const options = {
    env: {
      FLEETWRIGHT_TERMINATION_LOG: terminationLog,
      FLEETWRIGHT_GIT_URL: repo.url,
      FLEETWRIGHT_GIT_COMMIT: commit,
      ...env,
    },
    credentialsDir,
    treeDir: join(dir, 'tree'),
    dataDir: join(dir, 'git'),
  };
  return { options, tree: options.treeDir, terminationLog };
}

describe('fleetwright fetch-source', () => {
  it('fetches the pinned commit with the token of the mounted Secret', async () => {
    const { options, tree } = pod('ok', { token: server.token }, { FLEETWRIGHT_GIT_SECRET: 'git', FLEETWRIGHT_GIT_PATH: 'apps/e2e' });
    expect(await runFetchSource(options)).toBe(0);
    expect(readFileSync(join(tree, 'apps/e2e/a.spec.ts'), 'utf8')).toBe('a test');
  });

  it('ends with the refused credentials in its termination message, and not the token', async () => {
    const { options, terminationLog } = pod('refused', { token: 'wrong-token' }, { FLEETWRIGHT_GIT_SECRET: 'git', FLEETWRIGHT_GIT_REVISION: 'main' });
    expect(await runFetchSource(options)).toBe(1);
    const message = readFileSync(terminationLog, 'utf8');
    expect(message).toBe(`repository ${repo.url} at revision main: the server refused the credentials of Secret git ` +
      '(HTTP 401): fix its token, or its username and password, or give them access to the repository');
  });

  it('says which keys the Secret lacks', async () => {
    const { options, terminationLog } = pod('no-keys', { username: 'me' }, { FLEETWRIGHT_GIT_SECRET: 'git' });
    expect(await runFetchSource(options)).toBe(1);
    expect(readFileSync(terminationLog, 'utf8')).toBe('Secret git (spec.source.git.secretRef) has no key password ' +
      '(it has username), or does not exist: add the credentials to it');
  });

  it('refuses a path that leaves the repository', async () => {
    const { options, terminationLog } = pod('escape', {}, { FLEETWRIGHT_GIT_PATH: '../etc' });
    expect(await runFetchSource(options)).toBe(1);
    expect(readFileSync(terminationLog, 'utf8')).toBe('FLEETWRIGHT_GIT_PATH=../etc leaves the repository: fix spec.source.git.path');
  });
});
