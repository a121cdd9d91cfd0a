// The TestRun controller's side of the report store (src/contracts/report-store.ts):
// before a run's runners start, the run's upload-token Secret (owned by the
// run, so it goes with it) and the namespace's reader Secret exist; each
// runner pod learns where to upload and mounts the token. The builders and
// checks are pure; ensureReportSecrets is the thin layer that creates what
// the cache lacks.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SECRET, secretData, type SecretObject } from '../../api/builtin.ts';
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import {
  dependencyCachePath,
  REPORT_READER_SECRET,
  REPORT_TOKEN_KEY,
  REPORT_TOKEN_LABEL,
  reportTokenSecret,
  shardUploadPath,
} from '../../contracts/report-store.ts';
import { isControlledBy } from '../../runtime/owners.ts';
import { collectionPath, keyOf } from '../../runtime/resource.ts';
import { statusCode, type RestClient } from '../../runtime/rest.ts';
import type { Reader } from '../../runtime/store.ts';

const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'fleetwright' };

/** A fresh token: 32 random bytes, hex. */
export const newToken = () => randomBytes(32).toString('hex');

/** Where shard `index` of a run PUTs its blob report. */
export const uploadUrl = (storeUrl: string, namespace: string, run: string, index: number) =>
  `${storeUrl.replace(/\/+$/, '')}${shardUploadPath(namespace, run, index)}`;

/** The namespace's dependency cache as runners of `run` reach it: the runner appends the key. */
export const dependencyCacheUrl = (storeUrl: string, namespace: string, run: string) =>
  `${storeUrl.replace(/\/+$/, '')}${dependencyCachePath(namespace, run, '')}`;

/** The run's upload-token Secret: labelled with the run's name and controlled by the run. */
export function tokenSecret(run: { namespace: string; name: string; owner: OwnerReference }, token = newToken()) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: reportTokenSecret(run.name),
      namespace: run.namespace,
      labels: { [REPORT_TOKEN_LABEL]: run.name, ...MANAGED_BY },
      ownerReferences: [run.owner],
    },
    type: 'Opaque',
    data: secretData({ [REPORT_TOKEN_KEY]: token }),
  };
}

/** The namespace's reader Secret: nobody's, so that it outlives every run (delete it to change the token). */
export function readerSecret(namespace: string, token = newToken()) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: REPORT_READER_SECRET, namespace, labels: MANAGED_BY },
    type: 'Opaque',
    data: secretData({ [REPORT_TOKEN_KEY]: token }),
  };
}

/**
 * What the cache holds under the run's token Secret name: nothing, the
 * run's own (controlled by this incarnation of it, with a token), or a
 * Secret of someone else's (a deleted run of the same name whose Secret the
 * garbage collector has not removed yet, or a user's) that the report store
 * would not take a token from.
 */
export function tokenSecretState(secret: SecretObject | undefined, run: KubeObject): 'missing' | 'ours' | 'foreign' {
  if (!secret) return 'missing';
  const ours = isControlledBy(secret, run) && secret.metadata.labels?.[REPORT_TOKEN_LABEL] === run.metadata.name &&
    Boolean(secret.data?.[REPORT_TOKEN_KEY]);
  return ours ? 'ours' : 'foreign';
}

/**
 * The status the controller computed, with status.reportURL as the report
 * store wrote it: the controller rebuilds the whole status each pass and
 * writes it when it differs from the stored one, so leaving the URL out
 * would look like a change every pass (and the apply would own the field
 * without it).
 */
export function withReportURL<T extends Record<string, unknown>>(
  next: T,
  stored: Record<string, unknown> | undefined,
): T {
  const url = stored?.reportURL;
  return typeof url === 'string' && url !== '' ? { ...next, reportURL: url } : next;
}

/** Where a run's runners upload, or why they cannot. */
export type ReportSetup = { ok: true; secret: string; warning?: string } | { ok: false; message: string };

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Creates `body` unless it exists already (409: made by an earlier pass the cache does not show yet). */
async function createSecret(rest: RestClient, namespace: string, body: KubeObject): Promise<void> {
  try {
    await rest.create(collectionPath(SECRET, namespace), body);
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

/**
 * Makes sure the run's token Secret and its namespace's reader Secret exist.
 * Never throws: a run whose Secret cannot be made still runs its tests, its
 * shards without a report, and the message says why.
 */
export async function ensureReportSecrets(
  deps: { rest: RestClient; secrets: Reader<SecretObject>; log: Logger },
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
  if (deps.secrets.get(keyOf({ namespace, name: REPORT_READER_SECRET }))) return { ok: true, secret: secretName };
  try {
    await createSecret(deps.rest, namespace, readerSecret(namespace));
    deps.log.info({ secret: REPORT_READER_SECRET }, 'created the namespace\'s report reader token');
    return { ok: true, secret: secretName };
  } catch (err) {
    // Uploads work without it; reading the report needs it, which a user can also create by hand.
    return {
      ok: true,
      secret: secretName,
      warning: `cannot create Secret ${REPORT_READER_SECRET} in namespace ${namespace} (${messageOf(err)}): the run's ` +
        `report will be stored but nobody can read it until that Secret exists with a key ${REPORT_TOKEN_KEY}`,
    };
  }
}
