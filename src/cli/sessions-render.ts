// What `fleetwright sessions` prints, from the Tunnel and the store's
// listing alone: pure, so that the table, the URLs and the live view's
// address are unit-tested. Tokens are never printed: as `fleetwright status`
// and `fleetwright run` do, the output says which command prints them.
import type { Tunnel } from '../api/v1alpha1/index.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { LIVE_PATHS, type ListedSession, type SessionListing } from '../contracts/tunnel-session.ts';
import { age, table } from './table.ts';

/** 0 B, 999 B, 1.5 KiB, 20 MiB: binary units, one decimal below 10. */
export function humanBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || value >= 10 ? String(Math.round(value)) : value.toFixed(1);
  return `${shown} ${units[unit]}`;
}

/** `1000 (client)`, `1006 browser: lost`, or `running` while the record has no end. */
function ended(s: ListedSession): string {
  if (!s.close) return 'running';
  const reason = s.close.reason ? `: ${s.close.reason.split('\n')[0]}` : '';
  return `${s.close.code} ${s.close.by}${reason}`;
}

/** One row per session: when it started (ago), how long it took (so far), the bytes each way, how it ended. */
export function sessionRows(sessions: readonly ListedSession[], now: number): string[][] {
  return sessions.map((s) => {
    const start = Date.parse(s.start);
    const duration = s.durationMs !== undefined ? age(s.start, start + s.durationMs) : age(s.start, now);
    return [s.id, s.client, `${age(s.start, now)} ago`, duration, humanBytes(s.bytesFromClient), humanBytes(s.bytesToClient), ended(s)];
  });
}

/** The live view's page of session `id`, under the Tunnel's URL (http(s), as a browser opens it). */
export function liveUrl(tunnelUrl: string, id: string): string {
  return `${tunnelUrl.replace(/^ws(s?):/, 'http$1:').replace(/\/+$/, '')}/sessions/${id}/${LIVE_PATHS.page}`;
}

/** How to print the namespace's read token, for the `?token=` the URLs need. */
export const readTokenCommand = (namespace: string) =>
  `kubectl get secret ${REPORT_READER_SECRET} -n ${namespace} -o jsonpath='{.data.${REPORT_TOKEN_KEY}}' | base64 -d`;

/** How to print the Tunnel's own token, for `&takeover=`. */
export const tunnelTokenCommand = (tunnel: Tunnel) =>
  `fleetwright tunnel ${tunnel.metadata.name} -n ${tunnel.metadata.namespace} --print-token`;

/** The live view's address, or why there is none. */
export function liveLines(tunnel: Tunnel, id: string, takeover: boolean): { lines: string[]; error?: string } {
  const ref = `Tunnel ${tunnel.metadata.namespace}/${tunnel.metadata.name}`;
  const url = tunnel.status?.url;
  if (!url || url.startsWith('/')) {
    return {
      lines: [],
      error: `${ref} has no external status.url: the controller runs without --gateway-url, so the live view's ` +
        `address is the gateway's followed by ${url ?? 'the Tunnel\'s path'}/sessions/${id}/${LIVE_PATHS.page}`,
    };
  }
  if (takeover && !tunnel.spec.liveView.takeover) {
    return { lines: [], error: `${ref} does not allow taking over its sessions: set spec.liveView.takeover: true` };
  }
  const namespace = tunnel.metadata.namespace ?? '';
  return {
    lines: [
      `Live view of session ${id} of ${ref}:`,
      `  ${liveUrl(url, id)}?token=<read token>${takeover ? '&takeover=<Tunnel token>' : ''}`,
      `The read token: ${readTokenCommand(namespace)}`,
      ...(takeover ? [`The Tunnel token (lets you click and type into the page): ${tunnelTokenCommand(tunnel)}`] : []),
    ],
  };
}

/** The table, then each session's URLs (too wide for it): its recordings, and the live view while it runs. */
export function sessionsText(tunnel: Tunnel, listing: SessionListing, now: number): string[] {
  const ref = `Tunnel ${tunnel.metadata.namespace}/${tunnel.metadata.name}`;
  if (listing.sessions.length === 0) return [`No sessions of ${ref} are stored.`];
  const out = table(['ID', 'CLIENT', 'STARTED', 'DURATION', 'IN', 'OUT', 'ENDED'], sessionRows(listing.sessions, now));
  const url = tunnel.status?.url;
  const urls = listing.sessions.flatMap((s) => [
    ...(s.video ? [[s.id, 'video', s.video]] : []),
    ...(s.log ? [[s.id, 'log', s.log]] : []),
    ...(!s.close && url && !url.startsWith('/') ? [[s.id, 'live', liveUrl(url, s.id)]] : []),
  ]);
  if (urls.length === 0) return out;
  return [
    ...out,
    '',
    `URLs (add ?token=$(${readTokenCommand(tunnel.metadata.namespace ?? '')})):`,
    ...table(['SESSION', 'WHAT', 'URL'], urls),
  ];
}
