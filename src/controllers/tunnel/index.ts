// The Tunnel controller: reports where a Tunnel is served, whether it can be
// (its pools, its Secret, its path, a gateway), the Playwright versions it
// serves, and its connections over all gateway replicas; with a report store,
// gives it its session token (sessions.ts) and says whether its recordings
// are stored; and deletes the heartbeat Lease of a dead replica once every
// Tunnel has folded its counts. Decisions are plan.ts's; this file reads the
// cache and applies them.
import { LEASE, SECRET, type SecretObject } from '../../api/builtin.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { BrowserPoolObject, TunnelObject } from '../../api/objects.ts';
import { type Tunnel, TunnelResource, tunnelPath } from '../../api/v1alpha1/index.ts';
import { parseResource } from '../../api/validate.ts';
import { GATEWAY_REPLICA_LABEL, type TunnelCounts } from '../../contracts/gateway-heartbeat.ts';
import { REPORT_READER_SECRET } from '../../contracts/report-store.ts';
import { SESSION_TOKEN_LABEL } from '../../contracts/tunnel-session.ts';
import { isReplicaAlive, type ReplicaLease, replicaExpiry, reportOf } from '../../leasing/gateways.ts';
import { findCondition } from '../../runtime/conditions.ts';
import type { Controller } from '../../runtime/controller.ts';
import { defineReconciler, type Outcome, type Pass } from '../../runtime/reconciler.ts';
import { controllerReference } from '../../runtime/owners.ts';
import { keyOf, objectKey, objectPath, parseKey, type Request } from '../../runtime/resource.ts';
import { isConflict, isNotFound } from '../../runtime/rest.ts';
import { BROWSER_POOL, TUNNEL } from '../../api/resources.ts';
import {
  foldedEverywhere,
  type PathClaim,
  pathHolder,
  type PoolView,
  type Readiness,
  type SessionStorage,
  tunnelStatus,
  tunnelUrl,
} from './plan.ts';
import { ensureSessionSecrets } from './sessions.ts';

/** Looks at a replica just after its Lease would expire: timers and clocks are not exact to the millisecond. */
const EXPIRY_MARGIN_MS = 100;

/** What the map functions read of a stored Tunnel, which they do not validate. */
type StoredSpec = NonNullable<TunnelObject['spec']>;
const storedSpec = (obj: KubeObject): StoredSpec => (obj as TunnelObject).spec ?? {};

export interface TunnelOptions {
  /** The gateway's external URL (scheme and host); status.url is it plus the Tunnel's path. */
  gatewayUrl?: string;
  /** The report store's URL (--report-store-url); unset: sessions are not stored. */
  reportStoreUrl?: string;
  now?: () => Date;
}

/** A replica Lease that reports `key`, read for one pass. */
interface Replica {
  lease: ReplicaLease;
  identity: string;
  alive: boolean;
  expiresAt: number;
  counts: TunnelCounts;
  /** namespace/name of every Tunnel it reports. */
  tunnels: string[];
}

const requestOf = (obj: KubeObject): Request => ({ namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '' });

/** The path a stored Tunnel claims, read without validating the rest of it. */
const claimedPath = (obj: KubeObject) => tunnelPath({ metadata: obj.metadata, spec: storedSpec(obj) });

