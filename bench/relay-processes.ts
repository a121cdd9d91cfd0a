// The child processes of bench/relay.ts, each on 127.0.0.1 and each telling
// its parent over IPC where it listens:
//
//   node bench/relay-processes.ts browser
//     Debian's chromium behind Playwright's launchServer: { endpoint }.
//   node bench/relay-processes.ts gateway <source root> <browser endpoint>
//     the Gateway of that source tree (this checkout, or an export of an
//     older commit) with a stand-in for the cluster that leases that one
//     browser to every client: { port }. Answers 'cpu' with its process.cpuUsage().
//   node bench/relay-processes.ts pipe <host:port>
//     a TCP proxy to host:port that pipes the bytes both ways: { port }. Answers 'cpu' the same way.
import { createServer, connect } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import type { Tunnel } from '../src/api/v1alpha1/index.ts';
import type { BrowserLeaser, LeasedBrowser } from '../src/leasing/leaser.ts';

const [role, root, endpoint] = process.argv.slice(2);
const send = (message: unknown) => process.send?.(message);

if (role === 'browser') {
  const server = await chromium.launchServer({
    executablePath: '/usr/bin/chromium',
    host: '127.0.0.1',
    port: 0,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  process.once('disconnect', () => void server.close().then(() => process.exit(0)));
  send({ endpoint: server.wsEndpoint() });
} else if (role === 'gateway' && root && endpoint) {
  const load = <T>(path: string) => import(pathToFileURL(join(root, 'src', path)).href) as Promise<T>;
  const { Gateway } = await load<typeof import('../src/gateway/server.ts')>('gateway/server.ts');
  const { GatewayMetrics } = await load<typeof import('../src/gateway/metrics.ts')>('gateway/metrics.ts');
  const { ConnectionCounts } = await load<typeof import('../src/gateway/replica.ts')>('gateway/replica.ts');
  // Commits before Tunnel sessions have no sessions.ts, and their Gateway takes none.
  const sessions = await load<typeof import('../src/gateway/sessions.ts')>('gateway/sessions.ts')
    .then((m) => new m.SessionReports(undefined), () => undefined);
  const playwrightVersion = (createRequire(import.meta.url)('playwright-core/package.json') as { version: string }).version;
  const tunnel = {
    metadata: { namespace: 'bench', name: 'relay' },
    spec: {
      poolRefs: [{ name: 'chromium' }],
      auth: { secretRef: { name: 'token', key: 'token' } },
      maxConnections: 100,
      queueTimeoutSeconds: 5,
      idleTimeoutSeconds: 600,
      maxSessionSeconds: 3600,
      allowExposeNetwork: false,
      recording: { video: 'Never', log: 'Never' },
      liveView: { takeover: false },
    },
  } as unknown as Tunnel;
  const leaser = {
    lease: async (): Promise<LeasedBrowser> => ({
      pod: { namespace: 'bench', name: 'browser' },
      endpoint,
      lease: {} as LeasedBrowser['lease'],
      source: 'idle',
      release: async () => true,
    }),
  } as unknown as BrowserLeaser;
  const gateway = new Gateway({
    state: {
      tunnelsByPath: () => new Map([['/tunnels/bench/relay', tunnel]]),
      token: () => 'bench',
      sessionToken: () => undefined,
      readerToken: () => undefined,
      pools: () => [{ name: 'chromium', exists: true, browser: 'chromium', versions: [playwrightVersion] }],
      activeElsewhere: () => 0,
      ready: true,
    },
    leaser,
    counts: new ConnectionCounts(),
    onCountsChanged: () => undefined,
    sessions: sessions as NonNullable<typeof sessions>,
    metrics: new GatewayMetrics(),
    replica: { namespace: 'bench', name: 'bench' },
    identity: 'bench',
    limits: {
      maxHeaderBytes: 16_384,
      maxBodyBytes: 1_048_576,
      maxMessageBytes: 64 << 20,
      headersTimeoutMs: 10_000,
      upstreamTimeoutMs: 10_000,
    },
    log: pino({ level: 'warn' }),
  });
  gateway.server.listen(0, '127.0.0.1', () => send({ port: (gateway.server.address() as { port: number }).port }));
  process.on('message', (message) => {
    if (message === 'cpu') send({ cpu: process.cpuUsage() });
  });
  process.once('disconnect', () => process.exit(0));
} else if (role === 'pipe' && root) {
  const [host, port] = root.split(':');
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host, port: Number(port), noDelay: true });
    client.pipe(upstream).pipe(client);
    const both = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('error', both).on('close', both);
  });
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as { port: number }).port }));
  process.on('message', (message) => {
    if (message === 'cpu') send({ cpu: process.cpuUsage() });
  });
  process.once('disconnect', () => process.exit(0));
} else {
  console.error('usage: node bench/relay-processes.ts browser | gateway <source root> <browser endpoint> | pipe <host:port>');
  process.exit(2);
}
