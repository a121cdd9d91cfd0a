// The TestRun controller's side of the report store (src/contracts/report-store.ts):
// before a run's runners start, the run's upload-token Secret (owned by the
// run, so it goes with it) and the namespace's reader Secret exist; each
// runner pod learns where to upload and mounts the token. What the Tunnel
// controller shares (the Secrets' builders, the reader Secret) is in
// ../store-secrets.ts; ensureReportSecrets is the thin layer that creates
// what the cache lacks.
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import type { SecretObject } from '../../api/builtin.ts';
import {
  dependencyCachePath,
  REPORT_TOKEN_KEY,
  REPORT_TOKEN_LABEL,
  reportTokenSecret,
  shardUploadPath,
} from '../../contracts/report-store.ts';
import {
  ensureTokenSecrets,
  type OwnedToken,
  ownedTokenSecret,
  ownedTokenState,
  type SecretDeps,
  withStoreField,
} from '../store-secrets.ts';

/** Where shard `index` of a run PUTs its blob report. */
export const uploadUrl = (storeUrl: string, namespace: string, run: string, index: number) =>
  `${storeUrl.replace(/\/+$/, '')}${shardUploadPath(namespace, run, index)}`;

/** The namespace's dependency cache as runners of `run` reach it: the runner appends the key. */
export const dependencyCacheUrl = (storeUrl: string, namespace: string, run: string) =>
  `${storeUrl.replace(/\/+$/, '')}${dependencyCachePath(namespace, run, '')}`;

const uploadToken = (namespace: string, name: string): OwnedToken =>
  ({ namespace, secret: reportTokenSecret(name), label: REPORT_TOKEN_LABEL, owner: name, key: REPORT_TOKEN_KEY });

/** The run's upload-token Secret: labelled with the run's name and controlled by the run. */
export const tokenSecret = (run: { namespace: string; name: string; owner: OwnerReference }, token?: string) =>
  ownedTokenSecret(uploadToken(run.namespace, run.name), run.owner, token);

/** Whether the cached token Secret is this run's own (see ownedTokenState). */
export const tokenSecretState = (secret: SecretObject | undefined, run: KubeObject) =>
  ownedTokenState(secret, run, uploadToken(run.metadata.namespace ?? '', run.metadata.name ?? ''));

/** The status the controller computed, with status.reportURL as the report store wrote it (see withStoreField). */
export const withReportURL = <T extends Record<string, unknown>>(next: T, stored?: Record<string, unknown>) =>
  withStoreField(next, stored, 'reportURL');

/** Where a run's runners upload, or why they cannot. */
export type ReportSetup = { ok: true; secret: string; warning?: string } | { ok: false; message: string };

/**
 * Makes sure the run's token Secret and its namespace's reader Secret exist.
 * Never throws: a run whose Secret cannot be made still runs its tests, its
 * shards without a report, and the message says why.
 */
export async function ensureReportSecrets(
  deps: SecretDeps,
  run: KubeObject,
  owner: OwnerReference,
): Promise<ReportSetup> {
  const token = uploadToken(run.metadata.namespace ?? '', run.metadata.name ?? '');
  const setup = await ensureTokenSecrets(deps, run, owner, token, {
    kind: 'TestRun',
    token: 'upload token',
    without: 'its shards run without uploading their Playwright reports',
    after: 'runs started after that get a report',
    stored: 'the run\'s report',
  });
  return setup.ok ? { ...setup, secret: token.secret } : setup;
}
