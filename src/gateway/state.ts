// What the gateway knows of the cluster: Tunnels, their Secrets, pools and
// the other replicas' heartbeats, each through an informer cache.
import type { Logger } from 'pino';
import { LEASE, SECRET, type SecretObject, secretValue } from '../api/builtin.ts';
import type { KubeObject } from '../api/meta.ts';
import type { BrowserPoolObject } from '../api/objects.ts';
import { BROWSER_POOL, TUNNEL } from '../api/resources.ts';
import { type Tunnel, TunnelResource } from '../api/v1alpha1/index.ts';
import { parseResource } from '../api/validate.ts';
import { GATEWAY_REPLICA_LABEL } from '../contracts/gateway-heartbeat.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { SESSION_TOKEN_KEY, sessionTokenSecret } from '../contracts/tunnel-session.ts';
import { isReplicaAlive, type ReplicaLease, reportOf } from '../leasing/gateways.ts';
import { Informer } from '../runtime/informer.ts';
import type { RestClient } from '../runtime/rest.ts';
import type { GatewayState } from './server.ts';
import { type PoolChoice, tunnelsByPath } from './routing.ts';

export const tunnelKey = (tunnel: { metadata: { namespace?: string; name?: string } }) =>
  `${tunnel.metadata.namespace}/${tunnel.metadata.name}`;

export class ClusterState implements GatewayState {
  readonly tunnels: Informer;
  private readonly secrets: Informer<SecretObject>;
  private readonly poolObjects: Informer<BrowserPoolObject>;
  private readonly replicas: Informer<ReplicaLease>;
  private readonly identity: string;
  private readonly log: Logger;
  /** Parsed Tunnels by cached object: the cache replaces an object on every change, so a stale entry is never read. */
  private readonly parsed = new WeakMap<KubeObject, Tunnel | null>();
  private byPath?: Map<string, Tunnel>;

  constructor(rest: RestClient, log: Logger, options: { namespace?: string; identity: string }) {
    const scope = options.namespace ? { namespace: options.namespace } : {};
    this.log = log;
    this.identity = options.identity;
    this.tunnels = new Informer(rest, TUNNEL, log, scope);
    this.secrets = new Informer<SecretObject>(rest, SECRET, log, scope);
    this.poolObjects = new Informer<BrowserPoolObject>(rest, BROWSER_POOL, log, scope);
    this.replicas = new Informer<ReplicaLease>(rest, LEASE, log, { labelSelector: GATEWAY_REPLICA_LABEL });
    const invalidate = () => (this.byPath = undefined);
    this.tunnels.addHandler({ onAdd: invalidate, onUpdate: invalidate, onDelete: invalidate });
  }

  get ready(): boolean {
    return [this.tunnels, this.secrets, this.poolObjects, this.replicas].every((i) => i.hasSynced);
  }

  async start(): Promise<void> {
    const informers = [this.tunnels, this.secrets, this.poolObjects, this.replicas];
    for (const informer of informers) informer.start();
    await Promise.all(informers.map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all([this.tunnels, this.secrets, this.poolObjects, this.replicas].map((i) => i.stop()));
  }

  tunnelsByPath(): ReadonlyMap<string, Tunnel> {
    this.byPath ??= tunnelsByPath(this.tunnels.store.list().map((t) => this.parse(t)).filter((t) => t !== null));
    return this.byPath;
  }

  /** namespace/name of every Tunnel served. */
  servedKeys(): string[] {
    return [...this.tunnelsByPath().values()].map(tunnelKey);
  }

  token(tunnel: Tunnel): string | undefined {
    const { name, key } = tunnel.spec.auth.secretRef;
    return secretValue(this.secrets.store.get(`${tunnel.metadata.namespace}/${name}`), key);
  }

  sessionToken(tunnel: Tunnel): string | undefined {
    const secret = this.secrets.store.get(`${tunnel.metadata.namespace}/${sessionTokenSecret(tunnel.metadata.name)}`);
    return secretValue(secret, SESSION_TOKEN_KEY);
  }

  readerToken(namespace: string): string | undefined {
    return secretValue(this.secrets.store.get(`${namespace}/${REPORT_READER_SECRET}`), REPORT_TOKEN_KEY);
  }

  pools(tunnel: Tunnel): PoolChoice[] {
    return tunnel.spec.poolRefs.map(({ name }) => {
      const pool = this.poolObjects.store.get(`${tunnel.metadata.namespace}/${name}`);
      const status = pool?.status;
      // A pool whose controller is older than playwrightVersions serves its playwrightVersion alone.
      const versions = status?.playwrightVersions ?? (status?.playwrightVersion ? [status.playwrightVersion] : []);
      // The API server defaults spec.browser; a pool not yet seen is no choice anyway.
      return { name, exists: pool !== undefined, browser: pool?.spec?.browser ?? 'chromium', versions };
    });
  }

  activeElsewhere(key: string): number {
    const now = new Date();
    let sum = 0;
    for (const lease of this.replicas.store.list()) {
      if (lease.spec?.holderIdentity === this.identity || !isReplicaAlive(lease, now)) continue;
      sum += reportOf(lease)?.tunnels[key]?.active ?? 0;
    }
    return sum;
  }

  /** A stored Tunnel that fails the schema is not served (the controller says why in its status). */
  private parse(obj: KubeObject): Tunnel | null {
    let tunnel = this.parsed.get(obj);
    if (tunnel === undefined) {
      const result = parseResource(TunnelResource, obj);
      tunnel = result.ok ? result.value : null;
      if (!result.ok) this.log.warn({ namespace: obj.metadata.namespace, name: obj.metadata.name }, 'not serving an invalid Tunnel');
      this.parsed.set(obj, tunnel);
    }
    return tunnel;
  }
}
