import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeasedBrowser } from '../../src/leasing/leaser.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { eventually } from '../integration/runtime/support.ts';
import { apply, condition, getPool, poolManifest, poolPods, useController, useLeaser, waitForPool } from './pools.ts';

const ns = useNamespace('pool');
const controller = useController(() => ns.name);
const leasers = useLeaser(() => ns.name);

/** Leases are held for the Tunnel `remote`: a holder that exists, so the pool does not reclaim them. */
const taker = (holder: string) => ({ holder, kind: 'Tunnel' as const, ref: `${ns.name}/remote` });
const lease = (pool: string, holder: string, options: { priority?: number; timeoutMs?: number } = {}) =>
  leasers.leaser.lease({ namespace: ns.name, name: pool }, taker(holder), { timeoutMs: 60_000, ...options });

let local: Server;
let localUrl = '';

beforeAll(async () => {
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: remote-token }
stringData: { token: not-used-here }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: remote }
spec:
  poolRefs: [{ name: browsers }]
  auth: { secretRef: { name: remote-token, key: token } }
`);
  local = createServer((_, res) => res.end('<title>served on the client</title>')).listen(0, '127.0.0.1');
  await new Promise((r) => local.once('listening', r));
  localUrl = `http://127.0.0.1:${(local.address() as AddressInfo).port}/`;
});

afterAll(() => {
  local.close();
});

