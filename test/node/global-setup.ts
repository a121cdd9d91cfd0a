import type { TestProject } from 'vitest/node';
import { setupCluster } from '../cluster-setup.ts';

/** The control plane, the real node and the project's image in its containerd. */
export default (project: TestProject) => setupCluster(project, { node: true, projectImage: true });
