// Git over ssh, for real: the resolve and fetch code against Debian's OpenSSH sshd serving git-shell on 127.0.0.1
// (hack/lib/gitserver.ts), with keys made by ssh-keygen. No cluster needed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GitRepository, type GitServer, type SshAccess, startGitServer } from '../../../hack/lib/gitserver.ts';
import { fetchCommit, type GitRemote, resolveRevision } from '../../../src/git/remote.ts';
import { runFetchSource } from '../../../src/runner/fetch-source.ts';

const TIMEOUT_MS = 10_000;
// A git server and ssh on the same 2 cores as the other test files: each test may take a few fetches' time.
let server: GitServer;
let access: SshAccess;
let repo: GitRepository;
let first: string;
const dirs: string[] = [];
const scratch = () => {
  const root = mkdtempSync(join(tmpdir(), 'fleetwright-ssh-'));
  dirs.push(root);
  return { root, dir: join(root, 'tree'), gitdir: join(root, 'git') };
};
/** A new ed25519 key pair from ssh-keygen: [private key, public key line]. */
const keyPair = (passphrase = ''): [string, string] => {
  const { root } = scratch();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'other', '-f', join(root, 'key')]);
  return [readFileSync(join(root, 'key'), 'utf8'), readFileSync(join(root, 'key.pub'), 'utf8')];
};
const remoteOf = (r: GitRepository, ssh: Partial<NonNullable<GitRemote['ssh']>> = {}): GitRemote => ({
  url: r.sshUrl ?? '',
  ssh: { identity: access.identity, knownHosts: access.knownHosts, ...ssh },
  secret: 'deploy-key',
});

beforeAll(async () => {
  server = await startGitServer({ host: '127.0.0.1', token: 'tok-ssh', ssh: true });
  access = server.ssh as SshAccess;
  repo = server.createRepository('suite');
  first = repo.commit({ 'e2e/a.spec.ts': 'first' }, 'first');
});
afterAll(() => server.stop());
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('a repository over ssh', { timeout: 30_000 }, () => {
  it('resolves a branch, an annotated tag and the HEAD with the deploy key', async () => {
    repo.tag('v1', first);
    expect(await resolveRevision(remoteOf(repo), 'main', TIMEOUT_MS)).toEqual({ revision: 'refs/heads/main', commit: first });
    expect(await resolveRevision(remoteOf(repo), 'v1', TIMEOUT_MS)).toEqual({ revision: 'refs/tags/v1', commit: first });
    expect(await resolveRevision(remoteOf(repo), undefined, TIMEOUT_MS)).toEqual({ revision: 'HEAD', commit: first });
  });

  it('fetches the pinned commit alone (depth 1) while it is the tip, and its folder', async () => {
    const { dir, gitdir } = scratch();
    const project = await fetchCommit({ remote: remoteOf(repo), revision: 'main', commit: first, dir, gitdir, path: 'e2e' }, TIMEOUT_MS);
    expect(readFileSync(join(project, 'a.spec.ts'), 'utf8')).toBe('first');
    expect(readFileSync(join(gitdir, 'shallow'), 'utf8').trim()).toBe(first);
  });

  it('still fetches the pinned commit after its branch moved on, and one an annotated tag points at', async () => {
    const moving = server.createRepository('moving');
    const pinned = moving.commit({ 'a.spec.ts': 'pinned' }, 'pinned');
    moving.tag('release', pinned);
    const { commit } = await resolveRevision(remoteOf(moving), 'main', TIMEOUT_MS);
    moving.commit({ 'a.spec.ts': 'moved on' }, 'moved on');
    const afterMove = scratch();
    await fetchCommit({ remote: remoteOf(moving), revision: 'main', commit, ...afterMove }, TIMEOUT_MS);
    expect(readFileSync(join(afterMove.dir, 'a.spec.ts'), 'utf8')).toBe('pinned');
    const byTag = scratch();
    await fetchCommit({ remote: remoteOf(moving), revision: 'release', commit: pinned, ...byTag }, TIMEOUT_MS);
    expect(readFileSync(join(byTag.dir, 'a.spec.ts'), 'utf8')).toBe('pinned');
    expect(readFileSync(join(byTag.gitdir, 'shallow'), 'utf8').trim()).toBe(pinned);
  });

  it('says the pinned commit is gone when its branch was force-pushed away from it', async () => {
    const forced = server.createRepository('forced');
    const base = forced.commit({ 'a.spec.ts': 'base' }, 'base', 'main');
    const pinned = forced.commit({ 'a.spec.ts': 'pinned' }, 'pinned', 'topic');
    forced.moveRef('topic', base);
    await expect(fetchCommit({ remote: remoteOf(forced), revision: 'topic', commit: pinned, ...scratch() }, TIMEOUT_MS))
      .rejects.toThrow(`commit ${pinned}, which the run is pinned to, is no longer reachable from any branch or tag`);
  });
});

