// The real resolve and fetch code against the real git server of hack/ (git http-backend behind Node) on
// 127.0.0.1: no cluster needed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GitRepository, type GitServer, startGitServer } from '../../../hack/lib/gitserver.ts';
import { fetchCommit, resolveRevision } from '../../../src/git/remote.ts';

const TIMEOUT_MS = 10_000;
let server: GitServer;
let suite: GitRepository;
let secret: GitRepository;
let first: string;
const dirs: string[] = [];
/** A fresh folder to check out into, its git data beside it. */
const scratch = () => {
  const root = mkdtempSync(join(tmpdir(), 'fleetwright-fetch-'));
  dirs.push(root);
  return { dir: join(root, 'tree'), gitdir: join(root, 'git') };
};

beforeAll(async () => {
  server = await startGitServer({ host: '127.0.0.1', token: 'tok-3f9a1c' });
  suite = server.createRepository('suite');
  first = suite.commit({ 'e2e/a.spec.ts': 'first', 'README.md': 'x' }, 'first');
  secret = server.createRepository('secret', { protected: true });
  secret.commit({ 'a.spec.ts': 'private' }, 'first');
});
afterAll(() => server.stop());
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('resolving a revision', () => {
  it('pins the remote\'s HEAD when no revision is given', async () => {
    expect(await resolveRevision({ url: suite.url }, undefined, TIMEOUT_MS)).toEqual({ revision: 'HEAD', commit: first });
  });

  it('resolves a branch, an annotated tag to its commit, and takes a SHA as it is', async () => {
    const feature = suite.commit({ 'e2e/a.spec.ts': 'feature' }, 'feature', 'feature');
    suite.tag('v1', first);
    expect(await resolveRevision({ url: suite.url }, 'feature', TIMEOUT_MS))
      .toEqual({ revision: 'refs/heads/feature', commit: feature });
    expect(await resolveRevision({ url: suite.url }, 'v1', TIMEOUT_MS)).toEqual({ revision: 'refs/tags/v1', commit: first });
    expect(await resolveRevision({ url: suite.url }, first, TIMEOUT_MS)).toEqual({ revision: first, commit: first });
  });

  it('says which revisions exist when the one asked for does not', async () => {
    await expect(resolveRevision({ url: suite.url }, 'nope', TIMEOUT_MS)).rejects.toThrow(
      `repository ${suite.url} at revision nope: no branch, tag or ref nope (branches: `);
  });

  it('reads a protected repository with the token, and says the credentials were refused without it', async () => {
    const good = { url: secret.url, credentials: { username: 'x-access-token', password: server.token }, secret: 'git' };
    expect((await resolveRevision(good, 'main', TIMEOUT_MS)).revision).toBe('refs/heads/main');
    const bad = { ...good, credentials: { username: 'x-access-token', password: 'wrong-token-123' } };
    const refused = resolveRevision(bad, 'main', TIMEOUT_MS);
    await expect(refused).rejects.toThrow(`repository ${secret.url} at revision main: the server refused the credentials ` +
      'of Secret git (HTTP 401)');
    await expect(refused).rejects.not.toThrow(/wrong-token-123|eC1hY2Nlc3MtdG9rZW46d3Jvbmct/);
    await expect(resolveRevision({ url: secret.url }, 'main', TIMEOUT_MS)).rejects.toThrow(
      'the server asks for credentials (HTTP 401): create a Secret with a token and name it in spec.source.git.secretRef');
  });

  it('names the host it cannot reach', async () => {
    const port = await closedPort();
    await expect(resolveRevision({ url: `http://127.0.0.1:${port}/suite.git` }, undefined, TIMEOUT_MS)).rejects.toThrow(
      `repository http://127.0.0.1:${port}/suite.git at its HEAD: cannot reach 127.0.0.1:${port} (ECONNREFUSED`);
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const { port } = silent.address() as { port: number };
    try {
      await expect(resolveRevision({ url: `http://127.0.0.1:${port}/suite.git` }, undefined, 300)).rejects.toThrow(
        `repository http://127.0.0.1:${port}/suite.git at its HEAD: 127.0.0.1:${port} did not answer in time`);
    } finally {
      silent.close();
    }
  });

  it('says a URL without a repository is not found', async () => {
    await expect(resolveRevision({ url: `${server.url}/missing.git` }, undefined, TIMEOUT_MS)).rejects.toThrow(
      'no repository at this URL (HTTP 404): fix spec.source.git.url');
  });
});

describe('fetching the pinned commit', () => {
  it('checks the commit out and returns the project\'s folder inside it', async () => {
    const { dir, gitdir } = scratch();
    const project = await fetchCommit({ remote: { url: suite.url }, commit: first, dir, gitdir, path: 'e2e' }, TIMEOUT_MS);
    expect(project).toBe(join(dir, 'e2e'));
    expect(readFileSync(join(project, 'a.spec.ts'), 'utf8')).toBe('first');
    expect(existsSync(join(dir, '.git'))).toBe(false);
  });

  it('still fetches the pinned commit after its branch moved on', async () => {
    const repo = server.createRepository('moving');
    const pinned = repo.commit({ 'a.spec.ts': 'pinned' }, 'pinned');
    const { commit } = await resolveRevision({ url: repo.url }, 'main', TIMEOUT_MS);
    repo.commit({ 'a.spec.ts': 'moved on' }, 'moved on');
    const { dir, gitdir } = scratch();
    await fetchCommit({ remote: { url: repo.url }, revision: 'main', commit, dir, gitdir }, TIMEOUT_MS);
    expect(commit).toBe(pinned);
    expect(readFileSync(join(dir, 'a.spec.ts'), 'utf8')).toBe('pinned');
  });

  it('says the pinned commit is gone when its branch was force-pushed away from it', async () => {
    const repo = server.createRepository('forced');
    const base = repo.commit({ 'a.spec.ts': 'base' }, 'base', 'main');
    const pinned = repo.commit({ 'a.spec.ts': 'pinned' }, 'pinned', 'topic');
    repo.moveRef('topic', base);
    await expect(fetchCommit({ remote: { url: repo.url }, revision: 'topic', commit: pinned, ...scratch() }, TIMEOUT_MS))
      .rejects.toThrow(`commit ${pinned}, which the run is pinned to, is no longer reachable from any branch or tag`);
  });

  it('fetches a protected repository with the token and refuses without it', async () => {
    const { commit } = await resolveRevision({ url: secret.url, credentials: { username: 'u', password: server.token } }, undefined, TIMEOUT_MS);
    const { dir, gitdir } = scratch();
    await fetchCommit({ remote: { url: secret.url, credentials: { username: 'u', password: server.token } }, commit, dir, gitdir }, TIMEOUT_MS);
    expect(readFileSync(join(dir, 'a.spec.ts'), 'utf8')).toBe('private');
    const bad = { url: secret.url, credentials: { username: 'u', password: 'not-the-token' }, secret: 'git' };
    await expect(fetchCommit({ remote: bad, commit, ...scratch() }, TIMEOUT_MS))
      .rejects.toThrow('the server refused the credentials of Secret git (HTTP 401)');
  });

  it('says the commit has no such folder', async () => {
    await expect(fetchCommit({ remote: { url: suite.url }, revision: 'main', commit: first, ...scratch(), path: 'tests' }, TIMEOUT_MS))
      .rejects.toThrow(`commit ${first} has no folder tests: fix spec.source.git.path`);
  });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}
