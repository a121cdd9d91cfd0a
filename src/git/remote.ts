// The two things Fleetwright does with a git source, with isomorphic-git (no
// git binary in the image): the controller resolves the revision to one commit
// by listing the remote's refs, and each runner pod fetches exactly that
// commit. Over HTTP, git's upload-pack serves a commit that is not a ref's tip
// as long as an advertised ref reaches it (check_non_tip in upload-pack.c, for
// stateless RPC), so a branch moved since the run was pinned still yields the
// pinned commit, shallowly; one no ref reaches any more (a force-push) is
// refused. Over ssh (ssh.ts), upload-pack serves only what it advertised, so a
// commit that is no longer a tip comes with the full history of the branches
// (wantOverSsh). Checked against git http-backend and OpenSSH's sshd with
// git-shell (test/unit/git/); GitHub and GitLab serve fetches with git's
// upload-pack too, which this machine cannot reach to check.
import * as fs from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { authHeaders, type GitCredentials, secretsOf } from './credentials.ts';
import { describeSource, explain, GitSourceError, type SourceContext } from './errors.ts';
import { openSshSession, SSH_PLACEHOLDER_URL, type SshCredentials } from './ssh.ts';
import { sshAddressOf, withoutCredentials } from './url.ts';

export interface GitRemote {
  url: string;
  credentials?: GitCredentials;
  /** For an ssh URL: the key to log in with and the server's host keys. */
  ssh?: SshCredentials;
  /** The Secret the credentials came from, for messages. */
  secret?: string;
}

export interface ResolvedRevision {
  /** The full ref the revision named (refs/heads/main), HEAD, or the SHA itself. */
  revision: string;
  commit: string;
}

const SHA = /^[0-9a-f]{40}$/;

const contextOf = (remote: GitRemote, revision: string | undefined): SourceContext => ({
  url: remote.url,
  ...(revision ? { revision } : {}),
  ...(remote.secret ? { secret: remote.secret } : {}),
  secrets: secretsOf(remote.credentials, remote.ssh),
});

type GitHttpClient = Parameters<typeof git.listServerRefs>[0]['http'];

/**
 * Runs `operation` with the client and URL isomorphic-git is to use for the
 * remote: its own HTTP client, or one over an ssh connection that stays open
 * for the operation. Every request is under `signal`.
 */
async function withRemote<T>(
  remote: GitRemote,
  signal: AbortSignal,
  operation: (client: GitHttpClient, url: string) => Promise<T>,
): Promise<T> {
  const address = sshAddressOf(remote.url);
  if (!address) {
    const client = { request: (req: Parameters<typeof http.request>[0]) => http.request({ ...req, signal }) };
    return operation(client, remote.url);
  }
  if (!remote.ssh) {
    throw new GitSourceError(`an ssh URL needs a key: create a Secret with keys identity and known_hosts and name it ` +
      'in spec.source.git.secretRef');
  }
  const session = await openSshSession(address, remote.ssh, signal);
  try {
    return await operation(session.http as GitHttpClient, SSH_PLACEHOLDER_URL);
  } finally {
    session.close();
  }
}

const deadline = (timeoutMs: number, signal?: AbortSignal) =>
  (signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs));

/**
 * The commit `revision` names on the remote: a full SHA as it is (after
 * checking that the repository answers with these credentials), else a
 * full ref, a tag (peeled to its commit) or a branch, in git's order; unset,
 * the remote's HEAD. Throws a GitSourceError naming the fix. `signal`
 * stops it early (the controller losing leadership).
 */
