// What went wrong with a git source, said so that the user knows what to fix:
// the repository (without credentials), the revision, and the field or
// Secret to change. The same text goes into the run's condition, its Events
// and a shard's message; it never holds a credential.
import { SshError } from './ssh.ts';
import { redact, sshAddressOf, withoutCredentials } from './url.ts';

export interface SourceContext {
  url: string;
  /** The revision asked for; unset: the remote's HEAD. */
  revision?: string;
  /** The Secret the credentials came from. */
  secret?: string;
  /** Strings to blot out of anything quoted from the server or the network. */
  secrets: readonly string[];
}

/** A git source problem whose message is ready for the user. */
export class GitSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitSourceError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH',
]);
const TLS_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** `repository https://host/repo.git at revision main` */
export const describeSource = (ctx: SourceContext) =>
  `repository ${withoutCredentials(ctx.url)} at ${ctx.revision ? `revision ${ctx.revision}` : 'its HEAD'}`;

/** Turns what isomorphic-git or the network threw into a GitSourceError that names the fix. */
export function explain(err: unknown, ctx: SourceContext): GitSourceError {
  if (err instanceof GitSourceError) return err;
  const what = describeSource(ctx);
  const e = err as {
    code?: string;
    name?: string;
    message?: string;
    data?: { statusCode?: number; statusMessage?: string };
  };
  let message: string;
  if (err instanceof SshError) {
    message = `${what}: ${sshAdvice(err, ctx)}`;
  } else if (e.code === 'HttpError' && (e.data?.statusCode === 401 || e.data?.statusCode === 403)) {
    const status = `HTTP ${e.data.statusCode}`;
    message = ctx.secret
      ? `${what}: the server refused the credentials of Secret ${ctx.secret} (${status}): fix its token, or its ` +
      'username and password, or give them access to the repository'
      : `${what}: the server asks for credentials (${status}): create a Secret with a token and name it in ` +
        'spec.source.git.secretRef';
  } else if (e.code === 'HttpError' && e.data?.statusCode === 404) {
    message = `${what}: no repository at this URL (HTTP 404): fix spec.source.git.url` +
      (ctx.secret ? '' : ' (a private repository may answer 404 to a client without credentials: set secretRef)');
  } else if (e.code === 'HttpError') {
    message = `${what}: the server answered HTTP ${e.data?.statusCode ?? '?'} ${e.data?.statusMessage ?? ''}`.trimEnd() +
      ': check that the URL is a git repository and the server is up';
  } else if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    message = `${what}: ${hostOf(ctx.url)} did not answer in time: check the server and the network path to it`;
  } else if (e.code !== undefined && NETWORK_CODES.has(e.code)) {
    message = `${what}: cannot reach ${hostOf(ctx.url)} (${e.code}: ${e.message ?? ''}): fix the host in ` +
      'spec.source.git.url, or the network path from the cluster to it';
  } else if (e.code !== undefined && TLS_CODES.has(e.code)) {
    message = `${what}: the TLS certificate of ${hostOf(ctx.url)} is not trusted (${e.code}): give the server a ` +
      'certificate from a public CA, or use its http:// URL on a trusted network';
  } else if (e.code === 'SmartHttpError' || e.code === 'UnknownTransportError' || e.code === 'UrlParseError') {
    message = `${what}: the server does not speak git's smart HTTP (${e.message ?? ''}): fix spec.source.git.url`;
  } else {
    message = `${what}: ${e.message ?? String(err)}`;
  }
  // No cause: what the network or the server threw may quote the credentials.
  return new GitSourceError(redact(message, ctx.secrets));
}

function sshAdvice(err: SshError, ctx: SourceContext): string {
  const secret = `Secret ${ctx.secret ?? '(spec.source.git.secretRef)'}`;
  switch (err.reason) {
    case 'host-key-unknown':
      return `${err.message} in key known_hosts of ${secret}: add the server's host key (ssh-keyscan -p <port> <host>)`;
    case 'host-key-mismatch':
      return `${err.message} in key known_hosts of ${secret}: if the server's key really changed, replace it ` +
        'there; otherwise something else answers at this address';
    case 'key':
      return `the key in key identity of ${secret} cannot be used (${err.message}): give a private key in OpenSSH ` +
        'or PEM form, and its passphrase in key password if it is encrypted';
    case 'authentication':
      return `the server refused the key in key identity of ${secret} (${err.message}): add its public key to ` +
        'the repository\'s deploy keys, or fix the key or its passphrase (key password)';
    case 'command':
      return `the server could not serve the repository (${err.message}): fix the path in spec.source.git.url`;
  }
}

function hostOf(url: string): string {
  const ssh = sshAddressOf(url);
  if (ssh) return `${ssh.host}:${ssh.port}`;
  try {
    return new URL(url).host;
  } catch {
    return withoutCredentials(url);
  }
}
