import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.ts';

/** Binaries the wrapper module in hack/kube builds, and the Go package of each. */
const PACKAGES = {
  'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
  'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
  'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
  'kubelet': 'k8s.io/kubernetes/cmd/kubelet',
  'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
  'etcd': 'go.etcd.io/etcd/server/v3',
} as const;

export type KubeBinary = keyof typeof PACKAGES;

const moduleDir = join(repoRoot, 'hack', 'kube');

/** The Kubernetes release pinned in hack/kube/go.mod, for example v1.35.4. */
export function kubernetesVersion(): string {
  const match = /^\s*k8s\.io\/kubernetes (v[\d.]+)/m.exec(readFileSync(join(moduleDir, 'go.mod'), 'utf8'));
  if (!match?.[1]) throw new Error('hack/kube/go.mod does not require k8s.io/kubernetes: restore the pin');
  return match[1];
}

/** Cache folder of this exact pin: a change to go.mod or go.sum means a new folder and a rebuild. */
function pinDir(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) hash.update(readFileSync(join(moduleDir, f)));
  return join(cacheDir, 'kube', `${kubernetesVersion()}-${hash.digest('hex').slice(0, 10)}`);
}

/**
 * Path of a binary: from KUBEBUILDER_ASSETS when it holds one (as envtest
 * does), otherwise built from the pinned Go modules once and cached.
 */
export function ensureBinary(name: KubeBinary, log: (line: string) => void = console.log): string {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && existsSync(join(assets, name))) return join(assets, name);

  const target = join(pinDir(), name);
  if (existsSync(target)) return target;

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      `cannot build ${name}: Go is not on PATH. Install Go 1.25 or newer, ` +
      'or set KUBEBUILDER_ASSETS to a folder that holds kube-apiserver and etcd.',
    );
  }
  const version = kubernetesVersion();
  const [major, minor] = version.slice(1).split('.');
  log(
    `building ${name} from hack/kube (Kubernetes ${version} pin) with ${go.stdout.trim()}; once per pin, kube-apiserver takes about 4 min cold`,
  );
  const started = Date.now();
  mkdirSync(pinDir(), { recursive: true });
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const ldflags = [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
  ].join(' ');
  execFileSync('go', ['build', '-trimpath', '-o', partial, '-ldflags', ldflags, PACKAGES[name]], {
    cwd: moduleDir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
  });
  // Rename last, so an interrupted build never leaves a binary that looks complete.
  renameSync(partial, target);
  log(`built ${name} in ${Math.round((Date.now() - started) / 1000)} s -> ${target}`);
  return target;
}
