// The project's image, built here with podman from a debootstrapped Debian
// base (no registry, no Docker engine) and imported into the node's containerd.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEFAULT_IMAGE } from '../../src/contracts/image.ts';
import { ctrOn, importImage, inEveryNode, removeImage, runningNodes } from './node.ts';
import { podman, podmanHas, podmanWithInput } from './podman.ts';
import { cacheDir, repoRoot } from './paths.ts';

export const IMAGE_REPOSITORY = 'localhost/fleetwright/fleetwright';
const VARIANT_REPOSITORY = 'localhost/fleetwright/playwright-variant';
const SUITE_REPOSITORY = 'localhost/fleetwright/suite';
/** The tag the operator uses by default for browser and runner pods; moves to each new local build. */
export const DEV_IMAGE = DEFAULT_IMAGE;
const DEBIAN_IMAGE = 'localhost/fleetwright/debian:bookworm';
const NPM_VERSION = '11.21.2';

type Log = (line: string) => void;

const sha = (...parts: (string | Buffer)[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 12);
};

/** The Debian mirror this machine's apt uses, so debootstrap reaches what apt reaches. */
function debianMirror(): string {
  const sources = ['/etc/apt/sources.list.d', '/etc/apt']
    .flatMap((dir) => (existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []))
    .filter((f) => /\.(list|sources)$/.test(f))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const match = /^URIs:\s*(\S+)/m.exec(sources) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\b/m.exec(sources);
  if (!match?.[1]) throw new Error('no Debian mirror in /etc/apt: hack/ needs a Debian machine with apt sources');
  return match[1];
}

