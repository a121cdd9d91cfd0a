// Pure: the dependency cache's key. Two suites share an installed tree only
// when it would come out the same: the same lockfile, from the same
// registries, for the same Node major, platform and installer (native
// modules and lifecycle scripts build for those). Credentials are not part
// of it: another token for the same registry installs the same files.
import { createHash } from 'node:crypto';
import type { Installer } from '../suite/dependencies.ts';
import { registriesOf } from '../suite/npmrc.ts';

export interface CacheKeyInput {
  installer: Installer;
  lockfile: Buffer;
  /** The .npmrc texts in effect (the suite's, the Secret's); only their registries count. */
  npmrcs: readonly string[];
  /** NPM_CONFIG_REGISTRY of the runner's environment, when set. */
  envRegistry?: string;
  /** process.version, e.g. v24.21.0: only the major counts. */
  nodeVersion: string;
  platform: string;
  arch: string;
}

/** `npm-node24-linux-x64-<sha256>`: readable where it matters, and a plain storage key segment. */
export function dependencyCacheKey(input: CacheKeyInput): string {
  const major = /^v?(\d+)/.exec(input.nodeVersion)?.[1] ?? '0';
  const registries = [...new Set(input.npmrcs.flatMap(registriesOf))].sort();
  if (input.envRegistry) registries.push(`env:registry=${input.envRegistry}`);
  const hash = createHash('sha256')
    .update(createHash('sha256').update(input.lockfile).digest('hex'))
    .update('\0')
    .update(registries.join('\n'))
    .digest('hex');
  return `${input.installer}-node${major}-${input.platform}-${input.arch}-${hash}`;
}
