// What the suite installs: the tree under test and the release before it,
// published to the local registry by `npm run release` as CI and users
// publish them, on the local browser base.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureBrowserBase } from '../../hack/lib/images.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { REGISTRY_ADDRESS } from '../../hack/lib/registry.ts';
import { chartRef, imageRef, type ReleaseRecord } from '../../hack/lib/release-plan.ts';
import { ensureTool } from '../../hack/lib/tools.ts';

/**
 * The release the upgrade test starts from: CHANGELOG.md's 0.1.0, never
 * tagged, is the tree as it stood before issue 22 (commit 88ada68 says so),
 * whose last commit is this one. Move it to the last release when cutting one.
 */
export const PREVIOUS_RELEASE = { version: '0.1.0', commit: '8609d57d22b453dab538f1c20f382b4b8b52ec37' };

export interface Releases {
  current: ReleaseRecord;
  previous: ReleaseRecord;
}

type Log = (line: string) => void;

const registry = REGISTRY_ADDRESS;

/** `npm run release` in a process of its own, as CI runs it; its progress on our stderr, its record parsed. */
function runRelease(version: string, base: string, extra: string[]): ReleaseRecord {
  const args = ['--registry', registry, '--version', version, '--plain-http', '--base-image', base, ...extra];
  const result = spawnSync(process.execPath, [join(repoRoot, 'hack', 'release.ts'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`npm run release -- ${args.join(' ')} failed (exit ${result.status}); its output is above`);
  return JSON.parse(result.stdout) as ReleaseRecord;
}

/** A release the registry already holds, read back from its chart; undefined when it holds none of that version. */
function releaseInRegistry(version: string): ReleaseRecord | undefined {
  const show = (what: string) =>
    spawnSync(ensureTool('helm'), ['show', what, chartRef({ registry }), '--version', version, '--plain-http'], { encoding: 'utf8' });
  const values = show('values');
  if (values.status !== 0) return undefined;
  const digest = (parse(values.stdout) as { image: { digest: string } }).image.digest;
  const chartDigest = /^Digest:\s*(sha256:[0-9a-f]{64})/m.exec(values.stderr)?.[1] ?? '';
  return { version, image: imageRef({ registry, version }), digest, chart: chartRef({ registry }), chartDigest };
}

/** The previous release, built from its commit's tree by this checkout's release script, once per registry. */
function ensurePreviousRelease(base: string, log: Log): ReleaseRecord {
  const { version, commit } = PREVIOUS_RELEASE;
  const published = releaseInRegistry(version);
  if (published) {
    log(`release ${version} is in the registry already (${published.digest})`);
    return published;
  }
  if (spawnSync('git', ['-C', repoRoot, 'cat-file', '-e', `${commit}^{commit}`]).status !== 0) {
    throw new Error(
      `commit ${commit} (release ${version}) is not in this clone: fetch the history (git fetch --unshallow, or ` +
      'actions/checkout with fetch-depth: 0)',
    );
  }
  const source = mkdtempSync(join(tmpdir(), `fleetwright-${version}-`));
  try {
    execFileSync('sh', ['-c', `git -C "${repoRoot}" archive ${commit} | tar -x -C "${source}"`]);
    const started = Date.now();
    // --overwrite: an image tag left by a release that stopped before its chart went out is replaced.
    const record = runRelease(version, base, ['--source', source, '--overwrite']);
    log(`released ${version} from ${commit.slice(0, 7)} in ${Math.round((Date.now() - started) / 1000)} s`);
    return record;
  } finally {
    rmSync(source, { recursive: true, force: true });
  }
}

/**
 * The tree's version (package.json's) released from this checkout, and the
 * previous release. The tree's release is always replaced (--overwrite): its
 * files change between runs while its version does not, and podman's layer
 * cache and the registry's blobs make an unchanged tree's build and push quick.
 */
export function publishReleases(log: Log): Releases {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  if (version === PREVIOUS_RELEASE.version) {
    throw new Error(
      `package.json's version ${version} is the previous release's (PREVIOUS_RELEASE in test/e2e-helm/published.ts): ` +
      'the suite upgrades from it to this tree, which must carry a newer version. Bump package.json, ' +
      'charts/fleetwright/Chart.yaml and the CHANGELOG.',
    );
  }
  const base = ensureBrowserBase(log);
  const previous = ensurePreviousRelease(base, log);
  const started = Date.now();
  const current = runRelease(version, base, ['--overwrite']);
  log(`released this tree as ${version} in ${Math.round((Date.now() - started) / 1000)} s (${current.digest})`);
  return { current, previous };
}
