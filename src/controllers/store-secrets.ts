// The Secrets the report store takes tokens from, as the controllers make
// them (src/contracts/report-store.ts, src/contracts/tunnel-session.ts): a
// writer's token Secret owned by the object it writes for (a TestRun's
// upload token, a Tunnel's session token), so it goes with it, and the
// namespace's reader Secret, nobody's, so it outlives them all. The TestRun
// and Tunnel controllers both use this; the builders and checks are pure,
// createSecret and ensureReaderSecret the thin layer that writes.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SECRET, secretData, type SecretObject } from '../api/builtin.ts';
import type { KubeObject, OwnerReference } from '../api/meta.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { isControlledBy } from '../runtime/owners.ts';
import { collectionPath, keyOf } from '../runtime/resource.ts';
import { statusCode, type RestClient } from '../runtime/rest.ts';
import type { Reader } from '../runtime/store.ts';

const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'fleetwright' };

/** A fresh token: 32 random bytes, hex. */
export const newToken = () => randomBytes(32).toString('hex');

/** A writer's token Secret as the store recognises it: its name, a label naming its owner, the token's key. */
export interface OwnedToken {
  namespace: string;
  /** The Secret's name, as the contract derives it from the owner's. */
  secret: string;
  /** The contract's label; its value is the owner's name. */
  label: string;
  /** The owner's name. */
  owner: string;
  key: string;
}

/** The token Secret: labelled with its owner's name and controlled by it. */
export function ownedTokenSecret(token: OwnedToken, reference: OwnerReference, value = newToken()) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: token.secret,
      namespace: token.namespace,
      labels: { [token.label]: token.owner, ...MANAGED_BY },
      ownerReferences: [reference],
    },
    type: 'Opaque',
    data: secretData({ [token.key]: value }),
  };
}

/**
 * What the cache holds under the token Secret's name: nothing, the owner's
 * own (controlled by this incarnation of it, labelled, with a token), or a
 * Secret of someone else's (left from a deleted object of the same name
 * that the garbage collector has not removed yet, or a user's) that the
 * report store would not take a token from.
 */
export function ownedTokenState(
  secret: SecretObject | undefined,
  owner: KubeObject,
  token: Pick<OwnedToken, 'label' | 'key'>,
) {
  if (!secret) return 'missing' as const;
  const ours = isControlledBy(secret, owner) && secret.metadata.labels?.[token.label] === owner.metadata.name &&
    Boolean(secret.data?.[token.key]);
  return ours ? 'ours' as const : 'foreign' as const;
}

/** The namespace's reader Secret: nobody's, so it outlives every run and Tunnel (delete it to change the token). */
export function readerSecret(namespace: string, token = newToken()) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: REPORT_READER_SECRET, namespace, labels: MANAGED_BY },
    type: 'Opaque',
    data: secretData({ [REPORT_TOKEN_KEY]: token }),
  };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Creates `body` unless it exists already (409: made by an earlier pass the cache does not show yet). */
async function createSecret(rest: RestClient, namespace: string, body: KubeObject): Promise<void> {
  try {
    await rest.create(collectionPath(SECRET, namespace), body);
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

export interface SecretDeps {
  rest: RestClient;
  secrets: Reader<SecretObject>;
  log: Logger;
}

/**
 * Makes sure the namespace's reader Secret exists. Resolves with why it
 * cannot (what is stored is then stored, but nobody can read it until the
 * Secret exists, which a user can also create by hand); undefined when it
 * does.
 */
async function ensureReaderSecret(deps: SecretDeps, namespace: string, what: string): Promise<string | undefined> {
  if (deps.secrets.get(keyOf({ namespace, name: REPORT_READER_SECRET }))) return undefined;
  try {
    await createSecret(deps.rest, namespace, readerSecret(namespace));
    deps.log.info({ secret: REPORT_READER_SECRET }, 'created the namespace\'s report reader token');
    return undefined;
  } catch (err) {
    return `cannot create Secret ${REPORT_READER_SECRET} in namespace ${namespace} (${messageOf(err)}): ${what} ` +
      `will be stored but nobody can read it until that Secret exists with a key ${REPORT_TOKEN_KEY}`;
  }
}

/** What a writer's token Secret is for, in the messages when it cannot be had. */
export interface TokenWords {
  /** `TestRun`, `Tunnel`. */
  kind: string;
  /** `upload token`. */
  token: string;
  /** What happens without it: `its shards run without uploading their Playwright reports`. */
  without: string;
  /** What deleting a foreign Secret brings: `runs started after that get a report`. */
  after: string;
  /** What the reader Secret is needed to read: `the run's report`. */
  stored: string;
}

/** Whether the writer has its token Secret (and a warning when the reader Secret is missing), or why not. */
export type TokenSetup = { ok: true; warning?: string } | { ok: false; message: string };

/**
 * Makes sure the owner's token Secret and its namespace's reader Secret
 * exist. Never throws: an owner whose Secret cannot be made still does its
 * main work, without storing in the report store, and the message says why.
 */
export async function ensureTokenSecrets(
  deps: SecretDeps,
  owner: KubeObject,
  reference: OwnerReference,
  token: OwnedToken,
  words: TokenWords,
): Promise<TokenSetup> {
  const where = `Secret ${token.secret} in namespace ${token.namespace}`;
  switch (ownedTokenState(deps.secrets.get(keyOf({ namespace: token.namespace, name: token.secret })), owner, token)) {
    case 'foreign':
      return {
        ok: false,
        message: `${where} is not this ${words.kind}'s ${words.token} (left from a deleted ${words.kind} of the same ` +
          `name, or made by hand): ${words.without}. Delete the Secret; ${words.after}`,
      };
    case 'missing':
      try {
        await createSecret(deps.rest, token.namespace, ownedTokenSecret(token, reference));
        deps.log.info({ secret: token.secret }, `created the ${words.kind}'s ${words.token}`);
      } catch (err) {
        return {
          ok: false,
          message: `cannot create ${where} (${messageOf(err)}): ${words.without}. Check that the controller may create ` +
            'Secrets (the chart grants it with reportStore.enabled)',
        };
      }
  }
  const warning = await ensureReaderSecret(deps, token.namespace, words.stored);
  return warning ? { ok: true, warning } : { ok: true };
}

/**
 * The status a controller computed, with `field` as the report store wrote
 * it: the controller rebuilds the whole status each pass and writes it when
 * it differs from the stored one, so leaving the store's field out would
 * look like a change every pass (and the apply would own the field without
 * it).
 */
export function withStoreField<T extends Record<string, unknown>>(
  next: T,
  stored: Record<string, unknown> | undefined,
  field: string,
): T {
  const value = stored?.[field];
  return typeof value === 'string' && value !== '' ? { ...next, [field]: value } : next;
}
