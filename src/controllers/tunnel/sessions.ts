// The Tunnel controller's side of session storage (src/contracts/tunnel-session.ts):
// with a report store configured, each Tunnel has its session-token Secret
// (owned by the Tunnel, so it goes with it), with which the gateway and the
// browser agent write the Tunnel's sessions, and its namespace has the
// reader Secret the CLI and the live view read them with.
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import { SESSION_TOKEN_KEY, SESSION_TOKEN_LABEL, sessionTokenSecret } from '../../contracts/tunnel-session.ts';
import { ensureTokenSecrets, type OwnedToken, type SecretDeps, type TokenSetup } from '../store-secrets.ts';

/** The Tunnel's session token, as the report store looks it up. */
export const sessionToken = (namespace: string, tunnel: string): OwnedToken => ({
  namespace,
  secret: sessionTokenSecret(tunnel),
  label: SESSION_TOKEN_LABEL,
  owner: tunnel,
  key: SESSION_TOKEN_KEY,
});

/** Makes sure the Tunnel's session-token Secret and the namespace's reader Secret exist; never throws. */
export function ensureSessionSecrets(deps: SecretDeps, tunnel: KubeObject, owner: OwnerReference): Promise<TokenSetup> {
  return ensureTokenSecrets(deps, tunnel, owner, sessionToken(tunnel.metadata.namespace ?? '', tunnel.metadata.name ?? ''), {
    kind: 'Tunnel',
    token: 'session token',
    without: 'its sessions are served but not stored',
    after: 'the controller makes a new one',
    stored: 'the Tunnel\'s sessions',
  });
}
