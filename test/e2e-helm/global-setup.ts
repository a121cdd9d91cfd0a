import type { TestProject } from 'vitest/node';
import { setupCluster } from '../cluster-setup.ts';
import { publishReleases, type Releases } from './published.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This tree and the release before it, in the local registry. */
    releases: Releases;
  }
}

/**
 * The full local cluster (control plane, real node, kube-proxy, the registry)
 * and, in its registry, the releases the suite installs: the node pulls their
 * image from there, as any cluster's nodes would.
 */
export default async (project: TestProject) => {
  const teardown = await setupCluster(project, { node: true, projectImage: false });
  try {
    project.provide('releases', publishReleases((line) => console.log(`[release] ${line}`)));
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
};
