// A server that must be told its port is started again on another when its
// port was taken between the pick and its listen.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { onFreePort, portTaken } from '../../hack/lib/ports.ts';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

/** A real listen on `port`, rejecting with Node's own EADDRINUSE when it is taken. */
const listen = (port: number) => new Promise<Server>((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => resolve(server));
});

describe('onFreePort', () => {
  it('starts the server on a port free right now', async () => {
    const server = await onFreePort('127.0.0.1', listen);
    servers.push(server);
    expect((server.address() as { port: number }).port).toBeGreaterThan(0);
  });

  it('tries another port when the one it picked was taken meanwhile', async () => {
    const tried: number[] = [];
    const server = await onFreePort('127.0.0.1', async (port) => {
      tried.push(port);
      // Another process takes the port first, once.
      if (tried.length === 1) servers.push(await listen(port));
      return listen(port);
    });
    servers.push(server);
    expect(tried).toHaveLength(2);
    expect((server.address() as { port: number }).port).toBe(tried[1]);
  });

  it('gives up after its attempts, and passes any other failure on at once', async () => {
    let calls = 0;
    const taken = new Error('fleetwright report-store: listen EADDRINUSE: address already in use 127.0.0.1:36915');
    await expect(onFreePort('127.0.0.1', async () => {
      calls++;
      throw taken;
    }, 3)).rejects.toBe(taken);
    expect(calls).toBe(3);
    calls = 0;
    await expect(onFreePort('127.0.0.1', async () => {
      calls++;
      throw new Error('--public-url is required');
    })).rejects.toThrow('--public-url is required');
    expect(calls).toBe(1);
  });

  it('knows a taken port as Node, verdaccio and Playwright say it', () => {
    expect(portTaken(new Error('listen EADDRINUSE: address already in use 10.244.0.1:4873'))).toBe(true);
    expect(portTaken('fatal--- cannot create http server: listen EADDRINUSE')).toBe(true);
    expect(portTaken(new Error('http://127.0.0.1:4173 is already used, make sure that nothing is running on the port'))).toBe(true);
    expect(portTaken(new Error('ECONNREFUSED'))).toBe(false);
  });
});
