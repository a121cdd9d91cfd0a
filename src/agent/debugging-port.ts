// The TCP DevTools port the agent adds to a Chromium that Playwright launches
// (the warm browser, a run-server's browser), so that it can observe the
// session beside Playwright's own pipe connection: with
// --remote-debugging-pipe, an added --remote-debugging-port opens a TCP CDP
// endpoint on the same browser.
import { createServer } from 'node:net';

/**
 * A loopback port free now: listen on 0, close, hand the port to Chromium.
 * Another process could take it in between; in a browser pod the only other
 * listeners are the agent's own and Playwright's, on ports the kernel picks
 * from its ephemeral range in turn, so that is unlikely, and its cost is
 * bounded: Chromium then opens no DevTools port, debuggerUrl gives up, and
 * that one session goes unrecorded and unwatched (logged), never refused.
 * (Chromium's own choice, --remote-debugging-port=0, is written to
 * DevToolsActivePort in a profile Playwright creates and does not tell us.)
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The Chromium switch that opens the DevTools port. */
export const debuggingPortArg = (port: number) => `--remote-debugging-port=${port}`;

/**
 * The browser-level DevTools WebSocket of a browser listening on
 * `--remote-debugging-port=<port>` on loopback, asked of /json/version until
 * it answers or `timeoutMs` passes: a browser that a run-server launches
 * opens its port only once the client's connection reached it.
 */
export async function debuggerUrl(port: number, timeoutMs: number): Promise<URL> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/version`, { signal: AbortSignal.timeout(1_000) });
      const { webSocketDebuggerUrl } = await response.json() as { webSocketDebuggerUrl?: string };
      if (webSocketDebuggerUrl) return new URL(webSocketDebuggerUrl);
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`no browser answered on DevTools port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
