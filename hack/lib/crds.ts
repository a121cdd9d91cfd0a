import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, stateDir } from './paths.ts';
import { ensureTool } from './tools.ts';

/** kubectl's discovery cache, kept with the control plane's state so it never outlives it. */
export const kubectlCacheDir = join(stateDir, 'kubectl-cache');

/** Runs kubectl against the local control plane; throws with its stderr when it fails. */
export function kubectl(kubeconfig: string, ...args: string[]): string {
  const result = spawnSync(ensureTool('kubectl'), args, {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: kubectlCacheDir },
  });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Applies crds/ and waits until they serve. */
export function installCrds(kubeconfig: string): string {
  const dir = join(repoRoot, 'crds');
  // --force-conflicts: fields another manager set (a Helm install of the chart's crds/) become this checkout's.
  const out = kubectl(kubeconfig, 'apply', '--server-side', '--force-conflicts', '-f', dir);
  kubectl(kubeconfig, 'wait', '--for=condition=Established', '--timeout=30s', '-f', dir);
  // The apply cached discovery from before the CRDs existed; category lookups
  // (`kubectl get fleetwright`) read that cache and would find nothing.
  rmSync(kubectlCacheDir, { recursive: true, force: true });
  return out;
}
