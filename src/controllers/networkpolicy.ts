// Who may reach a browser pod: a NetworkPolicy per BrowserPool (the gateway on the agent's port, the controller
// on its health port) and one per TestRun (the run's runners on the agent's port of the browsers leased to it).
// Policies add up, so a browser leased to a run admits the gateway, the controller and that run's runners only.
// The chart cannot render these: they live in the users' namespaces and follow the leases.
import { isDeepStrictEqual } from 'node:util';
import { NETWORK_POLICY } from '../api/builtin.ts';
import type { KubeObject, OwnerReference } from '../api/meta.ts';
import { LEASED_TO_LABEL, POOL_LABEL } from '../contracts/browser-lease.ts';
import { AGENT_HEALTH_PORT, AGENT_PORT } from '../contracts/ports.ts';
import type { Reader } from '../runtime/store.ts';
import { keyOf, objectPath } from '../runtime/resource.ts';
import type { RestClient } from '../runtime/rest.ts';
import { fieldManager } from '../runtime/status.ts';
import { TESTRUN_LABEL } from './testrun/pod.ts';

/** Where the gateway and the controller run (--network-policy-namespace and the pod label flags). */
export interface NetworkPolicyConfig {
  namespace: string;
  gatewayPodLabels: Record<string, string>;
  controllerPodLabels: Record<string, string>;
}

/** The object a policy protects and owns it. */
export interface PolicyOwner {
  namespace: string;
  name: string;
  owner: OwnerReference;
}

export const poolPolicyName = (pool: string) => `fleetwright-pool-${pool}`;
export const runPolicyName = (run: string) => `fleetwright-run-${run}`;

const tcp = (port: number) => [{ protocol: 'TCP', port }];

function policy(owner: PolicyOwner, name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: NETWORK_POLICY.apiVersion,
    kind: NETWORK_POLICY.kind,
    metadata: {
      name,
      namespace: owner.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'fleetwright' },
      ownerReferences: [owner.owner],
    },
    spec: { ...spec, policyTypes: ['Ingress'] },
  };
}

/**
 * The pool's browsers admit the gateway's pods on the agent's port and the controller's on the health port
 * (GET /status), both from the release namespace. The kubelet's readiness probe is node traffic, which the
 * CNIs that enforce NetworkPolicy let through.
 */
export function poolPolicy(pool: PolicyOwner, config: NetworkPolicyConfig): KubeObject {
  const from = (podLabels: Record<string, string>) => [{
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': config.namespace } },
    podSelector: { matchLabels: podLabels },
  }];
  return policy(pool, poolPolicyName(pool.name), {
    podSelector: { matchLabels: { [POOL_LABEL]: pool.name } },
    ingress: [
      { from: from(config.gatewayPodLabels), ports: tcp(AGENT_PORT) },
      { from: from(config.controllerPodLabels), ports: tcp(AGENT_HEALTH_PORT) },
    ],
  });
}

/** The browsers leased to the run admit its runner pods (same namespace) on the agent's port. */
export function runPolicy(run: PolicyOwner): KubeObject {
  return policy(run, runPolicyName(run.name), {
    podSelector: { matchLabels: { [LEASED_TO_LABEL]: run.name } },
    ingress: [{ from: [{ podSelector: { matchLabels: { [TESTRUN_LABEL]: run.name } } }], ports: tcp(AGENT_PORT) }],
  });
}

/** Whether the stored policy already is `desired`: same spec, labels and owners. */
export function policyMatches(stored: KubeObject | undefined, desired: KubeObject): boolean {
  if (!stored) return false;
  const labels = desired.metadata.labels ?? {};
  return isDeepStrictEqual(stored.spec, desired.spec) &&
    Object.entries(labels).every(([k, v]) => stored.metadata.labels?.[k] === v) &&
    isDeepStrictEqual(stored.metadata.ownerReferences, desired.metadata.ownerReferences);
}

/**
 * Server-side applies `desired` unless the cache holds it as it is: an idle controller makes no writes.
 * Apply creates or updates in one call and takes the fields back from anyone who edited them.
 */
export async function ensurePolicy(rest: RestClient, cache: Reader, desired: KubeObject): Promise<boolean> {
  const ref = { namespace: desired.metadata.namespace ?? '', name: desired.metadata.name ?? '' };
  if (policyMatches(cache.get(keyOf(ref)), desired)) return false;
  await rest.apply(objectPath(NETWORK_POLICY, ref), desired, fieldManager);
  return true;
}
