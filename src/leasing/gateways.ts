// Gateway replicas' heartbeat Leases (contracts/gateway-heartbeat.ts): the
// one a replica writes, what a reader gets from one, and whether the process
// a browser lease names still lives.
import { LEASE, type LeaseObject, type PodObject } from '../api/builtin.ts';
import { type KubeObject, microTime } from '../api/meta.ts';
import { POOL_LABEL } from '../contracts/browser-lease.ts';
import {
  GATEWAY_REPLICA_LABEL,
  GatewayReport,
  gatewayOfHolder,
  REPLICA_LEASE_SECONDS,
  REPORT_ANNOTATION,
} from '../contracts/gateway-heartbeat.ts';
import type { ObjectRef } from './acquire.ts';
import { leaseOf } from './lease.ts';

/** A gateway replica's heartbeat: a Lease object labelled GATEWAY_REPLICA_LABEL. */
export type ReplicaLease = LeaseObject;

/**
 * The heartbeat Lease of replica `ref`, run by process `identity`, carrying
 * `report`. A replica that stops writes its last one with a duration of 1 s:
 * the Tunnel controller adds up its final counts and then deletes it.
 */
export function replicaLease(
  ref: ObjectRef,
  identity: string,
  report: GatewayReport,
  now: Date,
  durationSeconds = REPLICA_LEASE_SECONDS,
): ReplicaLease {
  return {
    apiVersion: LEASE.apiVersion,
    kind: LEASE.kind,
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { [GATEWAY_REPLICA_LABEL]: 'true' },
      annotations: { [REPORT_ANNOTATION]: JSON.stringify(report) },
    },
    spec: { holderIdentity: identity, renewTime: microTime(now), leaseDurationSeconds: durationSeconds },
  };
}

/** What a replica Lease reports; undefined when it is not one or its annotation is unreadable. */
export function reportOf(lease: KubeObject): GatewayReport | undefined {
  if (lease.metadata.labels?.[GATEWAY_REPLICA_LABEL] !== 'true') return undefined;
  try {
    return GatewayReport.parse(JSON.parse(lease.metadata.annotations?.[REPORT_ANNOTATION] ?? ''));
  } catch {
    return undefined;
  }
}

/**
 * The pools (`namespace/name`) a gateway replica's heartbeat Lease concerns: those its report says it holds
 * browsers of, and those of `leasedPods` leased to it. A replica that stopped or died between closing a session
 * and giving the browser back reports that pool no more, yet the pool must take the browser back when it goes.
 */
export function poolsOfReplica(lease: KubeObject, leasedPods: PodObject[]): string[] {
  if (lease.metadata.labels?.[GATEWAY_REPLICA_LABEL] !== 'true') return [];
  const pools = new Set(reportOf(lease)?.pools);
  for (const pod of leasedPods) {
    const holder = leaseOf(pod)?.holder;
    const replica = holder === undefined ? undefined : gatewayOfHolder(holder)?.replica;
    const pool = pod.metadata.labels?.[POOL_LABEL];
    if (pool && replica && replica.namespace === lease.metadata.namespace && replica.name === lease.metadata.name) {
      pools.add(`${pod.metadata.namespace}/${pool}`);
    }
  }
  return [...pools].sort();
}

/** When the replica counts as dead unless it renews (epoch ms); NaN for an unreadable renewTime. */
export function replicaExpiry(lease: ReplicaLease): number {
  const renewed = Date.parse(lease.spec?.renewTime ?? '');
  return renewed + (lease.spec?.leaseDurationSeconds ?? REPLICA_LEASE_SECONDS) * 1000;
}

/** Renewed within its duration: the replica process is alive. */
export function isReplicaAlive(lease: ReplicaLease, now: Date): boolean {
  return replicaExpiry(lease) > now.getTime();
}

/**
 * Whether the gateway process a lease holder names still lives, given its
 * replica's heartbeat Lease: why not, or until when its Lease vouches for it.
 * Undefined for holders that are not gateway connections.
 */
export function gatewayHolderLiveness(
  holder: string,
  heartbeatOf: (replica: ObjectRef) => ReplicaLease | undefined,
  now: Date,
): { gone: string } | { until: number } | undefined {
  const gateway = gatewayOfHolder(holder);
  if (!gateway) return undefined;
  const replica = `${gateway.replica.namespace}/${gateway.replica.name}`;
  const heartbeat = heartbeatOf(gateway.replica);
  if (!heartbeat || !isReplicaAlive(heartbeat, now)) return { gone: `gateway replica ${replica} stopped renewing its Lease` };
  if (heartbeat.spec?.holderIdentity !== gateway.identity) {
    return { gone: `gateway replica ${replica} restarted: the process holding it is gone` };
  }
  return { until: replicaExpiry(heartbeat) };
}
