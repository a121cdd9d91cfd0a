// The one version of a release (hack/lib/versions.ts) and its CLI, which CI
// runs on the repository and the release workflow with the tag it releases.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import { readVersionFields, versionDisagreements, type VersionFields } from '../../hack/lib/versions.ts';

const changelog = (...headings: string[]) =>
  ['# Changelog', '', ...headings.flatMap((h) => [h, '', '- a change', ''])].join('\n');

const agreeing = (version: string, log = changelog('## [Unreleased]', `## [${version}] - 2026-12-07`, '## [0.1.0] - 2026-12-05')): VersionFields => ({
  packageJson: version,
  packageLock: { version, rootPackage: version },
  chart: { version, appVersion: version },
  changelog: log,
});

describe('versionDisagreements', () => {
  it('accepts one version everywhere, with an Unreleased section above the newest release or without one', () => {
    expect(versionDisagreements(agreeing('0.2.0'))).toEqual([]);
    expect(versionDisagreements(agreeing('0.2.0', changelog('## [0.2.0] - 2026-12-07')))).toEqual([]);
    expect(versionDisagreements(agreeing('0.2.0'), 'v0.2.0')).toEqual([]);
  });

  it('names the file, the field and the fix of each disagreement', () => {
    const fields = agreeing('0.2.0');
    fields.packageLock.rootPackage = '0.1.0';
    fields.chart.appVersion = '0.1.0';
    expect(versionDisagreements(fields)).toEqual([
      'package-lock.json: packages[""].version is 0.1.0, package.json\'s version is 0.2.0: set it to 0.2.0',
      'charts/fleetwright/Chart.yaml: appVersion is 0.1.0, package.json\'s version is 0.2.0: set it to 0.2.0',
    ]);
  });

  it('refuses a CHANGELOG whose newest release is another version, or has no date', () => {
    const stale = versionDisagreements(agreeing('0.2.0', changelog('## [Unreleased]', '## [0.1.0] - 2026-12-05')));
    expect(stale).toEqual([
      'CHANGELOG.md: the newest released section is [0.1.0], package.json\'s version is 0.2.0: ' +
      'rename "## [Unreleased]" to "## [0.2.0] - <date>" and put an empty "## [Unreleased]" above it',
    ]);
    expect(versionDisagreements(agreeing('0.2.0', changelog('## [Unreleased]')))[0])
      .toMatch(/^CHANGELOG.md: no released section/);
    expect(versionDisagreements(agreeing('0.2.0', changelog('## [0.2.0]', '## [0.1.0] - 2026-12-05'))))
      .toEqual(['CHANGELOG.md: section [0.2.0] has no date: write its heading as "## [0.2.0] - YYYY-MM-DD"']);
    expect(versionDisagreements(agreeing('0.2.0', changelog('## [Unreleased]', '## [Unreleased]', '## [0.2.0] - 2026-12-07'))))
      .toEqual(['CHANGELOG.md: 2 "## [Unreleased]" sections above [0.2.0]: keep one']);
  });

  it('refuses a tag that names another version', () => {
    expect(versionDisagreements(agreeing('0.2.0'), 'v0.2.1')).toEqual([
      'tag v0.2.1 does not name package.json\'s version 0.2.0: tag v0.2.0, or cut 0.2.1 first (package.json, Chart.yaml, CHANGELOG.md)',
    ]);
    expect(versionDisagreements(agreeing('0.2.0'), '0.2.0')).toHaveLength(1);
  });
});

describe('the repository', () => {
  const checkVersions = (...args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'hack', 'check-versions.ts'), ...args], { encoding: 'utf8' });

  it('has one version in package.json, package-lock.json, Chart.yaml and CHANGELOG.md', () => {
    expect(versionDisagreements(readVersionFields(repoRoot))).toEqual([]);
  });

  it('passes hack/check-versions.ts with the tag of its version, and fails it with another tag', () => {
    const { packageJson: version } = readVersionFields(repoRoot);
    const ok = checkVersions('--tag', `v${version}`);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const wrong = checkVersions('--tag', 'v99.0.0');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`tag v99.0.0 does not name package.json's version ${version}`);
  });
});
