import type { TestProject } from 'vitest/node';
import { setupCluster } from '../cluster-setup.ts';

/** The API server alone: these tests run no pods. */
export default (project: TestProject) => setupCluster(project, { node: false, projectImage: false });
