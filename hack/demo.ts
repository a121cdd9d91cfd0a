// The local demo: a real control plane with Fleetwright's CRDs and samples.
// Runs until Ctrl-C, then stops everything it started. With --once (or
// without a terminal, as in CI) it shows the result and stops at once.
import { join } from 'node:path';
import { down, up } from './controlplane.ts';
import { installCrds, kubectl, kubectlCacheDir } from './lib/crds.ts';
import { repoRoot, stateDir } from './lib/paths.ts';

const once = process.argv.includes('--once') || !process.stdin.isTTY;
const { kubeconfig } = await up();

try {
  process.stdout.write(installCrds(kubeconfig));
  process.stdout.write(kubectl(kubeconfig, 'apply', '-f', join(repoRoot, 'config', 'samples')));
  console.log(`\n$ kubectl get fleetwright\n${kubectl(kubeconfig, 'get', 'fleetwright')}`);
} catch (error) {
  await down();
  throw error;
}

console.log(`Poke at it from another terminal:

  export KUBECONFIG=${kubeconfig} KUBECACHEDIR=${kubectlCacheDir} PATH=${join(stateDir, 'bin')}:$PATH
  kubectl get fleetwright
  kubectl explain browserpool.spec.autoscaling
  kubectl scale bp/chromium --replicas=3
`);

if (once) {
  await down();
} else {
  console.log('Ctrl-C stops the control plane and removes its data.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await down();
}
