// What a Tunnel's status should say, from what the controller observes: its
// pools, its Secret, the other Tunnels, and what each gateway replica reports.
// Pure: the controller (index.ts) observes and applies.
import type { SecretObject } from '../../api/builtin.ts';
import { type BrowserPoolStatus, type Tunnel, tunnelPath, type TunnelStatus } from '../../api/v1alpha1/index.ts';
import type { TunnelCounts } from '../../contracts/gateway-heartbeat.ts';
import { type ConditionUpdate, removeCondition, setCondition } from '../../runtime/conditions.ts';
import { withStoreField } from '../store-secrets.ts';

/** One replica's counts for one Tunnel, as status.gateways records them. */
export interface GatewayCount {
  identity: string;
  active: number;
  accepted: number;
}

/** What one replica Lease says about one Tunnel. */
export interface ReplicaCounts {
  /** The replica process (its Lease's holderIdentity): its counts start from zero when it starts. */
  identity: string;
  alive: boolean;
  counts: TunnelCounts;
}

export interface Connections {
  gateways: GatewayCount[];
  activeConnections: number;
  totalConnections: number;
}

/**
 * Adds the replicas' reports up. The recorded `gateways` are the watermark:
 * each replica adds what it accepted since it was last recorded, so passes
 * over the same reports count nothing twice, and a restarted controller
 * carries on from the stored status. A dead replica adds its final delta and
 * drops out. A dead replica that is not recorded adds nothing: it was either
 * folded by an earlier pass or died before any pass saw it alive, and the
 * two cannot be told apart; the first is what happens every pass until its
 * Lease is deleted.
 */
export function aggregateConnections(
  previous: { gateways?: readonly GatewayCount[]; totalConnections?: number },
  reports: readonly ReplicaCounts[],
): Connections {
  const recorded = new Map((previous.gateways ?? []).map((g) => [g.identity, g.accepted]));
  let totalConnections = previous.totalConnections ?? 0;
  const gateways: GatewayCount[] = [];
  for (const { identity, alive, counts } of reports) {
    const before = recorded.get(identity);
    if (!alive && before === undefined) continue;
    totalConnections += Math.max(0, counts.accepted - (before ?? 0));
    if (alive) gateways.push({ identity, active: counts.active, accepted: counts.accepted });
  }
  gateways.sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  const activeConnections = gateways.reduce((sum, g) => sum + g.active, 0);
  return { gateways, activeConnections, totalConnections };
}

/** Whether no Tunnel still records `identity`: a dead replica's Lease may go once this holds for all it reported. */
export const foldedEverywhere = (
  identity: string,
  statuses: readonly ({ gateways?: readonly GatewayCount[] } | undefined)[],
): boolean => statuses.every((s) => !(s?.gateways ?? []).some((g) => g.identity === identity));

/** A Tunnel that claims a path: the older one keeps it, then the first by namespace/name (as the gateway decides). */
export interface PathClaim {
  /** namespace/name */
  key: string;
  path: string;
  creationTimestamp: string;
}

/** The Tunnel that serves `claim`'s path instead of it; undefined when `claim` holds its path. */
export function pathHolder(claim: PathClaim, claims: readonly PathClaim[]): PathClaim | undefined {
  const older = (a: PathClaim, b: PathClaim) =>
    Date.parse(a.creationTimestamp) - Date.parse(b.creationTimestamp) || a.key.localeCompare(b.key);
  const holder = [claim, ...claims.filter((c) => c.path === claim.path && c.key !== claim.key)].sort(older)[0];
  return holder && holder.key !== claim.key ? holder : undefined;
}

/** Where clients connect: the gateway's URL and the Tunnel's path; the path alone when the gateway URL is not known. */
export const tunnelUrl = (gatewayUrl: string | undefined, path: string): string =>
  `${(gatewayUrl ?? '').replace(/\/+$/, '')}${path}`;

/** A BrowserPool as a Tunnel sees it. */
export type PoolView = Pick<BrowserPoolStatus, 'playwrightVersion' | 'playwrightVersions'>;

/**
 * The major.minor of every Playwright version the listed pools serve, in
 * poolRefs order (each pool's default first), each once. A pool whose
 * controller wrote no playwrightVersions (older) serves its playwrightVersion.
 */
