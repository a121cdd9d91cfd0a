// The gateway's front under fuzz: a real `fleetwright gateway` with a real
// Tunnel and token Secret takes seeded random requests, garbage and early
// closes for 15 s; it must answer each well-formed, never 5xx for a client's
// fault, stay healthy throughout, and log no token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, useNamespace } from './helpers.ts';
import { fuzz } from './runtime/gateway-fuzz.ts';
import { ControllerProcess, eventually, fleetwrightGateway } from './runtime/support.ts';

const ns = useNamespace('gwfuzz');
const TOKEN = 'fuzz-token-5f1c9a7e3b2d4c68a0e1';
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

let gateway: ControllerProcess;

beforeAll(() => {
  const manifest = `
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: ${TOKEN} }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: empty }
spec: { browser: chromium, replicas: 0 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: fuzzed }
spec: { poolRefs: [{ name: empty }], auth: { secretRef: { name: token } }, queueTimeoutSeconds: 1 }
`;
  const result = kubectl(['apply', '-n', ns.name, '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
  gateway = new ControllerProcess([
    '--bind-address=127.0.0.1:0', '--metrics-bind-address=0', `--watch-namespace=${ns.name}`,
    `--replica-namespace=${ns.name}`, '--replica-name=fuzz', '--log-level=debug', '--header-timeout=2s',
  ], {}, fleetwrightGateway);
});

afterAll(async () => {
  await gateway.kill('SIGTERM');
});

describe('gateway fuzz', () => {
  it('answers 15 s of seeded random requests well-formed, never 5xx for client errors, and stays up', async () => {
    const url = new URL(await gateway.url('Tunnels'));
    const target = { host: url.hostname, port: Number(url.port), tunnelPath: `/tunnels/${ns.name}/fuzzed`, token: TOKEN };
    // The Tunnel is served once the gateway's caches hold it and its Secret: a valid token then passes auth.
    await eventually('the gateway to serve the Tunnel', async () => {
      const r = await fetch(`${url.origin}${target.tunnelPath}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return r.status !== 404 && r.status !== 401;
    });
    const report = await fuzz(target, SEED, 15_000);
    console.log(JSON.stringify({ ...report, failures: report.failures.length }));
    expect(report.failures, `seed ${SEED} (rerun with FUZZ_SEED=${SEED})`).toEqual([]);
    expect(report.sent).toBeGreaterThan(500);
    expect(report.healthFailures).toBe(0);
    expect(gateway.child.exitCode).toBeNull();
    expect((await fetch(`${url.origin}/healthz`)).status).toBe(200);
    const errors = gateway.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors, `seed ${SEED}`).toEqual([]);
    // After the fuzz a client with the token is still admitted (the empty pool then says 503), one without is not.
    const valid = await fetch(`${url.origin}${target.tunnelPath}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(valid.status).toBe(503);
    expect((await fetch(`${url.origin}${target.tunnelPath}`)).status).toBe(401);
    // No log line carries the token, its base64, or an 8-character prefix of it.
    const log = JSON.stringify(gateway.lines);
    for (const secret of [TOKEN, Buffer.from(TOKEN).toString('base64'), TOKEN.slice(0, 8)]) {
      expect(log.includes(secret), `the gateway logged ${secret}`).toBe(false);
    }
  }, 60_000);
});
