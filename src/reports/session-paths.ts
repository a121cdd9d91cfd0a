// Pure: what a request under /sessions/ asks for, and where a Tunnel's
// sessions are stored. They live under `_sessions/`, a prefix no namespace
// can have (a DNS label has no `_`), as the dependency cache does: no
// session key has the `<namespace>/<name>/<uid>/` shape of a TestRun's
// report, so the reports' retention never takes one for a run's, whatever
// the Tunnel is called (a UUID included), and a namespace called `sessions`
// is no different from any other. Below that, `<namespace>/<tunnel>/<tunnel
// uid>/<id>/<file>`: a re-created Tunnel of the same name starts empty.
import { SESSION_FILES, SESSION_ID, type SessionFile, SESSIONS_PREFIX } from '../contracts/tunnel-session.ts';
import { decodeSegment, isNamespace, isRunName, type RunRef, type StoredRunRef, UID } from './paths.ts';

const ROOT = '_sessions/';
const FILES: readonly string[] = Object.values(SESSION_FILES);
const isSessionFile = (s: string): s is SessionFile => FILES.includes(s);

export type SessionRequest =
  | { kind: 'list'; tunnel: RunRef } |
  { kind: 'file'; tunnel: RunRef; id: string; file: SessionFile } |
  { kind: 'invalid'; reason: string } |
  { kind: 'unknown' };

/**
 * What `rawUrl` asks for: `/sessions/<ns>/<tunnel>/` (the list, the slash
 * optional) or `/sessions/<ns>/<tunnel>/<id>/<file>`. The path is never
 * normalised; each segment must be exactly what the contract allows.
 */
export function parseSessionRequest(rawUrl: string): SessionRequest {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith(SESSIONS_PREFIX)) return { kind: 'unknown' };
  const segments = rawPath.slice(SESSIONS_PREFIX.length).split('/').map(decodeSegment);
  const [namespace, name, id, file] = segments;
  if (namespace === undefined || !isNamespace(namespace)) {
    return { kind: 'invalid', reason: 'the namespace in the path is not a valid namespace name' };
  }
  if (name === undefined || !isRunName(name)) return { kind: 'invalid', reason: 'the Tunnel name in the path is not a valid object name' };
  const tunnel = { namespace, name };
  if (segments.length === 2 || (segments.length === 3 && id === '')) return { kind: 'list', tunnel };
  if (segments.length !== 4 || id === undefined || !SESSION_ID.test(id)) {
    return { kind: 'invalid', reason: 'sessions are at /sessions/<namespace>/<tunnel>/<id>/<file>, the id 12 hex digits' };
  }
  if (file === undefined || !isSessionFile(file)) {
    return { kind: 'invalid', reason: `a session's files are ${FILES.join(', ')}` };
  }
  return { kind: 'file', tunnel, id, file };
}

function checkTunnel(tunnel: StoredRunRef): void {
  if (!isNamespace(tunnel.namespace) || !isRunName(tunnel.name) || !UID.test(tunnel.uid)) {
    throw new Error(`not a valid Tunnel reference: ${JSON.stringify(tunnel)}`);
  }
}

/** Every session stored for `namespace`, or for every namespace. */
export const sessionsRoot = (namespace?: string) => (namespace ? `${ROOT}${namespace}/` : ROOT);

/** `_sessions/<ns>/<tunnel>/<uid>/`: every session of one Tunnel, deleted with it. */
export function tunnelSessionsPrefix(tunnel: StoredRunRef): string {
  checkTunnel(tunnel);
  return `${ROOT}${tunnel.namespace}/${tunnel.name}/${tunnel.uid}/`;
}

export function sessionPrefix(tunnel: StoredRunRef, id: string): string {
  if (!SESSION_ID.test(id)) throw new Error(`not a session id: ${JSON.stringify(id)}`);
  return `${tunnelSessionsPrefix(tunnel)}${id}/`;
}

export function sessionKey(tunnel: StoredRunRef, id: string, file: SessionFile): string {
  if (!isSessionFile(file)) throw new Error(`not a session file: ${JSON.stringify(file)}`);
  return `${sessionPrefix(tunnel, id)}${file}`;
}

export interface StoredSessionRef extends StoredRunRef {
  id: string;
  file: SessionFile;
}

/** The session a stored key is a file of; undefined for any key not of exactly the `_sessions/…/<id>/<file>` shape. */
export function sessionOfKey(key: string): StoredSessionRef | undefined {
  const parts = key.split('/');
  const [root, namespace = '', name = '', uid = '', id = '', file = ''] = parts;
  if (parts.length !== 6 || `${root}/` !== ROOT || !isNamespace(namespace) || !isRunName(name) || !UID.test(uid)) return undefined;
  if (!SESSION_ID.test(id) || !isSessionFile(file)) return undefined;
  return { namespace, name, uid, id, file };
}