export function servedVersions(tunnel: Tunnel, pools: ReadonlyMap<string, PoolView>): string[] {
  const versions = tunnel.spec.poolRefs
    .flatMap((ref) => {
      const pool = pools.get(ref.name);
      return pool?.playwrightVersions ?? (pool?.playwrightVersion ? [pool.playwrightVersion] : []);
    })
    .map((version) => /^(\d+)\.(\d+)(?:\.|$)/.exec(version))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}.${m[2]}`);
  return [...new Set(versions)];
}

/** What the controller found for a Tunnel whose spec is valid. */
export interface TunnelObservation {
  tunnel: Tunnel;
  /** The pools of the Tunnel's namespace that exist, by name. */
  pools: ReadonlyMap<string, PoolView>;
  /** The Secret spec.auth.secretRef names; undefined when it does not exist. */
  secret?: Pick<SecretObject, 'data'>;
  /** namespace/name of the older Tunnel that serves the same path. */
  pathHolder?: string;
  liveReplicas: number;
  url: string;
}

export type Readiness = Omit<ConditionUpdate, 'type' | 'observedGeneration'>;

const notReady = (reason: string, message: string): Readiness => ({ status: 'False', reason, message });

export const NO_GATEWAY_MESSAGE = 'no gateway replica serves this Tunnel: is the fleetwright gateway running?';

/** The Ready condition: the first thing that keeps clients from being served, or Serving. */
export function tunnelReadiness(o: TunnelObservation): Readiness {
  const { spec, metadata } = o.tunnel;
  const namespace = metadata.namespace ?? '';
  const missing = spec.poolRefs.map((ref) => ref.name).filter((name) => !o.pools.has(name));
  if (missing.length > 0) {
    const list = missing.join(', ');
    return notReady('PoolNotFound', missing.length === 1
      ? `BrowserPool ${list} does not exist in namespace ${namespace}: create it or fix spec.poolRefs`
      : `BrowserPools ${list} do not exist in namespace ${namespace}: create them or fix spec.poolRefs`);
  }
  const { name: secret, key } = spec.auth.secretRef;
  if (!o.secret) {
    return notReady('SecretNotFound', `Secret ${secret} does not exist in namespace ${namespace}: ` +
      `create it with the clients' token under key ${key}, or fix spec.auth.secretRef.name`);
  }
  if (!o.secret.data?.[key]) {
    return notReady('SecretKeyMissing', `Secret ${secret} has no token under key ${key} (missing or empty): ` +
      'add it, or fix spec.auth.secretRef.key');
  }
  if (o.pathHolder) {
    return notReady('PathConflict', `path ${tunnelPath(o.tunnel)} is also claimed by Tunnel ${o.pathHolder}, ` +
      'which was created first and keeps it: set a different spec.path on this one');
  }
  if (o.liveReplicas === 0) return notReady('NoGateway', NO_GATEWAY_MESSAGE);
  return { status: 'True', reason: 'Serving', message: `serving at ${o.url} through ${o.liveReplicas} gateway replica(s)` };
}

/** The controller flag without which sessions are not stored, as the Recording condition names it. */
export const REPORT_STORE_FLAG = '--report-store-url';

/**
 * Where the Tunnel's sessions go: nowhere (the controller has no report
 * store), or the report store, with `problem` saying why the session token
 * or the reader Secret could not be had.
 */
export type SessionStorage = { store: false } | { store: true; problem?: string };

/**
 * The Recording condition, for a Tunnel whose spec.recording keeps
 * anything; undefined (no condition) for one that records nothing. Not
 * recording never stops the Tunnel from serving: Ready says nothing of it.
 */
export function recordingCondition(tunnel: Pick<Tunnel, 'spec'>, storage: SessionStorage): Readiness | undefined {
  const { video, log } = tunnel.spec.recording;
  if (video === 'Never' && log === 'Never') return undefined;
  if (!storage.store) {
    return notReady('NoReportStore', 'spec.recording asks for recordings, but the controller has no report store: ' +
      `sessions are served but neither recorded nor listed. Set ${REPORT_STORE_FLAG} on the controller ` +
      '(the chart: reportStore.enabled=true)');
  }
  if (storage.problem) return notReady('SessionTokenUnavailable', storage.problem);
  return { status: 'True', reason: 'Recording', message: 'sessions and the recordings spec.recording keeps go to the report store' };
}

/** What the next status is computed from of the stored one. */
export type TunnelStatusView = Pick<TunnelStatus, 'gateways' | 'totalConnections' | 'conditions' | 'sessionsURL'>;

/**
 * The whole next status. A Tunnel whose stored spec fails the schema
 * (`invalid`: what is wrong) is served by no gateway: it has no URL or
 * versions, but its counts still follow the replicas' reports.
 */
export function tunnelStatus(input: {
  previous: TunnelStatusView | undefined;
  generation: number | undefined;
  observed: TunnelObservation | { invalid: string };
  replicas: readonly ReplicaCounts[];
  sessions: SessionStorage;
  now: Date;
}): { status: Record<string, unknown>; ready: Readiness; recording?: Readiness } {
  const { previous, generation, observed } = input;
  const connections = aggregateConnections(previous ?? {}, input.replicas);
  const valid = 'invalid' in observed ? undefined : observed;
  const ready = 'invalid' in observed
    ? notReady('InvalidSpec', `${observed.invalid}: fix the Tunnel with kubectl edit or apply`)
    : tunnelReadiness(observed);
  const recording = valid && recordingCondition(valid.tunnel, input.sessions);
  const withReady = setCondition(previous?.conditions, { type: 'Ready', ...ready, observedGeneration: generation }, input.now);
  const conditions = recording
    ? setCondition(withReady, { type: 'Recording', ...recording, observedGeneration: generation }, input.now)
    : removeCondition(withReady, 'Recording');
  return {
    ready,
    recording,
    // status.sessionsURL is the report store's to write (with its own field manager).
    status: withStoreField({
      url: valid?.url,
      activeConnections: connections.activeConnections,
      totalConnections: connections.totalConnections,
      versions: valid ? servedVersions(valid.tunnel, valid.pools) : undefined,
      gateways: connections.gateways,
      observedGeneration: generation,
      conditions,
    }, previous, 'sessionsURL'),
  };
}
