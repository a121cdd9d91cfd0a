// What the store knows of the cluster, each through an informer cache:
// TestRuns, the upload-token Secrets (selected by their label) and the
// namespaces' read-token Secrets (selected by their name). Never a Secret
// of anyone else's.
import type { Logger } from 'pino';
import { SECRET, type SecretObject, secretValue } from '../api/builtin.ts';
import type { KubeObject } from '../api/meta.ts';
import type { TestRunObject } from '../api/objects.ts';
import { TEST_RUN } from '../api/resources.ts';
import { Informer } from '../runtime/informer.ts';
import type { RestClient } from '../runtime/rest.ts';
import { tokenMatches } from '../runtime/tokens.ts';
import type { RunView, TokenSecretView } from './auth.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY, REPORT_TOKEN_LABEL, reportTokenSecret } from '../contracts/report-store.ts';

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

export function tokenSecretView(obj: SecretObject): TokenSecretView {
  return {
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    runLabel: obj.metadata.labels?.[REPORT_TOKEN_LABEL],
    ownerUids: (obj.metadata.ownerReferences ?? []).filter((r) => r.kind === 'TestRun').map((r) => r.uid),
    token: tokenOf(obj),
  };
}

export class ReportState {
  readonly runs: Informer;
  private readonly tokenSecrets: Informer<SecretObject>;
  private readonly readerSecrets: Informer<SecretObject>;

  constructor(rest: RestClient, log: Logger, options: { namespace?: string }) {
    const scope = options.namespace ? { namespace: options.namespace } : {};
    this.runs = new Informer(rest, TEST_RUN, log, scope);
    this.tokenSecrets = new Informer<SecretObject>(rest, SECRET, log, { ...scope, labelSelector: REPORT_TOKEN_LABEL });
    this.readerSecrets = new Informer<SecretObject>(rest, SECRET, log, {
      ...scope,
      fieldSelector: `metadata.name=${REPORT_READER_SECRET}`,
    });
  }

  private get informers() {
    return [this.runs, this.tokenSecrets, this.readerSecrets];
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
    const own = `${namespace}/${reportTokenSecret(run)}`;
    let found = false;
    // Every candidate is compared, so the time taken does not say where a match was.
    for (const secret of this.tokenSecrets.store.list()) {
      if (`${secret.metadata.namespace}/${secret.metadata.name}` === own) continue;
      const value = tokenOf(secret);
      if (value !== undefined && tokenMatches(token, value)) found = true;
    }
    return found;
  }

  readerToken(namespace: string): string | undefined {
    return tokenOf(this.readerSecrets.store.get(`${namespace}/${REPORT_READER_SECRET}`));
  }
}
