// A git source's credentials, as a Secret holds them (spec.source.git.secretRef)
// and as the controller and the runner pod's fetch-source container read them:
// the controller from its Secret cache, the container from the mounted Secret.

export const GIT_TOKEN_KEY = 'token';
export const GIT_USERNAME_KEY = 'username';
export const GIT_PASSWORD_KEY = 'password';
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

/** Basic auth sent with every request, so that a server answering 404 to anonymous clients sees them at once. */
export function authHeaders(credentials: GitCredentials | undefined): Record<string, string> {
  return credentials ? { Authorization: `Basic ${basicOf(credentials)}` } : {};
}

/** The strings a message must never contain. */
export const secretsOf = (credentials: GitCredentials | undefined) =>
  credentials ? [credentials.password, basicOf(credentials)] : [];

const basicOf = (c: GitCredentials) => Buffer.from(`${c.username}:${c.password}`).toString('base64');
