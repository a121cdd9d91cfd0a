// The built-in kinds Fleetwright reads and writes, each declared once: where
// the runtime finds it, and the fields of it that we read. An object from a
// cache or a GET is what the API server sent: any field may be missing.
import type { KubeObject, ResourceType } from './meta.ts';

export const POD: ResourceType = { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
export const SECRET: ResourceType = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
export const CONFIG_MAP: ResourceType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
/** coordination.k8s.io Leases: leader election, lease requests and the gateway replicas' heartbeats. */
export const LEASE: ResourceType = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true };
export const NETWORK_POLICY: ResourceType = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  plural: 'networkpolicies',
  namespaced: true,
};

/** Nodes: a browser pod on a node that is not Ready is lost to its pool. */
export const NODE: ResourceType = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
/** policy/v1 PodDisruptionBudgets: each pool's keeps drains off its leased browsers. */
export const POD_DISRUPTION_BUDGET: ResourceType = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  plural: 'poddisruptionbudgets',
  namespaced: true,
};

/** A Node: only its conditions are read (the caches keep its Ready condition and nothing else). */
export interface NodeObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string; finishedAt?: string };
}

export interface ContainerStatus {
  name: string;
  state?: ContainerState;
}

/** A pod: browser pods, runner pods. */
export interface PodObject extends KubeObject {
  spec?: {
    /** The node the pod is bound to; unset until it is scheduled. */
    nodeName?: string;
    containers?: { name?: string; ports?: { name?: string; containerPort?: number }[] }[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    /** Why the pod stopped when it is not its containers' doing: Evicted, DeadlineExceeded. */
    reason?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** A Secret: its values base64-encoded, as the API server sends them. */
export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The value of `key` of a Secret, decoded; undefined when the Secret or the key is missing. */
export function secretValue(secret: SecretObject | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Every value of a Secret, decoded. */
export const secretValues = (secret: SecretObject): Record<string, string> =>
  Object.fromEntries(Object.keys(secret.data ?? {}).map((key) => [key, secretValue(secret, key) as string]));

/** A Secret's `data` for these values. */
export const secretData = <K extends string>(values: Record<K, string>): Record<K, string> =>
  Object.fromEntries(Object.entries<string>(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')])) as
    Record<K, string>;

/** A coordination.k8s.io Lease; times are MicroTime strings. */
export interface LeaseObject extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}
