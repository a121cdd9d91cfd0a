// Publishes a version of Fleetwright to an OCI registry, the same way here and
// in CI: the image from the one Dockerfile (podman), tagged with the version
// and pushed, and the chart with that version, the image pinned by the digest
// the push recorded (helm push). Prints one JSON object (ReleaseRecord) on
// stdout; progress goes to stderr. A version already in the registry is
// refused unless --overwrite. Registries with credentials need `podman login`
// and `helm registry login` first.
//
//   npm run release -- --registry <host[:port][/path]> --version <semver> [--base-image <ref>]
//     [--platform linux/amd64,linux/arm64] [--plain-http] [--overwrite] [--source <dir>]
//
// --source releases another tree (its Dockerfile and charts/fleetwright), such
// as an earlier commit's `git archive`; the default is this checkout.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npmCaSecret } from './lib/images.ts';
import { repoRoot } from './lib/paths.ts';
import { podmanShowingProgress, tryPodman } from './lib/podman.ts';
import {
  buildArgs,
  chartRef,
  chartRepository,
  imageRef,
  imageRepository,
  listTagsArgs,
  noSuchChart,
  noSuchRepository,
  parseReleaseArgs,
  type Published,
  pushArgs,
  pushedChartDigest,
  refusal,
  releasedChartYaml,
  releasedValues,
  releaseRecord,
  type ReleaseOptions,
  type ReleaseRecord,
  tagsOf,
} from './lib/release-plan.ts';
import { ensureTool } from './lib/tools.ts';

type Log = (line: string) => void;

function helm(args: string[]): { status: number; output: string } {
  const result = spawnSync(ensureTool('helm'), args, { encoding: 'utf8' });
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

const plainHttp = (o: ReleaseOptions) => (o.plainHttp ? ['--plain-http'] : []);

/** What the registry holds of this version; throws when it cannot tell (unreachable, credentials refused). */
function published(o: ReleaseOptions): Published {
  const tags = tryPodman(...listTagsArgs(o));
  if (tags.status !== 0 && !noSuchRepository(tags.stderr)) {
    throw new Error(`cannot list the tags of ${imageRepository(o)}: ${tags.stderr.trim()}`);
  }
  const chart = helm(['show', 'chart', chartRef(o), '--version', o.version, ...plainHttp(o)]);
  if (chart.status !== 0 && !noSuchChart(chart.output)) {
    throw new Error(`cannot look up ${chartRef(o)}:${o.version}: ${chart.output.trim()}`);
  }
  return { imageTag: tags.status === 0 && tagsOf(tags.stdout).includes(o.version), chart: chart.status === 0 };
}

/** Builds and pushes the image (or manifest list); returns the digest the registry has for it. */
function buildAndPushImage(o: ReleaseOptions, work: string, log: Log): string {
  if (o.platforms.length > 1 && tryPodman('manifest', 'exists', imageRef(o)).status === 0) {
    // `build --manifest` adds to a list of that name: one left from an earlier build would keep its images.
    podmanShowingProgress('manifest', 'rm', imageRef(o));
  }
  let started = Date.now();
  log(`building ${imageRef(o)} from ${join(o.source, 'Dockerfile')} on ${o.baseImage ?? 'the Dockerfile\'s base image'}`);
  podmanShowingProgress(...buildArgs(o, npmCaSecret()));
  log(`built in ${seconds(started)}`);
  started = Date.now();
  const digestFile = join(work, 'digest');
  podmanShowingProgress(...pushArgs(o, digestFile));
  const digest = readFileSync(digestFile, 'utf8').trim();
  log(`pushed ${imageRef(o)} (${digest}) in ${seconds(started)}`);
  return digest;
}

/** Packages a copy of the source's chart with the version and the image's digest, and pushes it; returns its digest. */
function packageAndPushChart(o: ReleaseOptions, digest: string, work: string, log: Log): string {
  const chart = join(work, 'fleetwright');
  cpSync(join(o.source, 'charts', 'fleetwright'), chart, { recursive: true });
  const edit = (file: string, change: (text: string) => string) =>
    writeFileSync(join(chart, file), change(readFileSync(join(chart, file), 'utf8')));
  edit('Chart.yaml', (text) => releasedChartYaml(text, o.version));
  edit('values.yaml', (text) => releasedValues(text, imageRepository(o), digest));
  const packaged = helm(['package', chart, '--destination', work]);
  if (packaged.status !== 0) throw new Error(`helm package of the chart failed:\n${packaged.output}`);
  const pushed = helm(['push', join(work, `fleetwright-${o.version}.tgz`), chartRepository(o), ...plainHttp(o)]);
  if (pushed.status !== 0) throw new Error(`helm push to ${chartRepository(o)} failed:\n${pushed.output}`);
  const chartDigest = pushedChartDigest(pushed.output);
  log(`pushed ${chartRef(o)}:${o.version} (${chartDigest})`);
  return chartDigest;
}

const seconds = (since: number) => `${Math.round((Date.now() - since) / 1000)} s`;

export function release(o: ReleaseOptions, log: Log): ReleaseRecord {
  for (const file of ['Dockerfile', join('charts', 'fleetwright', 'Chart.yaml')]) {
    if (!existsSync(join(o.source, file))) throw new Error(`${join(o.source, file)} is missing: --source must be a Fleetwright tree`);
  }
  const refused = refusal(o, published(o));
  if (refused) throw new Error(refused);
  const work = mkdtempSync(join(tmpdir(), 'fleetwright-release-'));
  try {
    const digest = buildAndPushImage(o, work, log);
    return releaseRecord(o, digest, packageAndPushChart(o, digest, work, log));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  let options: ReleaseOptions;
  try {
    options = parseReleaseArgs(process.argv.slice(2), repoRoot);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  }
  try {
    console.log(JSON.stringify(release(options, (line) => console.error(`[release] ${line}`))));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
