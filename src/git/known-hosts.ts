// Which host keys a known_hosts file (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT)
// trusts for one host, as OpenSSH's client decides it: plain and hashed
// (`|1|salt|hash`, what `ssh-keyscan -H` writes) host patterns, `[host]:port`
// for other ports than 22, `*`/`?` wildcards, `!` negation and `@revoked`.
// Written here because ssh2 leaves host key checking to its caller and no
// maintained npm package parses the format; `@cert-authority` lines are not
// honoured (ssh2 has no host certificates), so such a file trusts nothing.
import { createHmac } from 'node:crypto';

export interface KnownHostKey {
  /** ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, … */
  type: string;
  /** The key blob, base64, as the server sends it. */
  key: string;
}

export interface HostKeys {
  trusted: KnownHostKey[];
  revoked: KnownHostKey[];
}

/** The keys of `known_hosts` that apply to `host` on `port`. */
export function hostKeysFor(knownHosts: string, host: string, port: number): HostKeys {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const found: HostKeys = { trusted: [], revoked: [] };
  for (const raw of knownHosts.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) continue;
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key || marker === '@cert-authority') continue;
    if (!patternsMatch(patterns, name)) continue;
    (marker === '@revoked' ? found.revoked : found.trusted).push({ type, key });
  }
  return found;
}

/** A comma-separated pattern list: a match of any pattern, unless a negated one matches. */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` */
function hashedMatch(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const source = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`).test(name.toLowerCase());
}

/**
 * The host key algorithms to offer for keys of these types, in the order
 * ssh2 prefers them: only what known_hosts can check, so that a server with
 * several host keys shows the one the file holds (as OpenSSH's client does).
 */
export function hostKeyAlgorithmsFor(keys: readonly KnownHostKey[]): string[] {
  const types = new Set(keys.map((k) => k.type));
  return [
    'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
    ...(types.has('ssh-rsa') ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : []),
  ].filter((algorithm) => types.has(algorithm) || algorithm.startsWith('rsa-sha2-'));
}
