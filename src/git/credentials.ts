// A git source's credentials, as a Secret holds them (spec.source.git.secretRef)
// and as the controller and the runner pod's fetch-source container read them:
// the controller from its Secret cache, the container from the mounted Secret.
// For ssh the keys are Flux's (identity, known_hosts, password), which the
// GitOps users this serves already keep.
import type { SshCredentials } from './ssh.ts';
import { sshAddressOf } from './url.ts';

export const GIT_TOKEN_KEY = 'token';
export const GIT_USERNAME_KEY = 'username';
export const GIT_PASSWORD_KEY = 'password';
export const SSH_IDENTITY_KEY = 'identity';
export const SSH_KNOWN_HOSTS_KEY = 'known_hosts';
/** The identity's passphrase, if it is encrypted (Flux's name for it). */
export const SSH_PASSPHRASE_KEY = 'password';
/** Every key the fetch-source container reads from the mounted Secret. */
export const CREDENTIAL_KEYS = [
  GIT_TOKEN_KEY, GIT_USERNAME_KEY, GIT_PASSWORD_KEY, SSH_IDENTITY_KEY, SSH_KNOWN_HOSTS_KEY,
];
/** GitHub's user name for a token; GitLab and Gitea take any user name with a token as the password. */
export const TOKEN_USERNAME = 'x-access-token';

export interface GitCredentials {
  username: string;
  password: string;
}

/**
 * The credentials in a Secret's (decoded) keys: `token`, with `username` if
 * there is one, or else `username` and `password`. `missing` names what the
 * Secret lacks.
 */
export function credentialsOf(
  keys: Partial<Record<string, string>>,
): { ok: true; credentials: GitCredentials } | { ok: false; missing: string } {
  const { [GIT_TOKEN_KEY]: token, [GIT_USERNAME_KEY]: username, [GIT_PASSWORD_KEY]: password } = keys;
  if (token) return { ok: true, credentials: { username: username || TOKEN_USERNAME, password: token } };
  if (username && password) return { ok: true, credentials: { username, password } };
  if (username) return { ok: false, missing: `key ${GIT_PASSWORD_KEY} (it has ${GIT_USERNAME_KEY})` };
  return { ok: false, missing: `key ${GIT_TOKEN_KEY}, or keys ${GIT_USERNAME_KEY} and ${GIT_PASSWORD_KEY}` };
}

/** The ssh credentials in a Secret's (decoded) keys: a private key and the server's host keys, both required. */
export function sshCredentialsOf(
  keys: Partial<Record<string, string>>,
): { ok: true; credentials: SshCredentials } | { ok: false; missing: string } {
  const { [SSH_IDENTITY_KEY]: identity, [SSH_KNOWN_HOSTS_KEY]: knownHosts, [SSH_PASSPHRASE_KEY]: passphrase } = keys;
  if (!identity) return { ok: false, missing: `key ${SSH_IDENTITY_KEY} (the private key)` };
  // No trust on first use: a pod that trusted whatever key answered would hand the suite to any man in the middle.
  if (!knownHosts) {
    return { ok: false, missing: `key ${SSH_KNOWN_HOSTS_KEY} (the server's host keys, as ssh-keyscan prints them)` };
  }
  return { ok: true, credentials: { identity, knownHosts, ...(passphrase ? { passphrase } : {}) } };
}

/** The credentials a remote of `url` takes, from a Secret's (decoded) keys: ssh's for an ssh URL, else HTTP's. */
export function remoteCredentialsOf(
  url: string,
  keys: Partial<Record<string, string>>,
): { ok: true; credentials: { credentials?: GitCredentials; ssh?: SshCredentials } } | { ok: false; missing: string } {
  if (sshAddressOf(url)) {
    const ssh = sshCredentialsOf(keys);
    return ssh.ok ? { ok: true, credentials: { ssh: ssh.credentials } } : ssh;
  }
  // A file from `kubectl create secret --from-file` often ends in a newline that is no part of the token.
  const basic = credentialsOf(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, v?.trim()])));
  return basic.ok ? { ok: true, credentials: { credentials: basic.credentials } } : basic;
}

/** Basic auth sent with every request, so that a server answering 404 to anonymous clients sees them at once. */
export function authHeaders(credentials: GitCredentials | undefined): Record<string, string> {
  return credentials ? { Authorization: `Basic ${basicOf(credentials)}` } : {};
}

/** The strings a message must never contain. */
export const secretsOf = (credentials: GitCredentials | undefined, ssh?: SshCredentials) => [
  ...(credentials ? [credentials.password, basicOf(credentials)] : []),
  ...(ssh?.passphrase ? [ssh.passphrase] : []),
];

const basicOf = (c: GitCredentials) => Buffer.from(`${c.username}:${c.password}`).toString('base64');
