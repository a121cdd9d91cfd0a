// Pure: what of an .npmrc the runner may use and say. Registries go into the
// dependency cache's key; credentials go nowhere: not into the key, the log,
// the termination message, a status or an Event.

/** Keys whose values are credentials (npm's nerf-darted `//host/:_authToken=` included). */
const CREDENTIAL_KEY = /(^|:)(_authToken|_auth|_password)$/;

interface Entry {
  key: string;
  value: string;
}

/** `key=value` lines, comments and blank lines left out; quotes around a value removed. */
function entries(text: string): Entry[] {
  const out: Entry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const value = line.slice(eq + 1).trim().replace(/^(["'])(.*)\1$/, '$2');
    out.push({ key: line.slice(0, eq).trim(), value });
  }
  return out;
}

/** `registry=` and `@scope:registry=` lines, sorted: what decides where packages come from. */
export function registriesOf(text: string): string[] {
  return entries(text)
    .filter((e) => e.key === 'registry' || /^@[^:]+:registry$/.test(e.key))
    .map((e) => `${e.key}=${e.value}`)
    .sort();
}

/** The .npmrc's keys that hold credentials (`_authToken`, `_auth`, `_password`…), in file order. */
export const credentialKeys = (text: string) =>
  entries(text).filter((e) => CREDENTIAL_KEY.test(e.key)).map((e) => e.key);

/**
 * The credential values of an .npmrc, to be masked wherever text may show
 * them; a `${VAR}` value (npm expands it from the environment) stands for
 * that variable's value.
 */
export function credentialValues(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return entries(text)
    .filter((e) => CREDENTIAL_KEY.test(e.key))
    .map((e) => e.value.replace(/\$\{([^}]+)\}/g, (_all, name: string) => env[name] ?? ''))
    .filter((value) => value.length >= 4);
}

/**
 * Text with every given secret, every `user:password@` of a URL and every
 * bearer token replaced by `***`.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) masked = masked.replaceAll(secret, '***');
  return masked
    .replace(/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***@')
    .replace(/(bearer\s+)[^\s"']+/gi, '$1***')
    .replace(/(_authToken|_auth|_password)(\s*=\s*)\S+/g, '$1$2***');
}
