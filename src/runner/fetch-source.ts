// `fleetwright fetch-source`: the init container of a runner pod whose TestRun
// has a git source. Fetches the commit the controller pinned (and only it) into
// the emptyDir the runner container then reads the suite from. A failure is
// written to the termination message, which the controller makes the shard's
// message.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GIT_COMMIT_ENV,
  GIT_CREDENTIALS_DIR,
  GIT_DATA_DIR,
  GIT_PATH_ENV,
  GIT_REVISION_ENV,
  GIT_SECRET_ENV,
  GIT_TREE_DIR,
  GIT_URL_ENV,
} from '../contracts/git-source.ts';
import { isContainedPath } from '../contracts/suite-layout.ts';
import { terminationLogOf } from '../contracts/termination.ts';
import { CREDENTIAL_KEYS, remoteCredentialsOf, secretsOf } from '../git/credentials.ts';
import { GitSourceError } from '../git/errors.ts';
import { fetchCommit, type GitRemote } from '../git/remote.ts';
import { redact, withoutCredentials } from '../git/url.ts';
import { createLogger } from '../runtime/log.ts';

/** A fetch that outlasts this has hung; the pod's activeDeadlineSeconds bounds it further. */
const FETCH_TIMEOUT_MS = 5 * 60_000;

export const usage = () =>
  'Fetches one commit of a git repository into a folder (the init container of a git-sourced runner pod).\n' +
  'Environment (written by the TestRun controller):\n' +
  `  ${GIT_URL_ENV}, ${GIT_COMMIT_ENV} (40-hex), ${GIT_REVISION_ENV}, ${GIT_PATH_ENV}\n` +
  `  ${GIT_SECRET_ENV}  the Secret mounted at ${GIT_CREDENTIALS_DIR} (key token, or username and password;\n` +
  '                         for ssh, keys identity and known_hosts, and password if the key is encrypted)\n' +
  `Checks the commit out into ${GIT_TREE_DIR}; a failure goes to the termination message.`;

export interface FetchSourceOptions {
  env?: NodeJS.ProcessEnv;
  credentialsDir?: string;
  treeDir?: string;
  dataDir?: string;
}

/** Fetches the pinned commit; resolves to the exit code. */
export async function runFetchSource(options: FetchSourceOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const log = createLogger().child({ component: 'fetch-source' });
  const url = env[GIT_URL_ENV] ?? '';
  const commit = env[GIT_COMMIT_ENV] ?? '';
  const path = env[GIT_PATH_ENV] || undefined;
  const revision = env[GIT_REVISION_ENV] || undefined;
  const secret = env[GIT_SECRET_ENV] || undefined;
  let remote: GitRemote = { url };
  try {
    if (!url || !/^[0-9a-f]{40}$/.test(commit)) {
      throw new GitSourceError(`${GIT_URL_ENV} and a 40-hex ${GIT_COMMIT_ENV} are required (the TestRun controller sets them)`);
    }
    if (path !== undefined && !isContainedPath(path)) {
      throw new GitSourceError(`${GIT_PATH_ENV}=${path} leaves the repository: fix spec.source.git.path`);
    }
    if (secret) remote = withCredentials(url, secret, options.credentialsDir ?? GIT_CREDENTIALS_DIR);
    const project = await fetchCommit({
      remote,
      commit,
      dir: options.treeDir ?? GIT_TREE_DIR,
      gitdir: options.dataDir ?? GIT_DATA_DIR,
      ...(revision ? { revision } : {}),
      ...(path ? { path } : {}),
    }, FETCH_TIMEOUT_MS);
    log.info({ url: withoutCredentials(url), commit, project }, 'fetched the pinned commit');
    return 0;
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const message = err instanceof GitSourceError ? raw : redact(raw, secretsOf(remote.credentials, remote.ssh));
    log.error({ url: withoutCredentials(url), commit }, message);
    writeFileSync(terminationLogOf(env), message.slice(0, 4000));
    return 1;
  }
}

/**
 * The remote with the credentials of the mounted Secret: mounted optional,
 * so that a missing key is said here, not by the kubelet.
 */
function withCredentials(url: string, secret: string, dir: string): GitRemote {
  const keys = Object.fromEntries(CREDENTIAL_KEYS.filter((key) => existsSync(join(dir, key)))
    .map((key) => [key, readFileSync(join(dir, key), 'utf8')]));
  const found = remoteCredentialsOf(url, keys);
  if (!found.ok) {
    throw new GitSourceError(`Secret ${secret} (spec.source.git.secretRef) has no ${found.missing}, or does not exist: ` +
      'add the credentials to it');
  }
  return { url, secret, ...found.credentials };
}
