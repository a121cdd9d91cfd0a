// The NetworkPolicies of browser pods, on a real API server: the real `fleetwright controller`, as the chart's
// ServiceAccount with only the chart's RBAC and the network policy flags the chart renders, writes a policy per
// BrowserPool and per TestRun, labels the browsers it leases to a run, and writes nothing when nothing changed.
// The local node's bridge CNI enforces no NetworkPolicy: this checks the objects, not the traffic.
//
// FLEETWRIGHT_RBAC_DROP=controller:11 (the networkpolicies rule), or controller:11:<verb> for any of its four
// verbs, makes the first test fail with the controller's 403 naming the verb and resource.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import { ensureTool } from '../../hack/lib/tools.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { isNotFound } from '../../src/runtime/rest.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, rest } from './runtime/support.ts';

const work = useNamespace('netpol');
/** Where test/cluster-setup.ts applies the chart's RBAC: the release the controller runs as. */
const RELEASE_NAMESPACE = 'fleetwright-system';

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const get = (path: string) => rest().get<Obj>(path);
const policyPath = (name: string) => `/apis/networking.k8s.io/v1/namespaces/${work.name}/networkpolicies/${name}`;
const podPath = (name: string) => `/api/v1/namespaces/${work.name}/pods/${name}`;
const fleetwright = (plural: string, name: string) => `/apis/fleetwright.dev/v1alpha1/namespaces/${work.name}/${plural}/${name}`;
const gone = async (path: string) => get(path).then(() => false, (err: unknown) => isNotFound(err));

/** The controller's network policy flags, as the chart renders them for its release. */
function chartFlags(): string[] {
  const args = ['template', 'fleetwright', join(repoRoot, 'charts', 'fleetwright'), '--namespace', RELEASE_NAMESPACE,
    '--show-only', 'templates/controller.yaml'];
  const result = spawnSync(ensureTool('helm'), args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`helm template: ${result.stderr}`);
  type Deployment = { kind: string; spec: { template: { spec: { containers: { args: string[] }[] } } } };
  const deployment = parseAllDocuments(result.stdout).map((d) => d.toJS() as Deployment).find((o) => o?.kind === 'Deployment');
  return (deployment?.spec.template.spec.containers[0]?.args ?? []).filter((a) => /network-policy|pod-labels/.test(a));
}

function apply(manifest: string): void {
  const result = kubectl(['apply', '-n', work.name, '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply: ${result.stderr}`);
}

/** What a kubelet writes into a pod's status once it runs and is ready; no kubelet runs here. */
const running = { status: { phase: 'Running', podIP: '127.0.0.11', conditions: [{ type: 'Ready', status: 'True' }] } };

let controller: ControllerProcess;
const GC_WAIT_MS = 90_000;
/** The pool policy's resourceVersion when first written: the pool's passes during the run must not change it. */
let firstVersion = '';

/** The controller's 403s, each once: with a rule dropped they say which one, where a timeout would not. */
const denials = () => [...new Set(controller.lines
  .filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)))
  .map((l) => `${l.msg}: ${(l.err as { message?: string } | undefined)?.message ?? JSON.stringify(l)}`))];
