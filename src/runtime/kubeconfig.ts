import { KubeConfig } from '@kubernetes/client-node';

/** The kubeconfig at `path`, else client-go's default ($KUBECONFIG, ~/.kube/config, or in-cluster). */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
