// What a repository is called in messages, logs, status and Events: its URL
// without user info and with every credential the operation used blotted
// out, since git errors quote URLs and servers may echo what they were sent.

/** `https://user:pass@host/repo.git` -> `https://host/repo.git`; anything not a URL is returned unchanged. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}

/** The text with URLs stripped of user info and each secret (of 4 characters or more) replaced by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@\s]*@/g, '$1');
  for (const secret of secrets) {
    if (secret.length >= 4) clean = clean.replaceAll(secret, '***');
  }
  return clean;
}

/** Where an ssh remote is, as git reads its URL (git-clone(1), GIT URLS). */
export interface SshAddress {
  /** ssh's login user: the URL's, else `git`, the user GitHub, GitLab, Gitea and Bitbucket serve repositories as. */
  user: string;
  host: string;
  port: number;
  /** The repository's path as git-upload-pack is given it: absolute for ssh://, relative to the home for scp-like. */
  path: string;
}

const SSH_URL = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)$/;
/** `[user@]host:path`, where no slash comes before the first colon (git's rule for telling it from a local path). */
const SCP_LIKE = /^(?:([^@/:]+)@)?([^/:]+):(?!\/\/)(.+)$/;

/** The ssh remote an `ssh://` or scp-like (`git@host:org/repo.git`) URL names; undefined for any other URL. */
export function sshAddressOf(url: string): SshAddress | undefined {
  const full = SSH_URL.exec(url);
  if (full) {
    const [, user, host = '', port, path = ''] = full;
    return { user: user ?? 'git', host: host.replace(/^\[(.*)\]$/, '$1'), port: port ? Number(port) : 22, path };
  }
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) return undefined;
  const scp = SCP_LIKE.exec(url);
  if (!scp) return undefined;
  const [, user, host = '', path = ''] = scp;
  return { user: user ?? 'git', host, port: 22, path };
}