export function tunnelController(options: TunnelOptions): Controller {
  // The map functions read the Tunnel cache, which the frame hands over once at start.
  let tunnels: () => KubeObject[] = () => [];
  const inNamespace = (obj: KubeObject, uses: (spec: StoredSpec) => boolean) =>
    tunnels()
      .filter((t) => t.metadata.namespace === obj.metadata.namespace && uses(storedSpec(t)))
      .map(requestOf);
  const listsPool = (pool: KubeObject) => (spec: StoredSpec) =>
    (spec.poolRefs ?? []).some((ref) => ref.name === pool.metadata.name);
  const namesSecret = (secret: KubeObject) => (spec: StoredSpec) => spec.auth?.secretRef?.name === secret.metadata.name;
  // With a report store: a session token or reader Secret deleted by hand is made again.
  const sessionSecret = (secret: KubeObject) => {
    if (!options.reportStoreUrl) return [];
    if (secret.metadata.name === REPORT_READER_SECRET) return inNamespace(secret, () => true);
    const tunnel = secret.metadata.labels?.[SESSION_TOKEN_LABEL];
    return tunnel ? [{ namespace: secret.metadata.namespace ?? '', name: tunnel }] : [];
  };
  return defineReconciler<TunnelObject>({
    name: 'tunnel',
    for: TUNNEL,
    watches: [
      { type: BROWSER_POOL, map: (pool) => inNamespace(pool, listsPool(pool)) },
      { type: SECRET, map: (secret) => [...inNamespace(secret, namesSecret(secret)), ...sessionSecret(secret)] },
      // A Tunnel that leaves a path, or claims one, changes who holds it.
      {
        type: TUNNEL,
        map: (tunnel) => tunnels()
          .filter((t) => claimedPath(t) === claimedPath(tunnel) && objectKey(t) !== objectKey(tunnel))
          .map(requestOf),
      },
      { type: LEASE, map: (lease) => Object.keys(reportOf(lease)?.tunnels ?? {}).map(parseKey) },
    ],
    clock: options.now,
    setup: (cache) => {
      tunnels = () => cache(TUNNEL).list();
    },
    reconcile: (tunnel, pass) => reconcileTunnel(tunnel, pass, options),
    // A deleted Tunnel's dead replicas still fold and go.
    gone: async (pass) => {
      const replicas = replicasOf(pass);
      await deleteFoldedReplicas(pass, replicas);
      return nextLook(replicas, pass.now);
    },
  });
}

/** The status of where the Tunnel is served and its connections; then the dead replicas folded everywhere go. */
async function reconcileTunnel(cached: TunnelObject, pass: Pass, options: TunnelOptions): Promise<Outcome> {
  const replicas = replicasOf(pass);
  const parsed = parseResource(TunnelResource, cached);
  const { status, ready, recording } = tunnelStatus({
    previous: cached.status,
    generation: cached.metadata.generation,
    observed: parsed.ok ? observe(pass, parsed.value, replicas, options.gatewayUrl) : { invalid: parsed.message },
    replicas,
    sessions: parsed.ok ? await sessionStorage(pass, cached, options.reportStoreUrl) : { store: false },
    now: pass.now,
  });
  const before = (type: string) => findCondition(cached.status?.conditions, type)?.reason;
  return {
    status,
    afterStatus: async (written) => {
      if (written && before('Ready') !== ready.reason) await announce(pass, cached, ready);
      if (written && recording && before('Recording') !== recording.reason) await announce(pass, cached, recording);
      await deleteFoldedReplicas(pass, replicas);
    },
    ...nextLook(replicas, pass.now),
  };
}

/** A condition that changed, said in the log and as an Event, in the same words. */
async function announce(pass: Pass, tunnel: TunnelObject, condition: Readiness): Promise<void> {
  const type = condition.status === 'True' ? 'Normal' : 'Warning';
  if (type === 'Normal') pass.log.info({ reason: condition.reason }, condition.message);
  else pass.log.warn({ reason: condition.reason }, condition.message);
  await pass.events.emit(tunnel, { type, reason: condition.reason, action: 'Reconcile', note: condition.message });
}

/** With a report store, the Tunnel's session token and the namespace's reader Secret, made when missing. */
async function sessionStorage(pass: Pass, tunnel: TunnelObject, storeUrl: string | undefined): Promise<SessionStorage> {
  if (!storeUrl) return { store: false };
  const deps = { rest: pass.rest, secrets: pass.cache<SecretObject>(SECRET), log: pass.log };
  const setup = await ensureSessionSecrets(deps, tunnel, controllerReference(tunnel));
  return { store: true, problem: setup.ok ? setup.warning : setup.message };
}

/** Looks again just after the first live replica would expire. */
function nextLook(replicas: Replica[], now: Date): { requeueAfter: number } | undefined {
  const expiries = replicas.filter((r) => r.alive).map((r) => r.expiresAt - now.getTime());
  return expiries.length > 0 ? { requeueAfter: Math.min(...expiries) + EXPIRY_MARGIN_MS } : undefined;
}

