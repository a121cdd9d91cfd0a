import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { down, up } from '../../hack/controlplane.ts';
import { installCrds } from '../../hack/lib/crds.ts';
import { repoRoot, stateDir } from '../../hack/lib/paths.ts';
import { processesMentioning } from '../../hack/lib/processes.ts';
import { ensureTool } from '../../hack/lib/tools.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
  }
}

/**
 * One real control plane for the whole integration run. A control plane that
 * is already running (a developer's `npm run controlplane up`) is reused and
 * left running; one started here is stopped at the end, also on failure and
 * on Ctrl-C.
 */
export default async function setup(project: TestProject) {
  const startedHere = processesMentioning(stateDir).length === 0;
  const stop = async () => {
    if (startedHere) await down((line) => console.log(`[controlplane] ${line}`));
  };
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

  const controlPlane = await up((line) => console.log(`[controlplane] ${line}`));
  installCrds(controlPlane.kubeconfig);
  project.provide('kubeconfig', controlPlane.kubeconfig);
  project.provide('kubectl', ensureTool('kubectl'));

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  };
}