describe('a BrowserPool on the real node', () => {
  it('starts three chromium agents, each on its own pod IP, that a Playwright client can use', async () => {
    apply(ns.name, poolManifest('browsers', 'replicas: 3'));
    const pool = await waitForPool(ns.name, 'browsers', '3 idle', (p) => p.status?.idle === 3);
    expect(pool.status).toMatchObject({ replicas: 3, readyReplicas: 3, busy: 0, starting: 0, waiting: 0 });
    expect(pool.status?.selector).toBe('fleetwright.dev/pool=browsers');
    expect(condition(pool, 'Ready')).toMatchObject({ status: 'True', reason: 'BrowsersIdle' });

    const pods = await poolPods(ns.name, 'browsers');
    expect(new Set(pods.map((p) => p.status?.podIP)).size).toBe(3);
    for (const pod of pods) {
      expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'BrowserPool', name: 'browsers', controller: true });
      type Spec = { restartPolicy: string; securityContext: object; containers: { securityContext: object }[] };
      const spec = pod as unknown as { spec: Spec };
      expect(spec.spec.restartPolicy).toBe('Never');
      expect(spec.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.spec.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }

    const held: LeasedBrowser[] = [];
    for (let i = 0; i < 3; i++) held.push(await lease('browsers', `client-${i}`));
    expect(new Set(held.map((b) => b.pod.name)).size).toBe(3);
    for (const b of held) {
      const browser = await chromium.connect(b.endpoint);
      const page = await browser.newPage();
      await page.setContent(`<h1>${b.pod.name}</h1>`);
      expect(await page.textContent('h1')).toBe(b.pod.name);
      await browser.close();
    }
    await waitForPool(ns.name, 'browsers', '3 busy', (p) => p.status?.busy === 3 && p.status.idle === 0);
    for (const b of held) expect(await b.release()).toBe(true);
    await waitForPool(ns.name, 'browsers', '3 idle again', (p) => p.status?.idle === 3);
  });

  it('reaches the client\'s 127.0.0.1 only through exposeNetwork, and keeps launch options its own', async () => {
    const b = await lease('browsers', 'expose');
    try {
      const plain = await chromium.connect(b.endpoint);
      await expect((await plain.newPage()).goto(localUrl)).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
      await plain.close();

      const exposed = await chromium.connect(b.endpoint, { exposeNetwork: '<loopback>' });
      const page = await exposed.newPage();
      await page.goto(localUrl);
      expect(await page.title()).toBe('served on the client');
      await exposed.close();

      const hijack = await chromium.connect(b.endpoint, {
        exposeNetwork: '<loopback>',
        headers: { 'x-playwright-launch-options': JSON.stringify({ executablePath: '/bin/false', args: ['--user-agent=hijacked'] }) },
      });
      expect(await (await hijack.newPage()).evaluate(() => navigator.userAgent)).not.toContain('hijacked');
      await hijack.close();
    } finally {
      await b.release();
    }
  });

  /** `fleetwright_pool_browsers_removed_total` of the pool for `reason`, from the controller's /metrics. */
  async function removedBrowsers(reason: string): Promise<number> {
    const text = await (await fetch(`${await controller.process.url('metrics')}/metrics`)).text();
    const line = `fleetwright_pool_browsers_removed_total{namespace="${ns.name}",pool="browsers",reason="${reason}"} `;
    return Number(text.split('\n').find((l) => l.startsWith(line))?.slice(line.length) ?? 0);
  }

  it('scales 3 -> 5 -> 1 with kubectl scale, and the leased browser survives the scale-down', async () => {
    expect(kubectl(['scale', '-n', ns.name, 'browserpool/browsers', '--replicas=5']).status).toBe(0);
    await waitForPool(ns.name, 'browsers', '5 idle', (p) => p.status?.idle === 5);
    const kept = await lease('browsers', 'survivor');
    const scaledDownBefore = await removedBrowsers('ScaledDown');
    expect(kubectl(['scale', '-n', ns.name, 'browserpool/browsers', '--replicas=1']).status).toBe(0);
    const pool = await waitForPool(ns.name, 'browsers', 'one pod', (p) => p.status?.replicas === 1);
    expect(await removedBrowsers('ScaledDown') - scaledDownBefore).toBe(4);
    expect(pool.status).toMatchObject({ busy: 1, idle: 0 });
    const pods = (await poolPods(ns.name, 'browsers')).filter((p) => !p.metadata.deletionTimestamp);
    expect(pods.map((p) => p.metadata.name)).toEqual([kept.pod.name]);
    expect(leaseOf(pods[0] ?? { metadata: {} })?.holder).toBe('survivor');
    await kept.release();
    await waitForPool(ns.name, 'browsers', 'its browser idle again', (p) => p.status?.idle === 1 && p.status.replicas === 1);
  });

  it('replaces a pod whose browser was killed, and Ready recovers', async () => {
    const [victim] = (await poolPods(ns.name, 'browsers')).filter((p) => !p.metadata.deletionTimestamp);
    const name = victim?.metadata.name ?? '';
    // As the pod's own user: kill every chromium process of the agent.
    const kill = kubectl(['exec', '-n', ns.name, name, '--', 'node', '-e', `
      const fs = require('node:fs');
      for (const pid of fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d))) {
        try { if (fs.readFileSync('/proc/' + pid + '/comm', 'utf8').startsWith('chromium')) process.kill(Number(pid), 'SIGKILL'); } catch {}
      }`]);
    expect(kill.status, kill.stderr).toBe(0);
    const failed = await eventually('the victim pod to fail and be labelled so', async () => {
      const pod = (await poolPods(ns.name, 'browsers')).find((p) => p.metadata.name === name);
      return pod?.status?.phase === 'Failed' && pod.metadata.labels?.['fleetwright.dev/state'] === 'failed' ? pod : undefined;
    }, 30_000);
    const message = failed.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '';
    expect(message).toBe('the warm browser died');
    const pool = await waitForPool(ns.name, 'browsers', 'a replacement ready', (p) => p.status?.idle === 1);
    expect(condition(pool, 'Ready')?.status).toBe('True');
    const events = kubectl(['events', '-n', ns.name, '--for', 'browserpool/browsers']);
    expect(events.stdout).toContain(`browser pod ${name} failed: exit code 1 (Error): the warm browser died`);
  });

  it('serves 50 concurrent takers on a pool of 5: five at once, the rest in turn, no browser held twice', async () => {
    expect(kubectl(['scale', '-n', ns.name, 'browserpool/browsers', '--replicas=5']).status).toBe(0);
    await waitForPool(ns.name, 'browsers', '5 idle', (p) => p.status?.idle === 5);
    const holds: { pod: string; from: number; to: number }[] = [];
    let holding = 0;
    let mostHeld = 0;
    let sawWaiting = 0;
    const watcher = (async () => {
      while (holds.length < 50) {
        sawWaiting = Math.max(sawWaiting, (await getPool(ns.name, 'browsers')).status?.waiting ?? 0);
        await sleep(100);
      }
    })();
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const b = await lease('browsers', `taker-${i}`, { timeoutMs: 90_000 });
      mostHeld = Math.max(mostHeld, ++holding);
      const from = Date.now();
      await sleep(150);
      holding--;
      const to = Date.now();
      expect(await b.release()).toBe(true);
      holds.push({ pod: b.pod.name, from, to });
    }));
    await watcher;
    expect(holds).toHaveLength(50);
    expect(mostHeld).toBe(5);
    expect(sawWaiting).toBeGreaterThan(0);
    // No two holds of one browser overlap.
    for (const pod of new Set(holds.map((h) => h.pod))) {
      const spans = holds.filter((h) => h.pod === pod).sort((a, b) => a.from - b.from);
      for (let i = 1; i < spans.length; i++) expect(spans[i]?.from).toBeGreaterThanOrEqual(spans[i - 1]?.to ?? 0);
    }
    await waitForPool(ns.name, 'browsers', 'no one waiting', (p) => p.status?.waiting === 0 && p.status.idle === 5);
  });

  it('serves waiters by priority, then in arrival order', async () => {
    expect(kubectl(['scale', '-n', ns.name, 'browserpool/browsers', '--replicas=1']).status).toBe(0);
    await waitForPool(ns.name, 'browsers', 'one idle', (p) => p.status?.replicas === 1 && p.status.idle === 1);
    const first = await lease('browsers', 'first');
    const served: string[] = [];
    const waiters: Promise<void>[] = [];
    for (const [holder, priority] of [['low-a', 0], ['low-b', 0], ['high', 5]] as const) {
      waiters.push(lease('browsers', holder, { priority }).then(async (b) => {
        served.push(holder);
        await b.release();
      }));
      await waitForPool(ns.name, 'browsers', `${holder} queued`, (p) => p.status?.waiting === served.length + waiters.length);
    }
    await first.release();
    await Promise.all(waiters);
    expect(served).toEqual(['high', 'low-a', 'low-b']);
  });

  it('gives up a wait after its timeout, leaving nothing queued', async () => {
    const held = await lease('browsers', 'holder');
    await expect(lease('browsers', 'impatient', { timeoutMs: 1_000 })).rejects.toThrow(
      `no browser of pool ${ns.name}/browsers became free within 1000 ms`,
    );
    await held.release();
    await waitForPool(ns.name, 'browsers', 'no one waiting', (p) => p.status?.waiting === 0 && p.status.idle === 1);
  });

  it('reclaims a lease whose holder is gone', async () => {
    const held = await leasers.leaser.lease(
      { namespace: ns.name, name: 'browsers' },
      { holder: 'ghost', kind: 'TestRun', ref: `${ns.name}/no-such-run` },
      { timeoutMs: 30_000 },
    );
    await eventually('the ghost\'s browser to go', async () =>
      !(await poolPods(ns.name, 'browsers')).some((p) => p.metadata.name === held.pod.name && !p.metadata.deletionTimestamp));
    expect(await held.release()).toBe(false);
    const events = kubectl(['events', '-n', ns.name, '--for', 'browserpool/browsers']);
    expect(events.stdout).toContain(`holder TestRun ${ns.name}/no-such-run no longer exists`);
    await waitForPool(ns.name, 'browsers', 'a new idle browser', (p) => p.status?.idle === 1);
  });
});

