// The Helm release the suite installs, and what a user would look at to see
// how it is doing: Deployments, the leader election Lease, the controller's log.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { ReleaseRecord } from '../../hack/lib/release-plan.ts';
import { getJson, helm, kubectl, type KubeObject, listJson, type Pod, tryHelm, tryKubectl, waitFor } from './kube.ts';

/**
 * Not `fleetwright` in fleetwright-system: the other suites apply the chart's
 * RBAC under that name by hand (test/chart-identities.ts), and Helm adopts
 * nothing it did not create. The full name is <release>-fleetwright.
 */
export const release = { name: 'e2e', namespace: 'fleetwright-e2e', fullname: 'e2e-fleetwright' };
/** Where the samples go: a namespace of users, apart from the operator's. */
export const samples = 'fleetwright-e2e-samples';

export const controllerName = `${release.fullname}-controller`;
export const gatewayName = `${release.fullname}-gateway`;
export const reportStoreName = `${release.fullname}-report-store`;
const componentSelector = (component: string) =>
  `app.kubernetes.io/instance=${release.name},app.kubernetes.io/component=${component}`;

/** Both namespaces enforce the restricted Pod Security Standard, as docs/operations.md says they may. */
export function createNamespaces(): void {
  for (const name of [release.namespace, samples]) {
    kubectl(['create', 'namespace', name]);
    kubectl(['label', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted']);
  }
}

/** The released image as the chart names it: pinned by digest. */
export const releasedImage = (r: ReleaseRecord) => `${r.image.replace(/:[^:/]+$/, '')}@${r.digest}`;

/**
 * The chart of release `r`, pulled from the registry. FLEETWRIGHT_E2E_CHART
 * points at a copy of charts/fleetwright to try by hand instead (a rule
 * removed from its RBAC, say), with the released image.
 */
function chartOf(r: ReleaseRecord): string[] {
  const copy = process.env.FLEETWRIGHT_E2E_CHART;
  if (!copy) return [r.chart, '--version', r.version, '--plain-http'];
  const [repository = '', digest = ''] = releasedImage(r).split('@');
  return [copy, '--set', `image.repository=${repository}`, '--set', `image.digest=${digest}`];
}

/**
 * What fits the chart to this machine: the report store's reports in an emptyDir, as this cluster has no
 * storage provisioner for its PersistentVolumeClaim. Every other value is the chart's default.
 */
const machineValues = ['--set', 'reportStore.persistence.enabled=false'];

export const install = (r: ReleaseRecord, flags: string[] = []) =>
  helm(['install', release.name, ...chartOf(r), '--namespace', release.namespace, ...machineValues, ...flags]);

/** `helm upgrade` to release `r` with this machine's values, and `values` (`--reuse-values` keeps the earlier ones). */
export const upgrade = (r: ReleaseRecord, values: string[] = []) =>
  helm(['upgrade', release.name, ...chartOf(r), '--namespace', release.namespace, ...machineValues, ...values]);

/** config/samples/*.yaml into the samples namespace, as `kubectl apply -f config/samples/` would. */
export function applySamples(): void {
  kubectl(['apply', '-n', samples, '-f', join(repoRoot, 'config', 'samples')]);
}

/** The sample Tunnel's token, from its Secret in config/samples/tunnel.yaml. */
export function sampleToken(): string {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'config', 'samples', 'tunnel.yaml'), 'utf8'));
  const secret = docs.map((d) => d.toJS() as { kind: string; stringData?: Record<string, string> })
    .find((d) => d.kind === 'Secret');
  const token = secret?.stringData?.token;
  if (!token) throw new Error('config/samples/tunnel.yaml has no Secret with stringData.token');
  return token;
}

interface Deployment extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number };
  spec: { replicas: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string }[];
  };
}

/** Rolled out and Available: every replica updated to the latest template and available, no old one left. */
export function deploymentDone(name: string): boolean {
  const d = getJson<Deployment>(['deployment', name, '-n', release.namespace]);
  const s = d?.status;
  return Boolean(
    d && s && s.observedGeneration === d.metadata.generation &&
    s.updatedReplicas === d.spec.replicas && s.replicas === d.spec.replicas &&
    s.availableReplicas === d.spec.replicas &&
    s.conditions?.some((c) => c.type === 'Available' && c.status === 'True'),
  );
}

export const componentPods = (component: 'controller' | 'gateway' | 'report-store') =>
  listJson<Pod>(['pods', '-n', release.namespace, '-l', componentSelector(component)])
    .filter((p) => !p.metadata.deletionTimestamp);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

/** The pod that holds the controller's leader election Lease (its identity is <pod>_<uuid>), if any. */
export function leaderPod(): string | undefined {
  const lease = getJson<Lease>(['lease', controllerName, '-n', release.namespace]);
  return lease?.spec?.holderIdentity?.split('_')[0] || undefined;
}

/** The last lines of every controller replica's log, for a failure message: a 403 shows up there first. */
export function controllerLog(lines = 15): string {
  const result = tryKubectl([
    'logs', '-n', release.namespace, '-l', componentSelector('controller'), `--tail=${lines}`, '--prefix',
    '--ignore-errors',
  ]);
  // The message of each JSON line is enough (a 403 names the verb, resource and user); stacks are not.
  const text = `${result.stdout}${result.stderr}`.split('\n').map((line) => line.slice(0, 600)).join('\n');
  return `controller log (last ${lines} lines per replica, cut at 600 characters):\n${text}`;
}

/**
 * Removes whatever a run left: the samples' objects first, while a controller may still take
 * their finalizers off, then the release, then the namespaces. A finalizer no controller will
 * remove anymore is taken off by hand, so the namespaces always go.
 */
export async function removeEverything(): Promise<void> {
  const kinds = 'testruns.fleetwright.dev,browserpools.fleetwright.dev,tunnels.fleetwright.dev';
  if (getJson(['namespace', samples])) {
    tryKubectl(['delete', kinds, '--all', '-n', samples, '--wait=true', '--timeout=60s']);
    for (const name of tryKubectl(['get', kinds, '-n', samples, '-o', 'name']).stdout.split('\n').filter(Boolean)) {
      tryKubectl(['patch', name, '-n', samples, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
  }
  tryHelm(['uninstall', release.name, '--namespace', release.namespace, '--wait', '--timeout=90s']);
  for (const name of [samples, release.namespace]) tryKubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
  await waitFor('the namespaces of an earlier run to go', () => !getJson(['namespace', samples]) &&
    !getJson(['namespace', release.namespace]), { timeoutMs: 120_000 });
}
