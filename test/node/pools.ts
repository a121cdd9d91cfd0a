import { pino } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import type { PodObject } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL } from '../../src/api/resources.ts';
import { BrowserLeaser } from '../../src/leasing/leaser.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { kubectl, kubectlInBackground } from '../integration/helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, fleetwrightGateway, rest } from '../integration/runtime/support.ts';

export interface PoolObject extends KubeObject {
  status?: {
    replicas?: number;
    readyReplicas?: number;
    idle?: number;
    busy?: number;
    starting?: number;
    waiting?: number;
    selector?: string;
    playwrightVersion?: string;
    playwrightVersions?: string[];
    conditions?: Condition[];
  };
}

/** `fleetwright controller` for one namespace, started before the file's tests and stopped after them. */
export function useController(
  namespace: () => string,
  extra: () => string[] = () => [],
): { readonly process: ControllerProcess } {
  const handle = {} as { process: ControllerProcess };
  beforeAll(() => {
    handle.process = new ControllerProcess(
      [
        `--image=${inject('image')}`, `--watch-namespace=${namespace()}`, '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=0',
        ...extra(),
      ],
      {},
      fleetwrightController,
    );
  });
  afterAll(async () => {
    await deleteFleetwrightObjects(namespace());
    await handle.process.kill('SIGTERM');
  });
  return handle;
}

/** A BrowserLeaser watching one namespace, as the gateway and TestRun controller use it. */
export function useLeaser(namespace: () => string): { readonly leaser: BrowserLeaser } {
  const handle = {} as { leaser: BrowserLeaser };
  beforeAll(async () => {
    handle.leaser = new BrowserLeaser(rest(), pino({ level: 'warn' }), { namespace: namespace() });
    await handle.leaser.start();
  });
  afterAll(() => handle.leaser.stop());
  return handle;
}

/**
 * Deletes the namespace's TestRuns and BrowserPools while the controller still
 * runs: their finalizers need it, and without it the namespace would never
 * finish deleting.
 */
export async function deleteFleetwrightObjects(namespace: string): Promise<void> {
  const result = await kubectlInBackground(['delete', 'testruns,browserpools', '--all', '-n', namespace, '--wait=true', '--timeout=120s']);
  if (result.status !== 0) throw new Error(`could not delete the test's TestRuns and BrowserPools: ${result.stderr}`);
}

export function apply(namespace: string, manifest: string): void {
  const result = kubectl(['apply', '-n', namespace, '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

export const getPool = (namespace: string, name: string) =>
  rest().get<PoolObject>(objectPath(BROWSER_POOL, { namespace, name }));

export async function poolPods(namespace: string, name: string): Promise<PodObject[]> {
  const list = await rest().get<{ items: PodObject[] }>(collectionPath({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true }, namespace), {
    labelSelector: `fleetwright.dev/pool=${name}`,
  });
  return list.items;
}

export const condition = (pool: PoolObject, type: string) => pool.status?.conditions?.find((c) => c.type === type);

/** Polls the pool until `done` holds. */
export function waitForPool(
  namespace: string,
  name: string,
  what: string,
  done: (pool: PoolObject) => boolean,
  timeoutMs = 90_000,
): Promise<PoolObject> {
  return eventually(`pool ${name}: ${what}`, async () => {
    const pool = await getPool(namespace, name);
    return done(pool) ? pool : undefined;
  }, timeoutMs);
}

/** A manifest of one of our kinds: `spec` is YAML, indented here under spec:. */
const manifestOf = (kind: 'BrowserPool' | 'TestRun' | 'Tunnel') => (name: string, spec: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: ${kind}
metadata: { name: ${name} }
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;

export const poolManifest = manifestOf('BrowserPool');
export const tunnelManifest = manifestOf('Tunnel');
export const testRunManifest = manifestOf('TestRun');

/** `fleetwright gateway` on loopback for one namespace; `url('Tunnels')` gives its address. */
export function startGateway(namespace: string, replica: string, extra: string[] = []): ControllerProcess {
  return new ControllerProcess(
    [
      '--bind-address=127.0.0.1:0',
      '--metrics-bind-address=127.0.0.1:0',
      `--watch-namespace=${namespace}`,
      `--replica-namespace=${namespace}`,
      `--replica-name=${replica}`,
      ...extra,
    ],
    {},
    fleetwrightGateway,
  );
}
