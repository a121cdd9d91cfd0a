import { createServer } from 'node:net';

/** A TCP port free on `host` right now (the kernel's pick), for a server of a test, a bench or the demo. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}
