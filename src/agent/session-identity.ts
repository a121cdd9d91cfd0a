// Which Tunnel session an upgrade is, from the headers the gateway sends the
// agent (contracts/tunnel-session.ts). A request with none (an older gateway,
// a TestRun runner that leases a browser itself) is served as ever: no id, no
// recording, no live view.
import type { IncomingHttpHeaders } from 'node:http';
import {
  RecordingOrder,
  SESSION_ID,
  SESSION_ID_HEADER,
  SESSION_RECORDING_HEADER,
  SESSION_TUNNEL_HEADER,
} from '../contracts/tunnel-session.ts';

export interface SessionIdentity {
  id: string;
  /** `<namespace>/<name>` of the Tunnel. */
  tunnel: string;
  /** What to record and where to upload it; absent when the Tunnel records nothing. */
  recording?: RecordingOrder;
}

export type IdentityResult = { ok: true; session?: SessionIdentity } | { ok: false; reason: string };

const TUNNEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/**
 * The session of an upgrade, or why its headers are malformed (the gateway's
 * fault, refused with 400 rather than served unrecorded). The recording
 * order's token is never part of a reason.
 */
export function sessionIdentity(headers: IncomingHttpHeaders): IdentityResult {
  const id = one(headers[SESSION_ID_HEADER]);
  if (id === undefined) return { ok: true };
  if (!SESSION_ID.test(id)) return { ok: false, reason: `${SESSION_ID_HEADER} must be 12 lowercase hex digits` };
  const tunnel = one(headers[SESSION_TUNNEL_HEADER]) ?? '';
  if (!TUNNEL.test(tunnel)) return { ok: false, reason: `session ${id}: ${SESSION_TUNNEL_HEADER} must be <namespace>/<name>` };
  const order = one(headers[SESSION_RECORDING_HEADER]);
  if (order === undefined) return { ok: true, session: { id, tunnel } };
  let json: unknown;
  try {
    json = JSON.parse(order);
  } catch {
    json = undefined;
  }
  const recording = RecordingOrder.safeParse(json);
  if (!recording.success || !recording.data.uploadUrl.endsWith('/')) {
    return {
      ok: false,
      reason: `session ${id}: ${SESSION_RECORDING_HEADER} is not a RecordingOrder (video and log policies, ` +
        'an uploadUrl ending in /, a token)',
    };
  }
  return { ok: true, session: { id, tunnel, recording: recording.data } };
}

const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