/** The replica Leases that report the pass's Tunnel. */
function replicasOf(pass: Pass): Replica[] {
  const key = keyOf(pass.request);
  const leases = pass.cache<ReplicaLease>(LEASE).list({ labels: { [GATEWAY_REPLICA_LABEL]: 'true' } });
  return leases.flatMap((lease) => {
    const report = reportOf(lease);
    const counts = report && Object.hasOwn(report.tunnels, key) ? report.tunnels[key] : undefined;
    const identity = lease.spec?.holderIdentity;
    if (!report || !counts || !identity) return [];
    return [{
      lease,
      identity,
      alive: isReplicaAlive(lease, pass.now),
      expiresAt: replicaExpiry(lease),
      counts,
      tunnels: Object.keys(report.tunnels),
    }];
  });
}

function observe(pass: Pass, tunnel: Tunnel, replicas: Replica[], gatewayUrl: string | undefined) {
  const { namespace } = pass.request;
  const pools = new Map<string, PoolView>();
  for (const ref of tunnel.spec.poolRefs) {
    const pool = pass.cache<BrowserPoolObject>(BROWSER_POOL).get(keyOf({ namespace, name: ref.name }));
    if (pool) {
      pools.set(ref.name, {
        playwrightVersion: pool.status?.playwrightVersion,
        playwrightVersions: pool.status?.playwrightVersions,
      });
    }
  }
  const secretRef = { namespace, name: tunnel.spec.auth.secretRef.name };
  const path = tunnelPath(tunnel);
  return {
    tunnel,
    pools,
    secret: pass.cache<SecretObject>(SECRET).get(keyOf(secretRef)),
    pathHolder: pathHolderOf(pass, path)?.key,
    liveReplicas: replicas.filter((r) => r.alive).length,
    url: tunnelUrl(gatewayUrl, path),
  };
}

/** The other Tunnel that keeps this one's path; only Tunnels the gateway can serve (a valid spec) count. */
function pathHolderOf(pass: Pass, path: string): PathClaim | undefined {
  const self = keyOf(pass.request);
  const claims: PathClaim[] = [];
  for (const t of pass.cache<TunnelObject>(TUNNEL).list()) {
    if (claimedPath(t) !== path) continue;
    if (objectKey(t) !== self && !parseResource(TunnelResource, t).ok) continue;
    claims.push({ key: objectKey(t), path, creationTimestamp: String(t.metadata.creationTimestamp ?? '') });
  }
  const claim = claims.find((c) => c.key === self);
  return claim && pathHolder(claim, claims);
}

/** Deletes the Lease of each dead replica whose counts every Tunnel it reported has folded. */
async function deleteFoldedReplicas(pass: Pass, replicas: Replica[]): Promise<void> {
  for (const replica of replicas) if (!replica.alive) await deleteIfFolded(pass, replica);
}

/**
 * Deletes a dead replica's Lease once the cache shows every Tunnel it
 * reported with its counts folded (the cache, not this pass's write: a
 * later pass that read an older status would otherwise find the replica
 * neither recorded nor reporting, and lose its final counts). Deleting it
 * tells the pool controller to take back its browsers. The delete carries
 * the resourceVersion read: a replica that renewed meanwhile keeps its Lease.
 */
async function deleteIfFolded(pass: Pass, replica: Replica): Promise<void> {
  const statuses = replica.tunnels.map((key) => pass.cache<TunnelObject>(TUNNEL).get(key)?.status);
  if (!foldedEverywhere(replica.identity, statuses)) return;
  const { lease } = replica;
  const body = { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: lease.metadata.resourceVersion } };
  try {
    await pass.rest.request('DELETE', objectPath(LEASE, requestOf(lease)), { body });
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return;
    throw err;
  }
  pass.log.info(
    { lease: objectKey(lease), identity: replica.identity },
    `deleted the Lease of gateway replica ${objectKey(lease)}: it stopped renewing it and its counts are folded`,
  );
}
