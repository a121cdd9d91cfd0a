// Fails when package.json, package-lock.json, the chart and the CHANGELOG's
// newest released section disagree on the version, and, with --tag vX.Y.Z
// (the release workflow passes the tag it runs for), when the tag names
// another version.
import { parseArgs } from 'node:util';
import { repoRoot } from './lib/paths.ts';
import { readVersionFields, versionDisagreements } from './lib/versions.ts';

const { values } = parseArgs({ options: { tag: { type: 'string' } } });
const fields = readVersionFields(repoRoot);
const problems = versionDisagreements(fields, values.tag);
if (problems.length > 0) {
  console.error(`the versions disagree:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
const tag = values.tag ? ` and tag ${values.tag}` : '';
console.log(`package.json, package-lock.json, Chart.yaml, CHANGELOG.md${tag} agree on ${fields.packageJson}`);
