import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** The kubeconfig at `path`, else client-go's default ($KUBECONFIG, ~/.kube/config, or in-cluster). */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

const inClusterNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The namespace the pod runs in, as controller-runtime finds it for its Lease; `default` outside a cluster. */
export function ownNamespace(): string {
  try {
    return readFileSync(inClusterNamespaceFile, 'utf8').trim();
  } catch {
    return 'default';
  }
}
