// Who may reach a browser pod: a NetworkPolicy per BrowserPool (the gateway on the agent's port, the controller
// on its health port) and one per TestRun (the run's runners on the agent's port of the browsers leased to it).
// Policies add up, so a browser leased to a run admits the gateway, the controller and that run's runners only.
// The chart cannot render these: they live in the users' namespaces and follow the leases.
import { NETWORK_POLICY } from '../api/builtin.ts';
import type { KubeObject, OwnerReference } from '../api/meta.ts';
import { LEASED_TO_LABEL, POOL_LABEL } from '../contracts/browser-lease.ts';
import { AGENT_HEALTH_PORT, AGENT_PORT } from '../contracts/ports.ts';
import type { Reader } from '../runtime/store.ts';
import type { RestClient } from '../runtime/rest.ts';
import { ensureApplied, matchesStored } from './applied.ts';
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
export const policyMatches = matchesStored;

/** Server-side applies the policy unless the cache holds it as it is: an idle controller makes no writes. */
export const ensurePolicy = (rest: RestClient, cache: Reader, desired: KubeObject): Promise<boolean> =>
  ensureApplied(rest, cache, NETWORK_POLICY, desired);
