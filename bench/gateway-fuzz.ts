// The gateway's front under a longer fuzz than the test's 15 s: `fleetwright
// gateway` on 127.0.0.1 against the local API server (no node needed: the
// Tunnel's pool is empty), seeded random requests from the same generator as
// test/integration/gateway-fuzz.test.ts. Prints one JSON object: requests
// sent, per second, by status and by kind, failures (each a request whose
// answer broke a rule), health checks, and whether the gateway crashed.
//
//   npm run bench:gateway-fuzz [-- --seconds=60 --seed=1 --width=8]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { up } from '../hack/controlplane.ts';
import { installCrds } from '../hack/lib/crds.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import { BROWSER_POOL, TUNNEL } from '../src/api/resources.ts';
import { collectionPath } from '../src/runtime/resource.ts';
import { fuzz } from '../test/integration/runtime/gateway-fuzz.ts';
import { rest } from './cluster.ts';
import { GatewayProcess } from './gateway-proxies.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    width: { type: 'string', default: '8' },
  },
});
const TOKEN = `fuzz-${randomBytes(12).toString('hex')}`;

await up(() => undefined, { node: false });
installCrds(kubeconfigPath);
const namespace = `bench-${randomBytes(3).toString('hex')}`;
await rest().create('/api/v1/namespaces', { metadata: { name: namespace } });
await rest().create(`/api/v1/namespaces/${namespace}/secrets`, { metadata: { name: 'token' }, stringData: { token: TOKEN } });
await rest().create(collectionPath(BROWSER_POOL, namespace), {
  apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind,
  metadata: { name: 'empty' }, spec: { browser: 'chromium', replicas: 0 },
});
await rest().create(collectionPath(TUNNEL, namespace), {
  apiVersion: TUNNEL.apiVersion, kind: TUNNEL.kind, metadata: { name: 'fuzzed' },
  spec: { poolRefs: [{ name: 'empty' }], auth: { secretRef: { name: 'token' } }, queueTimeoutSeconds: 1 },
});
const gateway = new GatewayProcess(namespace);
try {
  const url = new URL(await gateway.url('Tunnels'));
  const target = { host: url.hostname, port: Number(url.port), tunnelPath: `/tunnels/${namespace}/fuzzed`, token: TOKEN };
  for (let admitted = false; !admitted; await new Promise((r) => setTimeout(r, 200))) {
    const status = (await fetch(`${url.origin}${target.tunnelPath}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status;
    admitted = status !== 404 && status !== 401;
  }
  const seconds = Number(flags.seconds);
  const started = performance.now();
  const report = await fuzz(target, Number(flags.seed), seconds * 1000, Number(flags.width));
  const duration = (performance.now() - started) / 1000;
  const healthyAfter = (await fetch(`${url.origin}/healthz`).then((r) => r.status, () => 0)) === 200;
  console.log(JSON.stringify({
    ...report,
    durationSeconds: Math.round(duration * 10) / 10,
    requestsPerSecond: Math.round(report.sent / duration),
    crashes: gateway.child.exitCode === null && gateway.child.signalCode === null ? 0 : 1,
    errorLogLines: gateway.errors(),
    healthyAfter,
  }, null, 2));
} finally {
  await gateway.stop();
  await rest().delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
}
