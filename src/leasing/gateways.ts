// Gateway replicas and what they report. Each gateway process keeps one
// coordination.k8s.io Lease object alive (a heartbeat) whose annotation holds
// its connection counts per Tunnel and the pools it holds browsers of. The
// Tunnel controller adds the counts of live replicas up into Tunnel status;
// the pool controller takes back browsers held by a replica whose Lease is
// gone or expired. Browser leases of Tunnel connections name their replica
// in the holder, so a dead replica's browsers are known.
import { z } from 'zod';
import { LEASE, type LeaseObject } from '../api/builtin.ts';
import { type KubeObject, microTime } from '../api/meta.ts';
import type { ObjectRef } from './acquire.ts';

/** Marks a Lease object as a gateway replica's heartbeat. */
export const GATEWAY_REPLICA_LABEL = 'fleetwright.dev/gateway-replica';
export const REPORT_ANNOTATION = 'fleetwright.dev/connections';
/** A replica renews its Lease this often, and sooner (debounced) when its counts change. */
export const REPORT_INTERVAL_MS = 10_000;
/** A replica whose Lease was not renewed for this long is dead: its browsers are taken back. */
export const REPLICA_LEASE_SECONDS = 30;

export const TunnelCounts = z.object({
  /** Connections open now, waiting for a browser included. */
  active: z.int().min(0),
  /** Connections accepted since this replica process started. */
  accepted: z.int().min(0),
});
export type TunnelCounts = z.infer<typeof TunnelCounts>;

export const GatewayReport = z.object({
  /** Every Tunnel the replica serves, by namespace/name, with zeros for the quiet ones. */
  tunnels: z.record(z.string(), TunnelCounts),
  /** namespace/name of the pools the replica holds browsers of now. */
  pools: z.array(z.string()),
});
export type GatewayReport = z.infer<typeof GatewayReport>;

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
 * The holder of a browser lease taken for one connection of a gateway replica
 * process. It names the process (`identity`) as well as the replica: a replica
 * restarted under the same name renews the same Lease, and only the identity
 * tells that the process holding the browser is gone.
 */
export const connectionHolder = (replica: ObjectRef, identity: string, connection: string) =>
  `gateway/${replica.namespace}/${replica.name}/${identity}/${connection}`;

/** The replica Lease and process a connection holder names; undefined for holders that are not gateway connections. */
export function gatewayOfHolder(holder: string): { replica: ObjectRef; identity: string } | undefined {
  const [prefix, namespace, name, identity, connection, ...rest] = holder.split('/');
  return prefix === 'gateway' && namespace && name && identity && connection && rest.length === 0
    ? { replica: { namespace, name }, identity }
    : undefined;
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
