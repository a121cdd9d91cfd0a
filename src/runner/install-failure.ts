// Pure: why an install failed, in words a suite's author can act on, from
// what the installer printed. The installer's own last lines follow in the
// message; this only leads it.

const CAUSES: readonly { test: RegExp; why: string }[] = [
  {
    test: /can only install packages when your package\.json and (package-lock\.json|npm-shrinkwrap\.json)|ERR_PNPM_OUTDATED_LOCKFILE|lockfile needs to be updated|lockfile would have been modified/i,
    why: 'lockfile out of date with package.json: run the install locally (`npm install`) and commit the lockfile',
  },
  {
    test: /\bE404\b|404 Not Found|ERR_PNPM_FETCH_404/,
    why: 'a package of the lockfile is not in the registry: check its name and version, and the registry in .npmrc',
  },
  {
    test: /\b(E401|E403|ENEEDAUTH)\b|ERR_PNPM_FETCH_40[13]/,
    why: 'the registry refused the credentials: check the token in the .npmrc Secret (spec.dependencies.npmrcSecretRef)',
  },
  {
    test: /\b(ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNRESET|ENETUNREACH|EHOSTUNREACH)\b/,
    why: 'the registry is unreachable from the runner pod: check the registry in .npmrc and the pod\'s network access to it',
  },
  {
    test: /\bEINTEGRITY\b/,
    why: 'a downloaded package does not match the lockfile\'s integrity hash: check the registry, or regenerate the lockfile',
  },
];

/** The leading words of a DependenciesFailed message. */
export function installFailureCause(output: string, command: readonly string[], exitCode: number | null): string {
  const known = CAUSES.find((c) => c.test.test(output));
  if (known) return known.why;
  return `\`${command.join(' ')}\` exited with ${exitCode === null ? 'a signal' : `code ${exitCode}`}`;
}

/** The last `lines` non-empty lines of `output`, without stack frames (npm prints its own on a network error). */
export function lastLines(output: string, lines: number): string {
  return output.split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !/^(npm error|npm ERR!)?\s+at /.test(line))
    .slice(-lines)
    .join('\n');
}
