// Ports for the servers the demo, the tests and the benches start. A port
// picked free and handed to a process later may be taken in between (it lies
// in the ephemeral range every outgoing connection draws from): `npm run demo`
// once failed with "listen EADDRINUSE" while a Playwright run went on beside
// it. So a server that can listen on port 0 does, and says what it got:
// fleetwright's servers log `serving <what>` with their URL, which the
// launchers read (ControllerProcess.url, the demo's servedUrl). onFreePort is
// for the others, which must be told their port before they listen: a report
// store whose --public-url names it, verdaccio, nginx, a suite's webServer.
import { connect, createServer } from 'node:net';

/** A TCP port free on `host` right now (the kernel's pick). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Whether something accepts connections on host:port now (within a second). */
export function accepting(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The server could not listen because its port was taken, as Node, verdaccio, nginx or Playwright say it. */
export const portTaken = (err: unknown): boolean =>
  /EADDRINUSE|address already in use|is already used/i.test(err instanceof Error ? err.message : String(err));

/**
 * `start(port)` with a port free on `host` right now; when it fails because
 * the port was taken meanwhile (portTaken), again with another, up to
 * `attempts` times. `start` resolves once the server listens, and rejects
 * with the server's own words (its stderr or log) when it could not.
 */
export async function onFreePort<T>(host: string, start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(host);
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !portTaken(err)) throw err;
    }
  }
}
