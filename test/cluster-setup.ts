import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { down, up } from '../hack/controlplane.ts';
import { installCrds } from '../hack/lib/crds.ts';
import { ensureProjectImage } from '../hack/lib/images.ts';
import { repoRoot, stateDir } from '../hack/lib/paths.ts';
import { processesMentioning } from '../hack/lib/processes.ts';
import { ensureTool } from '../hack/lib/tools.ts';
import { applyChartRbac, type Component, type Release, writeKubeconfigAs } from './chart-identities.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    /** The project's image in the node's containerd (only with `projectImage`). */
    image: string;
    /** `kubeconfig` acting as the chart's controller ServiceAccount, with only the chart's RBAC. */
    controllerKubeconfig: string;
    /** ... and as the chart's gateway ServiceAccount. */
    gatewayKubeconfig: string;
    /** ... and as the chart's report store ServiceAccount. */
    reportStoreKubeconfig: string;
  }
}

const log = (line: string) => console.log(`[cluster] ${line}`);

/** The release whose ServiceAccounts the tests' controllers and gateways run as. */
const release: Release = { namespace: 'fleetwright-system', fullname: 'fleetwright' };

/**
 * One real cluster for a whole vitest project: the control plane, with
 * `node` the real node (and the registry beside it), and with `projectImage`
 * the project's image in the node's containerd. A cluster that is already
 * running (a developer's `npm run controlplane -- up`) is reused and left
 * running; one started here is stopped at the end, also on failure and on Ctrl-C.
 */
export async function setupCluster(project: TestProject, options: { node: boolean; projectImage: boolean }) {
  const startedHere = processesMentioning(stateDir).length === 0;
  // vitest exits on Ctrl-C without awaiting teardown, so the stop runs in a process of its own.
  const onSignal = () => {
    if (!startedHere) return;
    spawn(process.execPath, [join(repoRoot, 'hack', 'controlplane.ts'), 'down'], {
      detached: true,
      stdio: 'inherit',
    }).unref();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const stop = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (startedHere) await down(log);
  };
  // A setup that fails gets no teardown from vitest: what it started is stopped here.
  try {
    const cluster = await up(log, { node: options.node });
    installCrds(cluster.kubeconfig);
    project.provide('kubeconfig', cluster.kubeconfig);
    project.provide('kubectl', ensureTool('kubectl'));
    await applyChartRbac(cluster.kubeconfig, release);
    const identities = { 'controller': 'controllerKubeconfig', 'gateway': 'gatewayKubeconfig', 'report-store': 'reportStoreKubeconfig' } as const;
    for (const [component, key] of Object.entries(identities) as [Component, (typeof identities)[Component]][]) {
      project.provide(key, writeKubeconfigAs(cluster.kubeconfig, release, component, join(stateDir, `${component}.kubeconfig`)));
    }
    if (options.projectImage) project.provide('image', ensureProjectImage(log));
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
