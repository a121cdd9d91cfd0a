import type { TestProject } from 'vitest/node';
import { setupCluster } from '../cluster-setup.ts';

/** The full local cluster (control plane, real node, kube-proxy) and the project's image in its containerd. */
export default (project: TestProject) => setupCluster(project, { node: true });