describe('what ssh refuses, said with the fix', { timeout: 30_000 }, () => {
  const where = () => `repository ssh://127.0.0.1:${access.port}${repo.sshUrl?.split(`${access.port}`)[1]} at revision main`;

  it('refuses a server whose host key is not the one known_hosts holds', async () => {
    const [, otherPublic] = keyPair();
    const knownHosts = `[127.0.0.1]:${access.port} ${otherPublic.split(' ').slice(0, 2).join(' ')}\n`;
    await expect(resolveRevision(remoteOf(repo, { knownHosts }), 'main', TIMEOUT_MS)).rejects.toThrow(
      `${where()}: the host key of [127.0.0.1]:${access.port} is not the one known_hosts holds in key known_hosts of ` +
      'Secret deploy-key: if the server\'s key really changed, replace it there; otherwise something else answers at this address');
  });

  it('refuses to trust a server known_hosts says nothing of (no trust on first use)', async () => {
    await expect(resolveRevision(remoteOf(repo, { knownHosts: access.knownHosts.replace('127.0.0.1', '10.0.0.9') }), 'main', TIMEOUT_MS))
      .rejects.toThrow(`${where()}: known_hosts has no key for [127.0.0.1]:${access.port} in key known_hosts of Secret ` +
        'deploy-key: add the server\'s host key (ssh-keyscan -p <port> <host>)');
  });

  it('says the server refused a key it does not know', async () => {
    const [otherKey] = keyPair();
    await expect(resolveRevision(remoteOf(repo, { identity: otherKey }), 'main', TIMEOUT_MS)).rejects.toThrow(
      `${where()}: the server refused the key in key identity of Secret deploy-key (All configured authentication ` +
      'methods failed): add its public key to the repository\'s deploy keys, or fix the key or its passphrase (key password)');
  });

  it('says a key it cannot read is unusable, and an encrypted one needs its passphrase', async () => {
    await expect(resolveRevision(remoteOf(repo, { identity: 'not a key' }), 'main', TIMEOUT_MS)).rejects.toThrow(
      `${where()}: the key in key identity of Secret deploy-key cannot be used (Cannot parse privateKey`);
    const [encrypted] = keyPair('s3cret-phrase');
    const refused = resolveRevision(remoteOf(repo, { identity: encrypted }), 'main', TIMEOUT_MS);
    await expect(refused).rejects.toThrow('cannot be used (');
    await expect(refused).rejects.toThrow('and its passphrase in key password if it is encrypted');
  });

  it('says the server has no such repository', async () => {
    const missing = { ...remoteOf(repo), url: `ssh://root@127.0.0.1:${access.port}/srv/missing.git` };
    await expect(resolveRevision(missing, 'main', TIMEOUT_MS)).rejects.toThrow(
      `repository ssh://127.0.0.1:${access.port}/srv/missing.git at revision main: the server could not serve the ` +
      'repository (fatal: \'/srv/missing.git\' does not appear to be a git repository): fix the path in spec.source.git.url');
  });
});

describe('fleetwright fetch-source over ssh', { timeout: 30_000 }, () => {
  it('fetches with the identity and known_hosts of the mounted Secret, and names a missing key', async () => {
    const pod = (name: string, keys: Record<string, string>) => {
      const { root } = scratch();
      const credentialsDir = join(root, 'secret');
      execFileSync('mkdir', ['-p', credentialsDir]);
      for (const [key, value] of Object.entries(keys)) writeFileSync(join(credentialsDir, key), value);
      return {
        options: {
          env: {
            FLEETWRIGHT_TERMINATION_LOG: join(root, 'termination-log'),
            FLEETWRIGHT_GIT_URL: repo.sshUrl ?? '',
            FLEETWRIGHT_GIT_COMMIT: first,
            FLEETWRIGHT_GIT_SECRET: name,
          },
          credentialsDir,
          treeDir: join(root, 'tree'),
          dataDir: join(root, 'git'),
        },
        root,
      };
    };
    const ok = pod('deploy-key', { identity: access.identity, known_hosts: access.knownHosts });
    expect(await runFetchSource(ok.options)).toBe(0);
    expect(readFileSync(join(ok.root, 'tree/e2e/a.spec.ts'), 'utf8')).toBe('first');
    const lacking = pod('deploy-key', { identity: access.identity });
    expect(await runFetchSource(lacking.options)).toBe(1);
    expect(readFileSync(join(lacking.root, 'termination-log'), 'utf8')).toBe('Secret deploy-key (spec.source.git.secretRef) ' +
      'has no key known_hosts (the server\'s host keys, as ssh-keyscan prints them), or does not exist: add the credentials to it');
    expect(existsSync(join(lacking.root, 'tree/e2e'))).toBe(false);
  });
});
