import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.ts';

/** The wrapper modules under hack/, each pinning one release in its go.mod and go.sum. */
const MODULES = {
  kube: { module: 'k8s.io/kubernetes', what: 'Kubernetes', coldBuild: 'kube-apiserver takes about 4 min cold' },
  coredns: { module: 'github.com/coredns/coredns', what: 'CoreDNS', coldBuild: 'about 1 min cold' },
} as const;

type Module = keyof typeof MODULES;

/** Binaries the wrapper modules build: the module and the Go package of each. */
const PACKAGES = {
  'kube-apiserver': ['kube', 'k8s.io/kubernetes/cmd/kube-apiserver'],
  'kube-controller-manager': ['kube', 'k8s.io/kubernetes/cmd/kube-controller-manager'],
  'kube-scheduler': ['kube', 'k8s.io/kubernetes/cmd/kube-scheduler'],
  'kubelet': ['kube', 'k8s.io/kubernetes/cmd/kubelet'],
  'kube-proxy': ['kube', 'k8s.io/kubernetes/cmd/kube-proxy'],
  'etcd': ['kube', 'go.etcd.io/etcd/server/v3'],
  // hack/coredns/main.go: CoreDNS with the plugins the local cluster uses.
  'coredns': ['coredns', '.'],
} as const satisfies Record<string, readonly [Module, string]>;

export type KubeBinary = keyof typeof PACKAGES;

const moduleDir = (module: Module) => join(repoRoot, 'hack', module);

/** The release a wrapper module pins: hack/kube's k8s.io/kubernetes (for example v1.35.4), or CoreDNS. */
function pinnedVersion(module: Module): string {
  const path = MODULES[module].module.replaceAll('.', '\\.').replaceAll('/', '\\/');
  const goMod = readFileSync(join(moduleDir(module), 'go.mod'), 'utf8');
  const match = new RegExp(`^\\s*(?:require\\s+)?${path} (v[\\d.]+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`hack/${module}/go.mod does not require ${MODULES[module].module}: restore the pin`);
  return match[1];
}

/** The Kubernetes release pinned in hack/kube/go.mod, for example v1.35.4. */
export const kubernetesVersion = () => pinnedVersion('kube');

/** Cache folder of this exact pin: a change to go.mod or go.sum means a new folder and a rebuild. */
function pinDir(module: Module): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) hash.update(readFileSync(join(moduleDir(module), f)));
  return join(cacheDir, module, `${pinnedVersion(module)}-${hash.digest('hex').slice(0, 10)}`);
}

/** -ldflags: stripped, and the Kubernetes binaries told their version (a plain `go build` leaves it v0.0.0). */
function ldflags(module: Module): string {
  if (module !== 'kube') return '-s -w';
  const version = kubernetesVersion();
  const [major, minor] = version.slice(1).split('.');
  return [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
  ].join(' ');
}

/**
 * Path of a binary: from KUBEBUILDER_ASSETS when it holds one (as envtest
 * does), otherwise built from the pinned Go modules once and cached.
 */
export function ensureBinary(name: KubeBinary, log: (line: string) => void = console.log): string {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && existsSync(join(assets, name))) return join(assets, name);

  const [module, pkg] = PACKAGES[name];
  const target = join(pinDir(module), name);
  if (existsSync(target)) return target;

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      `cannot build ${name}: Go is not on PATH. Install Go 1.25 or newer, ` +
      'or set KUBEBUILDER_ASSETS to a folder that holds kube-apiserver and etcd.',
    );
  }
  const { what, coldBuild } = MODULES[module];
  log(
    `building ${name} from hack/${module} (${what} ${pinnedVersion(module)} pin) with ${go.stdout.trim()}; ` +
    `once per pin, ${coldBuild}`,
  );
  const started = Date.now();
  mkdirSync(pinDir(module), { recursive: true });
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  execFileSync('go', ['build', '-trimpath', '-o', partial, '-ldflags', ldflags(module), pkg], {
    cwd: moduleDir(module),
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
  });
  // Rename last, so an interrupted build never leaves a binary that looks complete.
  renameSync(partial, target);
  log(`built ${name} in ${Math.round((Date.now() - started) / 1000)} s -> ${target}`);
  return target;
}
