// One version for a release: package.json's, which package-lock.json,
// the chart (version and appVersion, so the chart installs its own image) and
// the CHANGELOG's newest released section repeat, and the release tag names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** The version fields as the repository's files hold them. */
export interface VersionFields {
  packageJson: string;
  packageLock: { version: string; rootPackage: string | undefined };
  chart: { version: string; appVersion: string };
  changelog: string;
}

interface ChangelogSection {
  name: string;
  date: string | undefined;
}

/** `## [x.y.z] - 2026-12-07` and `## [Unreleased]` headings, newest first. */
function changelogSections(changelog: string): ChangelogSection[] {
  return [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\S+))?\s*$/gm)]
    .map(([, name, date]) => ({ name: name as string, date }));
}

/**
 * Every way the files (and the tag, when given) disagree with package.json's
 * version, each naming the file and the fix; empty when they agree.
 */
export function versionDisagreements(fields: VersionFields, tag?: string): string[] {
  const version = fields.packageJson;
  const problems: string[] = [];
  const differs = (file: string, field: string, value: string | undefined) => {
    if (value !== version) problems.push(`${file}: ${field} is ${value ?? 'missing'}, package.json's version is ${version}: set it to ${version}`);
  };
  differs('package-lock.json', 'version', fields.packageLock.version);
  differs('package-lock.json', 'packages[""].version', fields.packageLock.rootPackage);
  differs('charts/fleetwright/Chart.yaml', 'version', fields.chart.version);
  differs('charts/fleetwright/Chart.yaml', 'appVersion', fields.chart.appVersion);

  const sections = changelogSections(fields.changelog);
  const released = sections.findIndex((s) => s.name !== 'Unreleased');
  const newest = sections[released];
  const cut = `rename "## [Unreleased]" to "## [${version}] - <date>" and put an empty "## [Unreleased]" above it`;
  if (!newest) {
    problems.push(`CHANGELOG.md: no released section "## [x.y.z] - <date>", package.json's version is ${version}: ${cut}`);
  } else if (newest.name !== version) {
    problems.push(`CHANGELOG.md: the newest released section is [${newest.name}], package.json's version is ${version}: ${cut}`);
  } else if (!/^\d{4}-\d{2}-\d{2}$/.test(newest.date ?? '')) {
    problems.push(`CHANGELOG.md: section [${version}] has no date: write its heading as "## [${version}] - YYYY-MM-DD"`);
  }
  if (released > 1) {
    problems.push(`CHANGELOG.md: ${released} "## [Unreleased]" sections above [${newest?.name}]: keep one`);
  }

  if (tag !== undefined && tag !== `v${version}`) {
    problems.push(`tag ${tag} does not name package.json's version ${version}: tag v${version}, or cut ${tag.replace(/^v/, '')} first (package.json, Chart.yaml, CHANGELOG.md)`);
  }
  return problems;
}

/** The version fields of the repository at `root`. */
export function readVersionFields(root: string): VersionFields {
  const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));
  const lock = json('package-lock.json') as { version: string; packages?: Record<string, { version?: string }> };
  const chart = parseYaml(readFileSync(join(root, 'charts', 'fleetwright', 'Chart.yaml'), 'utf8')) as {
    version: string;
    appVersion: string;
  };
  return {
    packageJson: (json('package.json') as { version: string }).version,
    packageLock: { version: lock.version, rootPackage: lock.packages?.['']?.version },
    chart: { version: String(chart.version), appVersion: String(chart.appVersion) },
    changelog: readFileSync(join(root, 'CHANGELOG.md'), 'utf8'),
  };
}
