// What the API server says of the chart's output and of config/: every
// object, with defaults and with every optional feature on, passes a
// server-side dry run (admission, schema and RBAC escalation checks
// included), and config/default installs the same objects as the chart.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectlCacheDir } from '../../hack/lib/crds.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { ensureTool } from '../../hack/lib/tools.ts';
import { BrowserPoolSpec, TestRunSpec } from '../../src/api/v1alpha1/index.ts';
import { parseControllerArgs } from '../../src/controllers/config.ts';
import { browserPod } from '../../src/controllers/browserpool/pod.ts';
import { poolPolicy, runPolicy } from '../../src/controllers/networkpolicy.ts';
import { runnerPod } from '../../src/controllers/testrun/pod.ts';
import { kubectl, useNamespace } from './helpers.ts';

const chart = join(repoRoot, 'charts', 'fleetwright');
const allFeatures = join(repoRoot, 'test', 'fixtures', 'chart', 'all-features.yaml');
const monitoringCrds = join(repoRoot, 'test', 'fixtures', 'chart', 'monitoring-crds.yaml');
/** Where config/default installs, as the chart's documented `helm install -n fleetwright-system`. */
const SYSTEM_NAMESPACE = 'fleetwright-system';

const ns = useNamespace('chart');

interface Meta {
  kind: string;
  metadata: { name: string; namespace?: string };
}

function helmTemplate(namespace: string, ...args: string[]): string {
  const result = spawnSync(ensureTool('helm'), ['template', 'fleetwright', chart, '--namespace', namespace, ...args], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return result.stdout;
}

const objectsOf = (manifest: string): Meta[] =>
  parseAllDocuments(manifest)
    .filter((d) => d.contents !== null)
    .map((d) => d.toJS() as Meta);

const idOf = (o: Meta) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

/**
 * Server-side apply of a manifest, as a dry run; returns one line per object.
 * Server-side: objects that exist already (the CRDs) were not made by a
 * client-side apply, which would warn about them.
 */
function dryRun(manifest: string): string[] {
  const result = kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'], manifest);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.trim().split('\n');
}

let createdSystemNamespace = false;

beforeAll(() => {
  // The Prometheus Operator's kinds, so that ServiceMonitor & co. can be dry-run.
  for (const args of [
    ['apply', '--server-side', '-f', monitoringCrds],
    ['wait', '--for=condition=Established', '--timeout=30s', '-f', monitoringCrds],
  ]) {
    const result = kubectl(args);
    if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  }
  // kubectl's discovery cache predates the new kinds.
  rmSync(kubectlCacheDir, { recursive: true, force: true });
  // A server-side dry run creates no namespace: config/default's objects need theirs to exist.
  if (kubectl(['get', 'namespace', SYSTEM_NAMESPACE]).status !== 0) {
    const created = kubectl(['create', 'namespace', SYSTEM_NAMESPACE]);
    if (created.status !== 0) throw new Error(created.stderr);
    createdSystemNamespace = true;
  }
  // Pod Security admission warns of a workload whose pods the restricted standard would refuse:
  // kubectl prints it on stderr, which every dry run expects empty.
  for (const namespace of [ns.name, SYSTEM_NAMESPACE]) {
    const labels = ['pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted'];
    const labelled = kubectl(['label', '--overwrite', 'namespace', namespace, ...labels]);
    if (labelled.status !== 0) throw new Error(labelled.stderr);
  }
});

afterAll(() => {
  if (createdSystemNamespace) kubectl(['delete', 'namespace', SYSTEM_NAMESPACE, '--wait=false']);
});

describe('the chart on a real API server', () => {
  it('has every object of its defaults accepted, CRDs included', () => {
    const manifest = helmTemplate(ns.name, '--include-crds');
    const lines = dryRun(manifest);
    expect(lines).toHaveLength(objectsOf(manifest).length);
    expect(lines).toContain('deployment.apps/fleetwright-controller serverside-applied (server dry run)');
    expect(lines).toContain('clusterrole.rbac.authorization.k8s.io/fleetwright-controller serverside-applied (server dry run)');
  });

  it('has every object accepted with every optional feature on: Ingress, monitoring, custom accounts', () => {
    const manifest = helmTemplate(ns.name, '--values', allFeatures);
    const objects = objectsOf(manifest);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Ingress', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap']) expect(kinds).toContain(kind);
    expect(dryRun(manifest)).toHaveLength(objects.length);
  });

  it('has the report store accepted on each of its volumes: a PVC, an emptyDir, an S3 bucket', () => {
    for (const set of [[], ['reportStore.persistence.enabled=false'], ['reportStore.backend=s3', 'reportStore.s3.bucket=reports']]) {
      const manifest = helmTemplate(ns.name, ...set.flatMap((s) => ['--set', s]), '--show-only', 'templates/report-store.yaml');
      const lines = dryRun(manifest);
      expect(lines, set.join(' ')).toContain('deployment.apps/fleetwright-report-store serverside-applied (server dry run)');
      expect(lines.some((l) => l.startsWith('persistentvolumeclaim/')), set.join(' ')).toBe(set.length === 0);
    }
  });
});