async function expectSoon<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number) {
  try {
    return await eventually(what, check, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nthe controller's 403s:\n${denials().join('\n') || '(none)'}`, { cause: err });
  }
}

beforeAll(() => {
  const flags = chartFlags();
  expect(flags).toHaveLength(3);
  controller = new ControllerProcess([
    `--watch-namespace=${work.name}`,
    '--metrics-bind-address=0',
    '--health-probe-bind-address=127.0.0.1:0',
    '--log-level=debug',
    ...flags,
  ], {}, fleetwrightController);
  apply(`
apiVersion: v1
kind: ConfigMap
metadata: { name: suite }
data: { a.spec.ts: "import { test } from '@playwright/test'; test('a', () => {});" }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: chromium }
spec: { browser: chromium, replicas: 1 }
`);
});

afterAll(async () => {
  await controller?.kill('SIGTERM');
});

describe('NetworkPolicies of browser pods, written by the controller as the chart\'s ServiceAccount', () => {
  const inRelease = { matchLabels: { 'kubernetes.io/metadata.name': RELEASE_NAMESPACE } };
  const component = (name: string) => ({ 'app.kubernetes.io/component': name, 'app.kubernetes.io/instance': 'fleetwright' });

  it('gives a pool a policy: the gateway on 3000, the controller on 3001, from the release namespace', async () => {
    const policy = await expectSoon('the pool\'s NetworkPolicy', () => get(policyPath('fleetwright-pool-chromium')));
    const pool = await get(fleetwright('browserpools', 'chromium'));
    expect(policy.metadata.ownerReferences).toEqual([{
      apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', name: 'chromium', uid: pool.metadata.uid,
      controller: true, blockOwnerDeletion: true,
    }]);
    firstVersion = policy.metadata.resourceVersion ?? '';
    expect(policy.spec?.podSelector).toEqual({ matchLabels: { 'fleetwright.dev/pool': 'chromium' } });
    expect(policy.spec?.policyTypes).toEqual(['Ingress']);
    expect(policy.spec?.ingress).toMatchObject([
      { from: [{ namespaceSelector: inRelease, podSelector: { matchLabels: component('gateway') } }], ports: [{ port: 3000 }] },
      { from: [{ namespaceSelector: inRelease, podSelector: { matchLabels: component('controller') } }], ports: [{ port: 3001 }] },
    ]);
  });

  it('gives a run a policy admitting its runner pods to the browsers labelled leased to it, and unlabels them when returned',
    async () => {
      apply(`
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: checkout }
spec: { poolRef: { name: chromium }, source: { configMap: { name: suite } }, shards: 1 }
`);
      const policy = await expectSoon('the run\'s NetworkPolicy', () => get(policyPath('fleetwright-run-checkout')));
      const run = await get(fleetwright('testruns', 'checkout'));
      expect(policy.metadata.ownerReferences).toMatchObject([{ kind: 'TestRun', name: 'checkout', uid: run.metadata.uid, controller: true }]);
      expect(policy.spec?.podSelector).toEqual({ matchLabels: { 'fleetwright.dev/leased-to': 'checkout' } });
      const from = { podSelector: { matchLabels: { 'fleetwright.dev/testrun': 'checkout' } } };
      expect(policy.spec?.ingress).toEqual([{ from: [from], ports: [{ protocol: 'TCP', port: 3000 }] }]);

      const list = (selector: string) =>
        rest().get<{ items: Obj[] }>(`/api/v1/namespaces/${work.name}/pods`, { labelSelector: selector }).then((l) => l.items);
      const browser = await expectSoon('the pool\'s browser pod', async () => (await list('fleetwright.dev/pool=chromium'))[0]);
      const name = browser.metadata.name ?? '';
      await rest().mergePatch(`${podPath(name)}/status`, running);
      const leased = await expectSoon('the browser leased to the run', async () => {
        const pod = await get(podPath(name));
        return pod.metadata.labels?.['fleetwright.dev/state'] === 'leased' && pod;
      });
      expect(leased.metadata.labels?.['fleetwright.dev/leased-to']).toBe('checkout');
      expect(JSON.parse(leased.metadata.annotations?.['fleetwright.dev/lease'] ?? '{}')).toMatchObject({ kind: 'TestRun', ref: `${work.name}/checkout` });
      // The policy's selectors must match the pods the controller really makes.
      const runner = await expectSoon('the runner pod', async () => (await list('fleetwright.dev/testrun=checkout'))[0]);
      expect(runner.metadata.labels).toMatchObject(from.podSelector.matchLabels);
      expect(await list('fleetwright.dev/leased-to=checkout')).toHaveLength(1);

      const summary = { passed: 1, failed: 0, flaky: 0, skipped: 0, durationMs: 5, status: 'passed' };
      await rest().mergePatch(`${podPath(runner.metadata.name ?? '')}/status`, {
        status: {
          phase: 'Succeeded',
          containerStatuses: [{
            name: 'runner', image: 'runner', imageID: '', ready: false, restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed', message: JSON.stringify(summary) } },
          }],
        },
      });
      const returned = await expectSoon('the browser back in the pool', async () => {
        const pod = await get(podPath(name));
        return pod.metadata.labels?.['fleetwright.dev/state'] === 'idle' && pod;
      });
      expect(returned.metadata.labels?.['fleetwright.dev/leased-to']).toBeUndefined();
      expect(returned.metadata.annotations?.['fleetwright.dev/lease']).toBeUndefined();
      expect(await list('fleetwright.dev/leased-to=checkout')).toEqual([]);
    });

  it('writes a policy again when it is edited or deleted by hand, and leaves it alone otherwise', async () => {
    const path = policyPath('fleetwright-pool-chromium');
    // The pool passed many times since (its browser started, was leased and given back): no write.
    expect((await get(path)).metadata.resourceVersion).toBe(firstVersion);

    await rest().mergePatch(path, { spec: { ingress: [] } });
    await expectSoon('the edited policy restored', async () => ((await get(path)).spec?.ingress as unknown[]).length === 2);
    kubectl(['delete', '-n', work.name, 'networkpolicy/fleetwright-pool-chromium']);
    await expectSoon('the deleted policy made again', () => get(path));
  });

  it('lets the policies go with their owners (the garbage collector follows their ownerReferences)', async () => {
    // Both exist first: their absence afterwards must be the garbage collector's doing.
    for (const name of ['fleetwright-run-checkout', 'fleetwright-pool-chromium']) expect((await get(policyPath(name))).metadata.name).toBe(name);
    kubectl(['delete', '-n', work.name, 'testrun/checkout', '--wait=false']);
    kubectl(['delete', '-n', work.name, 'browserpool/chromium', '--wait=false']);
    await expectSoon('the run gone', () => gone(fleetwright('testruns', 'checkout')));
    await expectSoon('the pool gone', () => gone(fleetwright('browserpools', 'chromium')));
    // A freshly started kube-controller-manager's garbage collector took 40 s here to begin collecting.
    await expectSoon('the run\'s policy gone', () => gone(policyPath('fleetwright-run-checkout')), GC_WAIT_MS);
    await expectSoon('the pool\'s policy gone', () => gone(policyPath('fleetwright-pool-chromium')), GC_WAIT_MS);
  }, 2 * GC_WAIT_MS);

  it('met not one 403 on the way', () => {
    expect(denials()).toEqual([]);
  });
});
