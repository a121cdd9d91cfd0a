// What `npm run release` does, decided without touching anything: its command
// line, the references it publishes, the podman and helm arguments, whether a
// version may be published, and the chart's files as released. hack/release.ts
// runs it.
import { type Document, isScalar, parseDocument } from 'yaml';

export const USAGE = 'usage: npm run release -- --registry <host[:port][/path]> --version <semver> ' +
  '[--base-image <ref>] [--platform linux/amd64,linux/arm64] [--plain-http] [--overwrite] [--source <dir>]';

export interface ReleaseOptions {
  /** host[:port][/path], without a scheme: where the image and the chart go. */
  registry: string;
  version: string;
  /** The Dockerfile's BASE_IMAGE; unset: the Dockerfile's own default (Playwright's published image). */
  baseImage?: string;
  /** Empty: the building machine's own platform. */
  platforms: string[];
  plainHttp: boolean;
  overwrite: boolean;
  /** The tree to release: its Dockerfile and build context, and its charts/fleetwright. */
  source: string;
}

/** semver.org's regular expression for a version, without a leading v. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** A registry host with an optional port and a lower-case repository path, as image references allow. */
const REGISTRY = /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/;

/** The release's options from its command line; throws with the usage line on anything wrong. */
export function parseReleaseArgs(argv: string[], defaultSource: string): ReleaseOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valued = ['--registry', '--version', '--base-image', '--platform', '--source'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [name = '', inline] = arg.split(/=(.*)/s, 2);
    if (valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new Error(`${name} needs a value\n${USAGE}`);
      values.set(name, value);
    } else if (arg === '--plain-http' || arg === '--overwrite') {
      flags.add(arg);
    } else {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  const registry = values.get('--registry');
  const version = values.get('--version');
  if (!registry || !version) throw new Error(`--registry and --version are required\n${USAGE}`);
  if (!REGISTRY.test(registry)) {
    throw new Error(`--registry ${registry} is not host[:port][/path] (no scheme, no trailing slash, a lower-case path)`);
  }
  if (!SEMVER.test(version)) throw new Error(`--version ${version} is not a semantic version such as 1.2.3 (no leading v)`);
  const platforms = values.get('--platform')?.split(',').map((p) => p.trim()) ?? [];
  const wrong = platforms.find((p) => !PLATFORM.test(p));
  if (wrong !== undefined) throw new Error(`--platform ${wrong} is not os/arch[/variant], such as linux/arm64`);
  return {
    registry,
    version,
    baseImage: values.get('--base-image'),
    platforms,
    plainHttp: flags.has('--plain-http'),
    overwrite: flags.has('--overwrite'),
    source: values.get('--source') ?? defaultSource,
  };
}

export const imageRepository = (o: Pick<ReleaseOptions, 'registry'>) => `${o.registry}/fleetwright`;
export const imageRef = (o: Pick<ReleaseOptions, 'registry' | 'version'>) => `${imageRepository(o)}:${o.version}`;
/** Where `helm push` puts the chart; the chart itself is <this>/fleetwright. */
export const chartRepository = (o: Pick<ReleaseOptions, 'registry'>) => `oci://${o.registry}/charts`;
export const chartRef = (o: Pick<ReleaseOptions, 'registry'>) => `${chartRepository(o)}/fleetwright`;

/** What a registry already holds of this version. */
export interface Published {
  imageTag: boolean;
  chart: boolean;
}

/** Why this release must not go ahead, if it must not: a published version is replaced only when asked. */
export function refusal(o: ReleaseOptions, published: Published): string | undefined {
  if (o.overwrite || (!published.imageTag && !published.chart)) return undefined;
  const what = [published.chart ? `the chart ${chartRef(o)}:${o.version}` : '', published.imageTag ? `the image ${imageRef(o)}` : '']
    .filter(Boolean).join(' and ');
  return `version ${o.version} is already published in ${o.registry} (${what}): choose another version, ` +
    'or pass --overwrite to replace it';
}

/**
 * `podman build` of the release's image. Several platforms make a manifest
 * list (pushed with `podman manifest push --all`); one or none, an image.
 */
export function buildArgs(o: ReleaseOptions, secretArgs: string[]): string[] {
  const target = o.platforms.length > 1 ? ['--manifest', imageRef(o)] : ['--tag', imageRef(o)];
  return [
    // The label also gives a release an image ID of its own, apart from the same tree's local build
    // (hack/lib/images.ts): once, the local node's containerd 1.6 refused pods of the imported local build as
    // not present (ErrImageNeverPull) while a release pulled from the registry had its ID, until restarted.
    'build', '--network=host', '--label', `org.opencontainers.image.version=${o.version}`,
    ...(o.baseImage ? ['--build-arg', `BASE_IMAGE=${o.baseImage}`] : []),
    ...(o.platforms.length > 0 ? ['--platform', o.platforms.join(',')] : []),
    ...secretArgs, ...target, '--file', `${o.source}/Dockerfile`, o.source,
  ];
}

/** `podman push` (or `manifest push --all`) of the built image to its tag; the pushed digest goes to `digestFile`. */
export function pushArgs(o: ReleaseOptions, digestFile: string): string[] {
  const command = o.platforms.length > 1 ? ['manifest', 'push', '--all'] : ['push'];
  const tls = o.plainHttp ? ['--tls-verify=false'] : [];
  return [...command, ...tls, '--digestfile', digestFile, imageRef(o), `docker://${imageRef(o)}`];
}

/** `podman search --list-tags` of the image repository: the tags published so far (a missing repository is none). */
export const listTagsArgs = (o: ReleaseOptions) =>
  ['search', '--list-tags', '--format=json', '--limit=100000', ...(o.plainHttp ? ['--tls-verify=false'] : []), imageRepository(o)];

/** The tags in `podman search --list-tags --format=json` output. */
export function tagsOf(searchJson: string): string[] {
  const entries = JSON.parse(searchJson) as { Tags?: string[] }[];
  return entries.flatMap((e) => e.Tags ?? []);
}

/** podman's words for a repository the registry does not know (so no tag of it is published). */
export const noSuchRepository = (stderr: string) => /\b404\b|NAME_UNKNOWN|name unknown/i.test(stderr);

/** helm's words for a chart version the registry does not hold. */
export const noSuchChart = (stderr: string) => /: not found\b|\bnot found\s*$/im.test(stderr);

/** Chart.yaml as released: `version` and `appVersion` are the release's; comments and the rest as they were. */
export function releasedChartYaml(text: string, version: string): string {
  const doc = parseDocument(text);
  setKeepingStyle(doc, ['version'], version);
  setKeepingStyle(doc, ['appVersion'], version);
  return doc.toString();
}

/** values.yaml as released: the image is the one pushed with the chart, pinned by digest. */
export function releasedValues(text: string, repository: string, digest: string): string {
  const doc = parseDocument(text);
  setKeepingStyle(doc, ['image', 'repository'], repository);
  setKeepingStyle(doc, ['image', 'digest'], digest);
  return doc.toString();
}

/** Sets a scalar, keeping its quoting (appVersion: "0.1.0" stays quoted). */
function setKeepingStyle(doc: Document, path: string[], value: string): void {
  const node = doc.getIn(path, true);
  if (isScalar(node)) node.value = value;
  else doc.setIn(path, value);
}

/** The digest `helm push` prints (`Digest: sha256:…`). */
export function pushedChartDigest(output: string): string {
  const digest = /^Digest:\s*(sha256:[0-9a-f]{64})\s*$/m.exec(output)?.[1];
  if (!digest) throw new Error(`helm push printed no digest:\n${output}`);
  return digest;
}

/** What a release published: the one line `npm run release` prints on stdout. */
export interface ReleaseRecord {
  version: string;
  image: string;
  digest: string;
  chart: string;
  chartDigest: string;
}

export const releaseRecord = (o: ReleaseOptions, digest: string, chartDigest: string): ReleaseRecord =>
  ({ version: o.version, image: imageRef(o), digest, chart: chartRef(o), chartDigest });
