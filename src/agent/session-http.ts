// Plain HTTP under `<wsPath>/sessions/<id>/` on the agent's endpoint: the
// gateway's SessionEnd, and the live view (live.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { agentSessionPath, LIVE_PATHS, SESSION_ID, SessionEnd } from '../contracts/tunnel-session.ts';
import type { LivePath } from './live.ts';
import type { SessionEnds } from './session-ends.ts';

export type SessionRequest = { id: string; path: 'end' | LivePath };

const livePaths: readonly string[] = Object.values(LIVE_PATHS);

/** Which session and which of its paths a request is for; undefined for anything else. */
export function sessionRequest(pathname: string, wsPath: string): SessionRequest | undefined {
  const prefix = agentSessionPath(wsPath, '');
  if (!pathname.startsWith(prefix)) return undefined;
  const [id = '', ...rest] = pathname.slice(prefix.length).split('/');
  const path = rest.join('/');
  if (!SESSION_ID.test(id)) return undefined;
  if (path === 'end' || livePaths.includes(path)) return { id, path: path as SessionRequest['path'] };
  return undefined;
}

/** POST <wsPath>/sessions/<id>/end: 204 taken, 404 no such session here, 400 not a SessionEnd. */
export async function receiveEnd(id: string, req: IncomingMessage, res: ServerResponse, ends: SessionEnds) {
  const answer = (status: number, text?: string) =>
    res.writeHead(status, text ? { 'content-type': 'text/plain' } : {}).end(text ? `${text}\n` : undefined);
  if (req.method !== 'POST') return void answer(405, 'POST a SessionEnd');
  const end = SessionEnd.safeParse(await readJson(req, 4096));
  if (!end.success) return void answer(400, 'not a SessionEnd: send {"by":"client|browser|gateway","code":1000-4999,"reason":"…"}');
  if (!ends.report(id, end.data)) return void answer(404, `no session ${id} on this browser pod, or its end was already taken`);
  answer(204);
}

/** A request's JSON body; undefined when it is not JSON or longer than `maxBytes` (the rest is not read). */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > maxBytes) return undefined;
  }
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
