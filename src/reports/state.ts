// What the store knows of the cluster, each through an informer cache:
// TestRuns and Tunnels, the runs' upload-token and the Tunnels' session-token
// Secrets (each selected by its label) and the namespaces' read-token
// Secrets (selected by their name). Never a Secret of anyone else's.
import type { Logger } from 'pino';
import { SECRET, type SecretObject, secretValue } from '../api/builtin.ts';
import type { KubeObject } from '../api/meta.ts';
import type { TestRunObject, TunnelObject } from '../api/objects.ts';
import { TEST_RUN, TUNNEL } from '../api/resources.ts';
import { Informer } from '../runtime/informer.ts';
import type { RestClient } from '../runtime/rest.ts';
import { tokenMatches } from '../runtime/tokens.ts';
import type { RunView, TokenSecretView, TunnelView } from './auth.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY, REPORT_TOKEN_LABEL, reportTokenSecret } from '../contracts/report-store.ts';
import { SESSION_TOKEN_KEY, SESSION_TOKEN_LABEL, sessionTokenSecret } from '../contracts/tunnel-session.ts';

const tokenOf = (secret: SecretObject | undefined) => secretValue(secret, REPORT_TOKEN_KEY);

/** A TestRun as the store needs it; undefined for an object without a uid (never from the API server). */
export function runView(obj: KubeObject): RunView | undefined {
  const run = obj as TestRunObject;
  const { namespace, name, uid } = run.metadata;
  if (!namespace || !name || !uid) return undefined;
  return {
    namespace,
    name,
    uid,
    // spec.shards defaults to 1 in the CRD, so the API server always has it; be as lenient as the default.
    shards: typeof run.spec?.shards === 'number' ? run.spec.shards : 1,
    phase: run.status?.phase,
    reportURL: run.status?.reportURL,
    completionTime: run.status?.completionTime,
  };
}

/** A Tunnel as the store needs it; undefined for an object without a uid. */
export function tunnelView(obj: KubeObject): TunnelView | undefined {
  const tunnel = obj as TunnelObject;
  const { namespace, name, uid } = tunnel.metadata;
  if (!namespace || !name || !uid) return undefined;
  return { namespace, name, uid, sessionsURL: tunnel.status?.sessionsURL };
}

/** A writer's token Secret: `label` names its owner, of kind `kind`, whose token is under `key`. */
function ownedSecretView(obj: SecretObject, label: string, kind: string, key: string): TokenSecretView {
  return {
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    ownerLabel: obj.metadata.labels?.[label],
    ownerUids: (obj.metadata.ownerReferences ?? []).filter((r) => r.kind === kind).map((r) => r.uid),
    token: secretValue(obj, key),
  };
}

export const tokenSecretView = (obj: SecretObject) => ownedSecretView(obj, REPORT_TOKEN_LABEL, 'TestRun', REPORT_TOKEN_KEY);
export const sessionSecretView = (obj: SecretObject) => ownedSecretView(obj, SESSION_TOKEN_LABEL, 'Tunnel', SESSION_TOKEN_KEY);

/** Whether `token` is in any of `secrets` but `own` (namespace/name); all are compared, so the time says nothing. */
function tokenOfAnother(secrets: readonly SecretObject[], own: string, key: string, token: string): boolean {
  let found = false;
  for (const secret of secrets) {
    if (`${secret.metadata.namespace}/${secret.metadata.name}` === own) continue;
    const value = secretValue(secret, key);
    if (value !== undefined && tokenMatches(token, value)) found = true;
  }
  return found;
}

export class ReportState {
  readonly runs: Informer;
  readonly tunnels: Informer;
  private readonly tokenSecrets: Informer<SecretObject>;
  private readonly sessionSecrets: Informer<SecretObject>;
  private readonly readerSecrets: Informer<SecretObject>;

  constructor(rest: RestClient, log: Logger, options: { namespace?: string }) {
    const scope = options.namespace ? { namespace: options.namespace } : {};
    this.runs = new Informer(rest, TEST_RUN, log, scope);
    this.tunnels = new Informer(rest, TUNNEL, log, scope);
    this.tokenSecrets = new Informer<SecretObject>(rest, SECRET, log, { ...scope, labelSelector: REPORT_TOKEN_LABEL });
    const sessionSelector = { ...scope, labelSelector: SESSION_TOKEN_LABEL };
    this.sessionSecrets = new Informer<SecretObject>(rest, SECRET, log, sessionSelector);
    this.readerSecrets = new Informer<SecretObject>(rest, SECRET, log, {
      ...scope,
      fieldSelector: `metadata.name=${REPORT_READER_SECRET}`,
    });
  }

  private get informers() {
    return [this.runs, this.tunnels, this.tokenSecrets, this.sessionSecrets, this.readerSecrets];
  }

  get ready(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }

  async start(): Promise<void> {
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  run(namespace: string, name: string): RunView | undefined {
    const obj = this.runs.store.get(`${namespace}/${name}`);
    return obj && runView(obj);
  }

  allRuns(): RunView[] {
    return this.runs.store.list().map(runView).filter((r) => r !== undefined);
  }

  tokenSecret(namespace: string, run: string): TokenSecretView | undefined {
    const obj = this.tokenSecrets.store.get(`${namespace}/${reportTokenSecret(run)}`);
    return obj && tokenSecretView(obj);
  }

  /** Whether `token` is the upload token of a TestRun other than namespace/run. */
  isTokenOfOtherRun(token: string, namespace: string, run: string): boolean {
    return tokenOfAnother(this.tokenSecrets.store.list(), `${namespace}/${reportTokenSecret(run)}`, REPORT_TOKEN_KEY, token);
  }

  tunnel(namespace: string, name: string): TunnelView | undefined {
    const obj = this.tunnels.store.get(`${namespace}/${name}`);
    return obj && tunnelView(obj);
  }

  allTunnels(): TunnelView[] {
    return this.tunnels.store.list().map(tunnelView).filter((t) => t !== undefined);
  }

  sessionSecret(namespace: string, tunnel: string): TokenSecretView | undefined {
    const obj = this.sessionSecrets.store.get(`${namespace}/${sessionTokenSecret(tunnel)}`);
    return obj && sessionSecretView(obj);
  }

  /** Whether `token` is the session token of a Tunnel other than namespace/tunnel. */
  isTokenOfOtherTunnel(token: string, namespace: string, tunnel: string): boolean {
    return tokenOfAnother(this.sessionSecrets.store.list(), `${namespace}/${sessionTokenSecret(tunnel)}`, SESSION_TOKEN_KEY, token);
  }

  readerToken(namespace: string): string | undefined {
    return tokenOf(this.readerSecrets.store.get(`${namespace}/${REPORT_READER_SECRET}`));
  }
}