describe('the NetworkPolicies the controller writes', () => {
  /** The controller's args as the chart renders them with `set`. */
  const controllerArgs = (...set: string[]) => {
    const manifest = helmTemplate(ns.name, ...set.flatMap((s) => ['--set', s]), '--show-only', 'templates/controller.yaml');
    type Deployment = Meta & { spec?: { template: { spec: { containers: { args: string[] }[] } } } };
    const deployment = (objectsOf(manifest) as Deployment[]).find((o) => o.kind === 'Deployment');
    return { manifest, args: deployment?.spec?.template.spec.containers[0]?.args.slice(1) ?? [] };
  };
  const owner = (kind: string, name: string) => ({
    namespace: ns.name,
    name,
    owner: { apiVersion: 'fleetwright.dev/v1alpha1', kind, name, uid: '7e1c3a52-0d8e-4b8f-a3a1-2c5d9f6e4b10', controller: true },
  });

  it('are accepted as the chart configures them: a pool\'s and a run\'s', () => {
    const { args } = controllerArgs();
    const config = parseControllerArgs(args).networkPolicy;
    expect(config?.namespace).toBe(ns.name);
    const policies = [poolPolicy(owner('BrowserPool', 'chromium'), config!), runPolicy(owner('TestRun', 'checkout'))];
    expect(dryRun(policies.map((p) => JSON.stringify(p)).join('\n---\n'))).toEqual([
      'networkpolicy.networking.k8s.io/fleetwright-pool-chromium serverside-applied (server dry run)',
      'networkpolicy.networking.k8s.io/fleetwright-run-checkout serverside-applied (server dry run)',
    ]);
  });

  it('are accepted for the longest names a pool and a run may have (50 characters, dots included)', () => {
    const config = parseControllerArgs(controllerArgs().args).networkPolicy!;
    const name = 'a.'.padEnd(48, 'z') + '.9';
    const policies = [poolPolicy(owner('BrowserPool', name), config), runPolicy(owner('TestRun', name))];
    expect(dryRun(policies.map((p) => JSON.stringify(p)).join('\n---\n'))).toHaveLength(2);
  });

  it('are not written with networkPolicy.enabled=false, whose objects are all accepted', () => {
    const { args } = controllerArgs('networkPolicy.enabled=false');
    expect(parseControllerArgs(args).networkPolicy).toBeUndefined();
    const manifest = helmTemplate(ns.name, '--set', 'networkPolicy.enabled=false');
    expect(dryRun(manifest)).toHaveLength(objectsOf(manifest).length);
  });
});

