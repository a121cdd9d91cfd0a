// The Tunnel's session token as the Tunnel controller makes it: the Secret
// the contract names, labelled and owned as the report store checks, made
// once, and a foreign Secret of that name refused with what to do.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SecretObject } from '../../../src/api/builtin.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { ownedTokenSecret } from '../../../src/controllers/store-secrets.ts';
import { ensureSessionSecrets, sessionToken } from '../../../src/controllers/tunnel/sessions.ts';
import type { RestClient } from '../../../src/runtime/rest.ts';
import type { Reader } from '../../../src/runtime/store.ts';

const owner = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'Tunnel', name: 'dev', uid: 'uid-1', controller: true, blockOwnerDeletion: true };
const tunnel: KubeObject = { apiVersion: owner.apiVersion, kind: 'Tunnel', metadata: { name: 'dev', namespace: 'team', uid: 'uid-1' } };
const log = pino({ level: 'silent' });

function deps(objects: SecretObject[]) {
  const created: KubeObject[] = [];
  const rest = { create: async (_path: string, body: KubeObject) => void created.push(body) } as unknown as RestClient;
  const secrets = {
    get: (key: string) => objects.find((o) => `${o.metadata.namespace}/${o.metadata.name}` === key),
  } as unknown as Reader<SecretObject>;
  return { deps: { rest, secrets, log }, created };
}

describe('the Tunnel\'s session token', () => {
  it('is made with the namespace\'s reader Secret: named, labelled and owned as the contract says', async () => {
    const { deps: d, created } = deps([]);
    expect(await ensureSessionSecrets(d, tunnel, owner)).toEqual({ ok: true });
    expect(created.map((s) => s.metadata.name)).toEqual(['dev-sessions', 'fleetwright-reports']);
    expect(created[0]?.metadata).toMatchObject({
      namespace: 'team',
      labels: { 'fleetwright.dev/session-token': 'dev' },
      ownerReferences: [owner],
    });
    const token = Buffer.from((created[0] as SecretObject).data?.token ?? '', 'base64').toString();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is not made again while the cache holds it', async () => {
    const ours = ownedTokenSecret(sessionToken('team', 'dev'), owner) as SecretObject;
    const reader = { metadata: { name: 'fleetwright-reports', namespace: 'team' } } as SecretObject;
    const { deps: d, created } = deps([ours, reader]);
    expect(await ensureSessionSecrets(d, tunnel, owner)).toEqual({ ok: true });
    expect(created).toEqual([]);
  });

  it('refuses a Secret of that name left by an earlier Tunnel of the same name, and says to delete it', async () => {
    const ours = ownedTokenSecret(sessionToken('team', 'dev'), owner) as SecretObject;
    const old = { ...ours, metadata: { ...ours.metadata, ownerReferences: [{ ...owner, uid: 'uid-0' }] } };
    const { deps: d, created } = deps([old]);
    const setup = await ensureSessionSecrets(d, tunnel, owner);
    expect(setup).toEqual({
      ok: false,
      message: 'Secret dev-sessions in namespace team is not this Tunnel\'s session token (left from a deleted Tunnel of ' +
        'the same name, or made by hand): its sessions are served but not stored. Delete the Secret; the controller ' +
        'makes a new one',
    });
    expect(created).toEqual([]);
  });
});
