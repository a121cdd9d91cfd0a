// What every bench/ program starts from: the local cluster, a namespace of its own, `fleetwright controller`,
// and, for those that keep reports or recordings, `fleetwright report-store`.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { up } from '../hack/controlplane.ts';
import { installCrds, kubectl } from '../hack/lib/crds.ts';
import { ensureProjectImage } from '../hack/lib/images.ts';
import { NODE_IP } from '../hack/lib/node.ts';
import { kubeconfigPath, repoRoot } from '../hack/lib/paths.ts';
import { onFreePort } from '../hack/lib/ports.ts';
import { RestClient } from '../src/runtime/rest.ts';

export function rest(): RestClient {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return new RestClient(kubeConfig);
}

/** The local cluster with its node and the project's image (started when not running), and a new namespace. */
export async function benchCluster(): Promise<{ image: string; namespace: string }> {
  await up(() => undefined, { node: true });
  installCrds(kubeconfigPath);
  const image = ensureProjectImage(() => undefined);
  const namespace = `bench-${randomBytes(3).toString('hex')}`;
  await rest().create('/api/v1/namespaces', { metadata: { name: namespace } });
  return { image, namespace };
}

/** `fleetwright controller` for one namespace, as its own process. */
export function startController(namespace: string, image: string, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [
    join(repoRoot, 'src', 'main.ts'), 'controller', `--kubeconfig=${kubeconfigPath}`, `--image=${image}`,
    `--watch-namespace=${namespace}`, '--metrics-bind-address=0', '--health-probe-bind-address=0', '--log-level=warn',
    ...extra,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Removes a bench's namespace: its TestRuns and pools first, while the controller runs (their finalizers need it). */
export async function removeNamespace(namespace: string, controller: ChildProcess): Promise<void> {
  kubectl(kubeconfigPath, 'delete', 'testruns,browserpools', '--all', '-n', namespace, '--wait=true', '--timeout=120s');
  controller.kill('SIGTERM');
  await rest().delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
}

/**
 * The report store on the bridge address, resolved once it listens. Its --public-url names its port, so it is
 * told one (onFreePort: another when that was taken before it listened) rather than listening on 0.
 */
export function startReportStore(namespace: string, dir: string): Promise<{ store: ChildProcess; storeUrl: string }> {
  return onFreePort(NODE_IP, (port) => new Promise((resolve, reject) => {
    const storeUrl = `http://${NODE_IP}:${port}`;
    const store = spawn(process.execPath, [
      join(repoRoot, 'src', 'main.ts'), 'report-store', `--kubeconfig=${kubeconfigPath}`, `--bind-address=${NODE_IP}:${port}`,
      '--metrics-bind-address=0', `--public-url=${storeUrl}`, `--watch-namespace=${namespace}`, '--backend=filesystem',
      `--path=${dir}`, '--log-level=info',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    store.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-4096);
      if (stdout.includes('"msg":"serving reports"')) resolve({ store, storeUrl });
    });
    store.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      process.stderr.write(chunk);
    });
    store.once('exit', (code) => reject(new Error(`fleetwright report-store exited ${code}: ${stderr}`)));
  }));
}
