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
import { keyOf } from '../../runtime/resource.ts';
import {
  createSecret,
  ensureReaderSecret,
  messageOf,
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
export const withReportURL = <T extends Record<string, unknown>>(next: T, stored: Record<string, unknown> | undefined): T =>
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
  const namespace = run.metadata.namespace ?? '';
  const name = run.metadata.name ?? '';
  const secretName = reportTokenSecret(name);
  const where = `Secret ${secretName} in namespace ${namespace}`;
  const without = 'its shards run without uploading their Playwright reports';
  switch (tokenSecretState(deps.secrets.get(keyOf({ namespace, name: secretName })), run)) {
    case 'foreign':
      return {
        ok: false,
        message: `${where} is not this TestRun's upload token (left from a deleted run of the same name, or made by ` +
          `hand): ${without}. Delete the Secret; runs started after that get a report`,
      };
    case 'missing':
      try {
        await createSecret(deps.rest, namespace, tokenSecret({ namespace, name, owner }));
        deps.log.info({ secret: secretName }, 'created the run\'s report upload token');
      } catch (err) {
        return {
          ok: false,
          message: `cannot create ${where} (${messageOf(err)}): ${without}. Check that the controller may create ` +
            'Secrets (the chart grants it with reportStore.enabled)',
        };
      }
  }
  const warning = await ensureReaderSecret(deps, namespace, 'the run\'s report');
  return warning ? { ok: true, secret: secretName, warning } : { ok: true, secret: secretName };
}