describe('autoscaling', () => {
  it('keeps busy + waiting + idleBuffer browsers within min and max, and says when demand exceeds max', async () => {
    apply(ns.name, poolManifest('elastic', `
autoscaling: { minReplicas: 1, maxReplicas: 3, idleBuffer: 1, scaleDownDelaySeconds: 0 }`));
    await waitForPool(ns.name, 'elastic', 'one idle', (p) => p.status?.idle === 1 && p.status.replicas === 1);
    const held = [await lease('elastic', 'e1')];
    await waitForPool(ns.name, 'elastic', 'busy 1 + buffer 1', (p) => p.status?.replicas === 2 && p.status.idle === 1);
    held.push(await lease('elastic', 'e2'), await lease('elastic', 'e3'));
    const waiter = lease('elastic', 'e4');
    const limited = await waitForPool(ns.name, 'elastic', 'ScalingLimited', (p) => condition(p, 'ScalingLimited')?.status === 'True');
    expect(limited.status).toMatchObject({ replicas: 3, busy: 3, waiting: 1 });
    expect(condition(limited, 'ScalingLimited')?.message).toBe(
      'demand is 4 browsers (busy 3 + waiting 1), above autoscaling.maxReplicas 3',
    );
    for (const b of held) await b.release();
    await (await waiter).release();
    const calm = await waitForPool(ns.name, 'elastic', 'back to one', (p) => p.status?.replicas === 1);
    expect(condition(calm, 'ScalingLimited')?.status).toBe('False');
  });

  it('is scaled by a HorizontalPodAutoscaler through the scale subresource', async () => {
    apply(ns.name, poolManifest('hpa-target', 'replicas: 1'));
    apply(ns.name, `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: hpa-target }
spec:
  scaleTargetRef: { apiVersion: fleetwright.dev/v1alpha1, kind: BrowserPool, name: hpa-target }
  minReplicas: 2
  maxReplicas: 4
  metrics:
    - type: Resource
      resource: { name: cpu, target: { type: Utilization, averageUtilization: 80 } }
`);
    const pool = await waitForPool(ns.name, 'hpa-target', 'two ready', (p) => p.status?.readyReplicas === 2);
    expect((pool as { spec?: { replicas?: number } }).spec?.replicas).toBe(2);
  });
});

