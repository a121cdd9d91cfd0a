// Whether the shard's browser still answers once Playwright has failed. A
// browser gone mid-run (its pod killed, its node lost) fails tests for reasons
// that are not the suite's, and the controller may not know it yet: a lost
// node turns NotReady only after the node monitor's grace period, while the
// runner finishes within seconds. A TCP connect is the whole check, so
// node:net does it; a Playwright connect would start a session on the browser.
import { connect } from 'node:net';

export const BROWSER_PROBE_TIMEOUT_MS = 3000;

/** What the browser at `endpoint` (ws:// or wss://) did instead of accepting a connection; undefined if it did. */
export function browserGone(endpoint: string, timeoutMs = BROWSER_PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const url = new URL(endpoint);
  const port = Number(url.port) || (url.protocol === 'wss:' ? 443 : 80);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`${url.host} did not answer within ${timeoutMs} ms`);
    });
    socket.once('error', (err) => resolve(`${url.host}: ${err.message}`));
  });
}