describe('a runner pod that uploads its report', () => {
  it('meets the restricted Pod Security Standard with the upload token mounted', () => {
    const pod = runnerPod({
      run: {
        namespace: ns.name,
        name: 'checkout',
        owner: { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'TestRun', name: 'checkout', uid: '0b7c8a5e-3f43-4a57-9d2b-4f7b8f0e2c11' },
      },
      spec: TestRunSpec.parse({
        poolRef: { name: 'chromium' },
        source: { configMap: { name: 'suite' } },
        shards: 2,
        dependencies: { npmrcSecretRef: { name: 'npmrc' } },
      }),
      image: 'localhost/fleetwright/fleetwright:dev',
      index: 1,
      attempt: 1,
      endpoint: 'ws://10.244.0.9:3000/pw',
      browser: 'chromium',
      sessions: 1,
      deadlineSeconds: 600,
      report: {
        uploadUrl: 'http://fleetwright-report-store.fleetwright-system.svc:8082/reports/x/checkout/shards/1',
        cacheUrl: 'http://fleetwright-report-store.fleetwright-system.svc:8082/dependencies/x/checkout/',
        secret: 'checkout-report',
      },
    });
    // The namespace enforces restricted: a pod it refused would fail here, one it warned of would print to stderr.
    const result = kubectl(['create', '--dry-run=server', '-n', ns.name, '-f', '-'], JSON.stringify(pod));
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('pod/checkout-1-1 created (server dry run)');
  });
});

describe('a browser pod', () => {
  const pod = () =>
    browserPod(
      { namespace: ns.name, name: 'chromium', uid: '5d0c2f0e-8a41-4c1b-9f57-2b6f1f8d3a10' },
      BrowserPoolSpec.parse({}),
      'localhost/fleetwright/fleetwright:dev',
      '/pw-0123',
    );
  const create = (body: object) => kubectl(['create', '--dry-run=server', '-n', ns.name, '-f', '-'], JSON.stringify(body));

  it('meets the restricted Pod Security Standard, non-root and with no API token', () => {
    const result = create(pod());
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(/^pod\/chromium-\w+ created \(server dry run\)$/);
  });

  it('is refused by the same namespace once it may run as root: the standard is enforced there', () => {
    const rooted = pod();
    rooted.spec!.securityContext = { ...rooted.spec!.securityContext, runAsNonRoot: false, runAsUser: 0 };
    const result = create(rooted);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('violates PodSecurity "restricted:latest"');
    expect(result.stderr).toContain('runAsNonRoot != true');
  });
});

describe('config/ on a real API server', () => {
  const kustomize = (dir: string) => {
    const result = kubectl(['kustomize', join(repoRoot, 'config', dir)]);
    if (result.status !== 0) throw new Error(`kubectl kustomize config/${dir}: ${result.stderr}`);
    return result.stdout;
  };

  it('installs with config/default what the chart installs with its defaults, plus the namespace', () => {
    const fromKustomize = objectsOf(kustomize('default')).map(idOf).sort();
    const fromChart = objectsOf(helmTemplate(SYSTEM_NAMESPACE, '--include-crds')).map(idOf);
    // `helm install --create-namespace` makes the namespace; kustomize has to ship it.
    expect(fromKustomize).toEqual([...fromChart, `Namespace -/${SYSTEM_NAMESPACE}`].sort());
  });

  it('has config/default accepted', () => {
    const manifest = kustomize('default');
    expect(dryRun(manifest)).toHaveLength(objectsOf(manifest).length);
  });

  it('takes the overlay of docs/operations.md: your image for the pods and for --image alike', () => {
    const overlay = objectsOf(kustomize(join('..', 'test', 'fixtures', 'chart', 'overlay'))) as (Meta & {
      spec?: { template?: { spec: { containers: { image: string; args?: string[] }[] } } };
    })[];
    const image = 'registry.example.com/platform/fleetwright:1.2.3';
    const containers = overlay.filter((o) => o.kind === 'Deployment').flatMap((d) => d.spec?.template?.spec.containers ?? []);
    expect(containers.map((c) => c.image)).toEqual([image, image, image]);
    const controller = overlay.find((o) => o.metadata.name === 'fleetwright-controller' && o.kind === 'Deployment');
    expect(controller?.spec?.template?.spec.containers[0]?.args).toContain(`--image=${image}`);
  });

  it('has config/prometheus accepted', () => {
    const manifest = kustomize('prometheus');
    const objects = objectsOf(manifest);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule']));
    expect(dryRun(manifest)).toHaveLength(objects.length);
  });
});