describe('failures', () => {
  it('goes Degraded with the reason when browsers crash in a loop', async () => {
    apply(ns.name, poolManifest('crashing', `
replicas: 1
launch:
  env: [{ name: FLEETWRIGHT_CHROMIUM_PATH, value: /nonexistent/chromium }]`));
    const pool = await waitForPool(ns.name, 'crashing', 'Degraded', (p) => condition(p, 'Degraded')?.status === 'True', 120_000);
    expect(condition(pool, 'Degraded')).toMatchObject({ reason: 'BrowsersFailing' });
    expect(condition(pool, 'Degraded')?.message).toMatch(
      /^3 browser pods failed in the last 15 minutes; last: crashing-\w+: exit code 1 \(Error\): the browser did not start: /,
    );
    expect(condition(pool, 'Ready')?.status).toBe('False');
    // The failed pods stay for kubectl logs; no new one starts during the backoff.
    const pods = await poolPods(ns.name, 'crashing');
    expect(pods.filter((p) => p.status?.phase === 'Failed')).toHaveLength(3);
    expect(pods.filter((p) => p.status?.phase !== 'Failed')).toHaveLength(0);
  });

  it('goes Degraded when the browser image cannot be pulled', async () => {
    apply(ns.name, poolManifest('unpullable', 'replicas: 1\nimage: localhost/fleetwright/no-such-image:1'));
    const pool = await waitForPool(ns.name, 'unpullable', 'Degraded', (p) => condition(p, 'Degraded')?.status === 'True');
    expect(condition(pool, 'Degraded')).toMatchObject({ reason: 'BrowserCannotStart' });
    expect(condition(pool, 'Degraded')?.message).toMatch(/^browser pod unpullable-\w+ cannot start: (ErrImagePull|ImagePullBackOff)/);
  });
});

describe('deleting a pool', () => {
  it('drains it: idle browsers go at once, a leased one when its lease ends', async () => {
    apply(ns.name, poolManifest('draining', 'replicas: 2'));
    await waitForPool(ns.name, 'draining', 'two idle', (p) => p.status?.idle === 2);
    const held = await lease('draining', 'last-client');
    expect(kubectl(['delete', '-n', ns.name, 'browserpool/draining', '--wait=false']).status).toBe(0);
    const draining = await waitForPool(ns.name, 'draining', 'Draining', (p) => condition(p, 'Ready')?.reason === 'Draining');
    expect(condition(draining, 'Ready')?.message).toMatch(/^deleting: waiting for 1 leased browser\(s\)/);
    await eventually('the idle browser to go', async () =>
      (await poolPods(ns.name, 'draining')).filter((p) => !p.metadata.deletionTimestamp).length === 1);
    expect(await held.release()).toBe(true);
    await eventually('the pool to be gone', async () =>
      kubectl(['get', '-n', ns.name, 'browserpool/draining']).stderr.includes('NotFound'), 30_000);
  });
});

describe('the controller process', () => {
  it('logged no reconcile errors', () => {
    const errors = controller.process.lines.filter((l) => l.level === 'error');
    expect(errors).toEqual([]);
  });
});