export async function resolveRevision(
  remote: GitRemote,
  revision: string | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ResolvedRevision> {
  const ctx = contextOf(remote, revision);
  let refs: Awaited<ReturnType<typeof git.listServerRefs>>;
  try {
    refs = await withRemote(remote, deadline(timeoutMs, signal), (client, url) => listRefs(client, url, remote));
  } catch (err) {
    throw explain(err, ctx);
  }
  if (revision && SHA.test(revision)) return { revision, commit: revision };
  const byName = new Map(refs.map((r) => [r.ref, r]));
  const candidates = revision ? [revision, `refs/tags/${revision}`, `refs/heads/${revision}`] : ['HEAD'];
  for (const name of candidates) {
    const ref = byName.get(name);
    if (ref) return { revision: name, commit: ref.peeled ?? ref.oid };
  }
  const branches = refs.filter((r) => r.ref.startsWith('refs/heads/')).map((r) => r.ref.slice('refs/heads/'.length));
  if (!revision) throw new GitSourceError(`${describeSource(ctx)}: the repository is empty (no HEAD): push a commit to it`);
  throw new GitSourceError(`${describeSource(ctx)}: no branch, tag or ref ${revision} ` +
    `(branches: ${branches.slice(0, 10).join(', ') || 'none'}${branches.length > 10 ? ', …' : ''}): ` +
    'fix spec.source.git.revision, or use a full 40-hex commit SHA');
}

type ServerRef = Awaited<ReturnType<typeof git.listServerRefs>>[number];

const listRefs = (client: GitHttpClient, url: string, remote: GitRemote) => git.listServerRefs({
  http: client, url, headers: authHeaders(remote.credentials), protocolVersion: 1, symrefs: true, peelTags: true,
});

/**
 * What to ask an ssh server for to get `commit`, given the refs it advertises:
 * the commit itself when a ref points at it, the annotated tag that peels to
 * it, or else every branch and tag in full (upload-pack over ssh refuses a
 * commit it did not advertise; one of them may still reach it).
 */
export function wantOverSsh(refs: readonly ServerRef[], commit: string): { ref: string; depth: 1 } | { all: true } {
  if (refs.some((r) => r.oid === commit)) return { ref: commit, depth: 1 };
  const tag = refs.find((r) => r.peeled === commit);
  return tag ? { ref: tag.ref, depth: 1 } : { all: true };
}

export interface FetchRequest {
  remote: GitRemote;
  /** The revision the commit was pinned from, for messages. */
  revision?: string;
  commit: string;
  /** The folder to check the commit out into. */
  dir: string;
  /** Where the git data goes, outside `dir` so that copies of the project leave it behind. */
  gitdir: string;
  /** The project's folder inside the repository. */
  path?: string;
}

/** Fetches `commit` alone (depth 1) and checks it out into `dir`; returns the project's folder. */
export async function fetchCommit(request: FetchRequest, timeoutMs: number): Promise<string> {
  const { remote, commit, dir, gitdir } = request;
  const ctx = contextOf(remote, request.revision);
  try {
    await mkdir(dir, { recursive: true });
    await git.init({ fs, dir, gitdir });
    await withRemote(remote, AbortSignal.timeout(timeoutMs), async (client, url) => {
      // fetch wants a remote with a refspec even for one commit; its URL carries no credentials.
      await git.addRemote({ fs, gitdir, remote: 'origin', url });
      const headers = authHeaders(remote.credentials);
      const want = sshAddressOf(remote.url)
        ? wantOverSsh(await listRefs(client, url, remote), commit)
        : { ref: commit, depth: 1 };
      const common = { fs, http: client, gitdir, url, headers };
      await ('all' in want
        ? git.fetch({ ...common, singleBranch: false, tags: true })
        : git.fetch({ ...common, ref: want.ref, singleBranch: true, depth: want.depth, tags: false }));
    });
  } catch (err) {
    throw explain(err, ctx);
  }
  // Asked for a commit no ref reaches, git http-backend sends no pack and isomorphic-git's fetch still
  // resolves (seen in test/unit/git/): whether the commit came is the one check that holds.
  if (!(await git.readCommit({ fs, gitdir, oid: commit }).then(() => true, () => false))) {
    throw new GitSourceError(`${describeSource(ctx)}: commit ${commit}, which the run is pinned to, is no longer ` +
      `reachable from any branch or tag of ${withoutCredentials(remote.url)} (force-pushed away?): start a new run`);
  }
  try {
    await git.checkout({ fs, dir, gitdir, ref: commit, force: true });
  } catch (err) {
    throw explain(err, ctx);
  }
  const project = request.path ? join(dir, request.path) : dir;
  const found = await stat(project).catch(() => undefined);
  if (!found?.isDirectory()) {
    throw new GitSourceError(`${describeSource(ctx)}: commit ${commit} has no folder ${request.path ?? ''}: ` +
      'fix spec.source.git.path');
  }
  return project;
}
