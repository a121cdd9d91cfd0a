// A gateway replica's heartbeat: one coordination.k8s.io Lease per replica,
// whose annotation carries its connection counts per Tunnel and the pools it
// holds browsers of. The gateway writes it; the Tunnel controller adds the
// counts up and the pool controller takes back the browsers of a replica
// whose heartbeat stopped. A browser lease of a gateway connection names its
// replica and process in the holder (connectionHolder), so both know whose it
// is. The builders and readers of the Lease are in src/leasing/gateways.ts.
import { z } from 'zod';

/** A replica's heartbeat Lease: namespace and name. */
export interface ReplicaRef {
  namespace: string;
  name: string;
}

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

/**
 * The holder of a browser lease taken for one connection of a gateway replica
 * process. It names the process (`identity`) as well as the replica: a replica
 * restarted under the same name renews the same Lease, and only the identity
 * tells that the process holding the browser is gone.
 */
export const connectionHolder = (replica: ReplicaRef, identity: string, connection: string) =>
  `gateway/${replica.namespace}/${replica.name}/${identity}/${connection}`;

/** The replica Lease and process a connection holder names; undefined for holders that are not gateway connections. */
export function gatewayOfHolder(holder: string): { replica: ReplicaRef; identity: string } | undefined {
  const [prefix, namespace, name, identity, connection, ...rest] = holder.split('/');
  return prefix === 'gateway' && namespace && name && identity && connection && rest.length === 0
    ? { replica: { namespace, name }, identity }
    : undefined;
}