function ensureDebianImage(log: Log): void {
  if (podmanHas(DEBIAN_IMAGE)) return;
  const started = Date.now();
  const root = join(cacheDir, 'debootstrap');
  rmSync(root, { recursive: true, force: true });
  log(`debootstrap: Debian bookworm minbase into ${root}`);
  execFileSync('debootstrap', ['--variant=minbase', 'bookworm', root, debianMirror()], { stdio: 'ignore' });
  const tar = spawnSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 2 ** 31 });
  podmanWithInput(tar.stdout, 'import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-', DEBIAN_IMAGE);
  rmSync(root, { recursive: true, force: true });
  log(`built ${DEBIAN_IMAGE} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Debian + chromium + Node 24 + npm: the local stand-in for Playwright's published image. */
export function ensureBrowserBase(log: Log): string {
  const containerfile = join(repoRoot, 'hack', 'images', 'browser-base.Containerfile');
  const nodeBinary = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  const nodeVersion = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
  const tag = `localhost/fleetwright/browser-base:${sha(readFileSync(containerfile), nodeVersion, NPM_VERSION)}`;
  if (podmanHas(tag)) return tag;
  ensureDebianImage(log);
  const started = Date.now();
  const context = join(cacheDir, 'browser-base-context');
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  copyFileSync(nodeBinary, join(context, 'node'));
  execFileSync('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', context, '--silent'], { stdio: 'ignore' });
  execFileSync('tar', ['-xzf', join(context, `npm-${NPM_VERSION}.tgz`), '-C', context]);
  renameSync(join(context, 'package'), join(context, 'npm'));
  log(`building ${tag} (Debian chromium, Node ${nodeVersion}, npm ${NPM_VERSION})`);
  podman('build', '--network=host', '--build-arg', `DEBIAN_IMAGE=${DEBIAN_IMAGE}`, '-f', containerfile, '-t', tag, context);
  rmSync(context, { recursive: true, force: true });
  log(`built ${tag} in ${Math.round((Date.now() - started) / 1000)} s`);
  return tag;
}

/**
 * The CA bundle the host's npm trusts, as the build secret npm-ca: where a
 * proxy intercepts TLS, the base image's own CAs cannot verify the registry.
 */
export function npmCaSecret(): string[] {
  const configured = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
  const bundle = configured && configured !== 'null' ? configured : '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(bundle) ? ['--secret', `id=npm-ca,src=${bundle}`] : [];
}

/** Everything the Dockerfile copies, so any change to it means a new tag. */
function projectInputs(): Buffer[] {
  const files = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [relative(repoRoot, path)];
    });
  return [...files, ...walk(join(repoRoot, 'src')).sort()].flatMap((f) => [Buffer.from(f), readFileSync(join(repoRoot, f))]);
}

/**
 * The project's image in the node's containerd, tagged by a hash of its
 * inputs and as DEV_IMAGE; built and imported only when the inputs changed.
 */
export function ensureProjectImage(log: Log = console.log): string {
  const base = ensureBrowserBase(log);
  const tag = `${IMAGE_REPOSITORY}:${sha(base, ...projectInputs())}`;
  const imported = ensureInNode(tag, log, () => {
    log(`building ${tag} from the Dockerfile on ${base}`);
    podman('build', '--network=host', '--build-arg', `BASE_IMAGE=${base}`, ...npmCaSecret(), '-t', tag, repoRoot);
  });
  if (imported) {
    for (const layout of runningNodes()) ctrOn(layout, 'images', 'tag', '--force', tag, DEV_IMAGE);
    removeSupersededImages(`${IMAGE_REPOSITORY}:`, [tag, DEV_IMAGE]);
  }
  return tag;
}

/**
 * The project's image (`projectImage`, from ensureProjectImage) with
 * playwright-core `version` in place of its own, in the node's containerd:
 * browser pods of that Playwright version. The package is the dependency
 * alias playwright-core-<major>-<minor>; tagged by a hash of the inputs,
 * built and imported only when missing.
 */
export function ensurePlaywrightVariantImage(version: string, projectImage: string, log: Log = console.log): string {
  const alias = `playwright-core-${version.split('.').slice(0, 2).join('-')}`;
  const packageDir = join(repoRoot, 'node_modules', alias);
  const installed = existsSync(packageDir)
    ? (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version
    : 'missing';
  if (installed !== version) {
    throw new Error(
      `node_modules/${alias} is ${installed}, not playwright-core ${version}: ` +
      `npm install --save-exact ${alias}@npm:playwright-core@${version}`,
    );
  }
  const containerfile = join(repoRoot, 'hack', 'images', 'playwright-variant.Containerfile');
  const tag = `${VARIANT_REPOSITORY}:${version}-${sha(projectImage, version, readFileSync(containerfile))}`;
  const imported = ensureInNode(tag, log, () => {
    const context = join(cacheDir, 'playwright-variant-context');
    rmSync(context, { recursive: true, force: true });
    cpSync(packageDir, join(context, 'node_modules', 'playwright-core'), { recursive: true });
    log(`building ${tag}: ${projectImage} with playwright-core ${version}`);
    try {
      podman('build', '--network=none', '--build-arg', `PROJECT_IMAGE=${projectImage}`, '-f', containerfile, '-t', tag, context);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });
  if (imported) removeSupersededImages(`${VARIANT_REPOSITORY}:${version}-`, [tag]);
  return tag;
}

/**
 * The project's image with the Playwright project in `suiteDir` baked in at
 * /tests and its dependencies installed from its lockfile (npm ci, devDependencies
 * included), in the node's containerd: a TestRun's `spec.source.image`. Tagged
 * by a hash of the suite's files; built and imported only when missing.
 */
export function ensureSuiteImage(name: string, suiteDir: string, projectImage: string, log: Log = console.log): string {
  const containerfile = join(repoRoot, 'hack', 'images', 'suite.Containerfile');
  const ignorefile = join(repoRoot, 'hack', 'images', 'suite.dockerignore');
  const files = readdirSync(suiteDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.split('/').includes('node_modules') && statSync(join(suiteDir, f)).isFile())
    .sort();
  const tag = `${SUITE_REPOSITORY}-${name}:${sha(projectImage, readFileSync(containerfile), ...files.flatMap((f) =>
    [Buffer.from(f), readFileSync(join(suiteDir, f))]))}`;
  const imported = ensureInNode(tag, log, () => {
    log(`building ${tag}: ${projectImage} with the suite ${relative(repoRoot, suiteDir)} at /tests`);
    podman('build', '--network=host', '--build-arg', `PROJECT_IMAGE=${projectImage}`, ...npmCaSecret(),
      '--ignorefile', ignorefile, '-f', containerfile, '-t', tag, suiteDir);
  });
  if (imported) removeSupersededImages(`${SUITE_REPOSITORY}-${name}:`, [tag]);
  return tag;
}

/**
 * Puts `tag` into the containerd of every running node unless it is there,
 * building it in podman first unless podman has it. Returns whether it was imported.
 */
function ensureInNode(tag: string, log: Log, build: () => void): boolean {
  if (inEveryNode(tag)) return false;
  if (!podmanHas(tag)) {
    const started = Date.now();
    build();
    log(`built ${tag} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const started = Date.now();
  importImage(tag);
  log(`imported ${tag} into the node's containerd in ${Math.round((Date.now() - started) / 1000)} s`);
  return true;
}

/** Each input change makes a new tag; keep only the tags in `keep` of those starting with `prefix`, in both stores. */
function removeSupersededImages(prefix: string, keep: string[]): void {
  const superseded = (names: string[]) => names.filter((n) => n.startsWith(prefix) && !keep.includes(n));
  for (const name of superseded(runningNodes().flatMap((layout) => ctrOn(layout, 'images', 'ls', '-q').split('\n')))) {
    removeImage(name);
  }
  for (const name of superseded(podman('images', '--format', '{{.Repository}}:{{.Tag}}').split('\n'))) {
    podman('rmi', '--force', name);
  }
  // Dangling images of a day ago: a build's stages (dependencies, build) are dangling too, and `npm run release`
  // right after a build reuses them as its cache.
  podman('image', 'prune', '--force', '--filter', 'until=24h');
}

if (import.meta.main) {
  // `browser-base`: only the local base, printed for `npm run release -- --base-image`; progress on stderr.
  console.log(process.argv[2] === 'browser-base' ? ensureBrowserBase(console.error) : ensureProjectImage());
}
