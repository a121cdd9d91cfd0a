// The chart's Argo CD health checks (charts/fleetwright/files/argocd/*.lua),
// run with lua5.4 on BrowserPools, TestRuns and Tunnels as `kubectl get -o
// json` returns them from the real controller on the real node, at the
// moments Argo CD would show Progressing, Healthy and Degraded. The same run
// checks the pool and TestRun metrics on the live /metrics. With
// FLEETWRIGHT_WRITE_ARGOCD_FIXTURES=1 it saves every object it judged under
// test/fixtures/argocd/, which the unit test test/unit/argocd-health.test.ts
// runs the scripts on again without a cluster.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import type { LeasedBrowser } from '../../src/leasing/leaser.ts';
import { argoHealth, type Kind } from '../argocd/health.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { ControllerProcess, eventually, fleetwrightController } from '../integration/runtime/support.ts';
import { apply, deleteFleetwrightObjects, poolManifest, startGateway, useLeaser, waitForPool } from './pools.ts';

const ns = useNamespace('argocd');
const leasers = useLeaser(() => ns.name);
let controller: ControllerProcess;

const fixtures = join(repoRoot, 'test', 'fixtures', 'argocd');
const judged: { file: string; kind: Kind; object: KubeObject; health: { status: string; message: string } }[] = [];

interface Status {
  phase?: string;
  queuePosition?: number;
  idle?: number;
  busy?: number;
  starting?: number;
  waiting?: number;
  conditions?: { type: string; status: string; reason: string; message: string }[];
}
type Obj = KubeObject & { status?: Status };
const cond = (o: Obj, type: string) => o.status?.conditions?.find((c) => c.type === type);

const plural: Record<Kind, string> = { BrowserPool: 'browserpools', TestRun: 'testruns', Tunnel: 'tunnels' };

/** The object as `kubectl get -o json` shows it, once `ready` holds for it (polled). */
function capture(kind: Kind, name: string, what: string, ready: (o: Obj) => boolean, timeoutMs = 120_000) {
  return eventually(`${kind} ${name}: ${what}`, () => {
    const got = kubectl(['get', plural[kind], name, '-n', ns.name, '-o', 'json']);
    if (got.status !== 0) return undefined;
    const obj = JSON.parse(got.stdout) as Obj;
    return ready(obj) ? obj : undefined;
  }, timeoutMs);
}

/**
 * The object as the API server would store it, defaults applied, before any
 * controller wrote a status: a server-side dry run persists nothing, so no
 * controller on the shared cluster ever sees it.
 */
function dryRun(manifest: string): Obj {
  const result = kubectl(['create', '--dry-run=server', '-n', ns.name, '-o', 'json', '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl create --dry-run=server failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Obj;
}

/** Argo CD's verdict on `object` by the chart's script; recorded as a fixture named `file`. */
function judge(file: string, kind: Kind, object: Obj) {
  const health = argoHealth(kind, object);
  const metadata: Record<string, unknown> = { ...object.metadata };
  delete metadata.managedFields;
  judged.push({ file, kind, object: { ...object, metadata } as Obj, health });
  return health;
}

async function scrape(): Promise<string> {
  return (await fetch(`${await controller.url('metrics')}/metrics`)).text();
}

const testRun = (name: string, pool: string, configMap: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: ${name} }
spec: { poolRef: { name: ${pool} }, source: { configMap: { name: ${configMap} } }, timeoutSeconds: 300 }
`;

const suite = (name: string, body: string) => `
apiVersion: v1
kind: ConfigMap
metadata: { name: ${name} }
data:
  playwright.config.ts: |
    import { defineConfig } from '@playwright/test';
    export default defineConfig({ testDir: '.' });
  check.spec.ts: |
    import { expect, test } from '@playwright/test';
    test('the heading', async ({ page }) => {
      await page.setContent('<h1>Fleetwright</h1>');
      ${body}
    });
`;

beforeAll(() => {
  controller = new ControllerProcess([
    `--image=${inject('image')}`,
    `--watch-namespace=${ns.name}`,
    '--metrics-bind-address=127.0.0.1:0',
    '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
  apply(ns.name, suite('passing', 'await expect(page.getByRole(\'heading\')).toHaveText(\'Fleetwright\');'));
  apply(ns.name, suite('failing', 'await expect(page.getByRole(\'heading\')).toHaveText(\'Something else\', { timeout: 500 });'));
});

afterAll(async () => {
  await deleteFleetwrightObjects(ns.name);
  await controller.kill('SIGTERM');
  if (process.env.FLEETWRIGHT_WRITE_ARGOCD_FIXTURES === '1') {
    rmSync(fixtures, { recursive: true, force: true });
    mkdirSync(fixtures, { recursive: true });
    for (const { file, kind, object, health } of judged) {
      writeFileSync(join(fixtures, `${file}.json`), `${JSON.stringify({ kind, expected: health, object }, null, 2)}\n`);
    }
    console.log(`wrote ${readdirSync(fixtures).length} fixtures to ${fixtures}`);
  }
});

const tunnel = (name: string, key: string) => `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: ${name} }
spec: { poolRefs: [{ name: chromium }], auth: { secretRef: { name: token, key: ${key} } } }
`;

describe('the BrowserPool health check on live pools', () => {
  it('is Progressing before the controller has written a status', () => {
    const pool = dryRun(poolManifest('unreconciled', 'replicas: 1'));
    expect(pool.metadata.uid).toBeTruthy();
    expect(pool.status).toBeUndefined();
    expect(judge('browserpool-no-status', 'BrowserPool', pool)).toMatchObject({ status: 'Progressing' });
  });

  it('is Progressing while its browser starts, Healthy once it is idle', async () => {
    apply(ns.name, poolManifest('chromium', 'replicas: 1'));
    const starting = await capture('BrowserPool', 'chromium', 'a browser starting',
      (p) => (p.status?.starting ?? 0) > 0 && cond(p, 'Ready')?.status === 'False');
    expect(judge('browserpool-starting', 'BrowserPool', starting)).toEqual({
      status: 'Progressing',
      message: 'all 1 browser pod(s) are busy or starting; 0 lease request(s) waiting',
    });
    const idle = await capture('BrowserPool', 'chromium', 'an idle browser', (p) => p.status?.idle === 1);
    expect(judge('browserpool-ready', 'BrowserPool', idle)).toEqual({ status: 'Healthy', message: '1 idle browser(s) ready to lease' });
  });

  it('is Degraded when its browsers cannot start', async () => {
    apply(ns.name, poolManifest('unpullable', 'replicas: 1\nimage: localhost/fleetwright/no-such-image:1'));
    const pool = await capture('BrowserPool', 'unpullable', 'Degraded', (p) => cond(p, 'Degraded')?.status === 'True');
    const health = judge('browserpool-degraded', 'BrowserPool', pool);
    expect(health.status).toBe('Degraded');
    expect(health.message).toMatch(/^BrowserCannotStart: browser pod unpullable-\w+ cannot start: (ErrImagePull|ImagePullBackOff)/);
    kubectl(['delete', 'bp', 'unpullable', '-n', ns.name, '--wait=false']);
  });
});

describe('the Tunnel health check on live Tunnels', () => {
  it('is Progressing without a status or a gateway, Degraded without its token, Healthy once served', async () => {
    const bare = dryRun(tunnel('unreconciled', 'token'));
    expect(bare.status).toBeUndefined();
    expect(judge('tunnel-no-status', 'Tunnel', bare)).toMatchObject({ status: 'Progressing' });

    const secret = 'apiVersion: v1\nkind: Secret\nmetadata: { name: token }\nstringData: { token: t0ken }\n';
    apply(ns.name, `${secret}---${tunnel('remote', 'token')}---${tunnel('keyless', 'missing')}`);
    const waiting = await capture('Tunnel', 'remote', 'NoGateway', (t) => cond(t, 'Ready')?.reason === 'NoGateway');
    expect(judge('tunnel-no-gateway', 'Tunnel', waiting)).toEqual({
      status: 'Progressing',
      message: 'NoGateway: no gateway replica serves this Tunnel: is the fleetwright gateway running?',
    });
    const keyless = await capture('Tunnel', 'keyless', 'SecretKeyMissing', (t) => cond(t, 'Ready')?.reason === 'SecretKeyMissing');
    expect(judge('tunnel-secret-key-missing', 'Tunnel', keyless)).toEqual({
      status: 'Degraded',
      message: 'SecretKeyMissing: Secret token has no token under key missing (missing or empty): add it, or fix spec.auth.secretRef.key',
    });

    const gateway = startGateway(ns.name, 'argocd-gateway');
    try {
      const served = await capture('Tunnel', 'remote', 'Ready', (t) => cond(t, 'Ready')?.status === 'True');
      const health = judge('tunnel-ready', 'Tunnel', served);
      expect(health.status).toBe('Healthy');
      expect(health.message).toMatch(/^serving at .* through 1 gateway replica\(s\)$/);
    } finally {
      await gateway.kill('SIGTERM');
    }
  });
});

describe('a busy pool', () => {
  it('stays Healthy with every browser leased and a taker waiting, as /metrics shows', async () => {
    const lease = (holder: string, timeoutMs: number) => leasers.leaser.lease({ namespace: ns.name, name: 'chromium' },
      { holder, kind: 'Tunnel', ref: `${ns.name}/remote` }, { timeoutMs });
    await waitForPool(ns.name, 'chromium', 'an idle browser', (p) => p.status?.idle === 1);
    const first = await lease('argocd/1', 30_000);
    let second: Promise<LeasedBrowser> | undefined;
    try {
      const busy = await capture('BrowserPool', 'chromium', 'all busy', (p) => p.status?.busy === 1 && p.status.idle === 0);
      expect(judge('browserpool-all-busy', 'BrowserPool', busy)).toEqual({
        status: 'Healthy',
        message: 'All 1 browser(s) busy; 0 lease request(s) waiting',
      });
      second = lease('argocd/2', 60_000);
      const queued = await capture('BrowserPool', 'chromium', 'a taker waiting', (p) => p.status?.waiting === 1);
      expect(judge('browserpool-all-busy-waiting', 'BrowserPool', queued)).toEqual({
        status: 'Healthy',
        message: 'All 1 browser(s) busy; 1 lease request(s) waiting',
      });
      const labels = `namespace="${ns.name}",pool="chromium"`;
      const text = await scrape();
      expect(text).toContain(`fleetwright_pool_waiting{${labels}} 1`);
      expect(text).toContain(`fleetwright_pool_browsers{${labels},state="idle"} 0`);
      expect(text).toContain(`fleetwright_pool_browsers{${labels},state="busy"} 1`);
      expect(text).toContain(`fleetwright_pool_browsers{${labels},state="starting"} 0`);
      expect(text).toContain(`fleetwright_pool_max_browsers{${labels}} 1`);
    } finally {
      await first.release();
      await (await second)?.release();
    }
  });
});

describe('the TestRun health check on live runs', () => {
  it('is Progressing before the controller has written a status, and while its pool is missing', async () => {
    const bare = dryRun(testRun('unreconciled', 'chromium', 'passing'));
    expect(bare.status).toBeUndefined();
    expect(judge('testrun-no-status', 'TestRun', bare)).toMatchObject({ status: 'Progressing' });

    apply(ns.name, testRun('orphan', 'nowhere', 'passing'));
    const orphan = await capture('TestRun', 'orphan', 'PoolNotFound', (r) => cond(r, 'Scheduled')?.reason === 'PoolNotFound');
    expect(judge('testrun-pool-not-found', 'TestRun', orphan)).toEqual({
      status: 'Progressing',
      message: `BrowserPool nowhere does not exist in namespace ${ns.name}: create it or fix spec.poolRef`,
    });
  });

  it('is Progressing while Queued and Running, Healthy when it passed, Degraded when it failed', async () => {
    await waitForPool(ns.name, 'chromium', 'an idle browser', (p) => p.status?.idle === 1);
    apply(ns.name, testRun('first', 'chromium', 'passing'));
    const running = await capture('TestRun', 'first', 'Running', (r) => r.status?.phase === 'Running');
    expect(judge('testrun-running', 'TestRun', running)).toEqual({
      status: 'Progressing',
      message: '1 of 1 shard(s) running, 0 done',
    });
    // The pool's one browser runs the first: the second waits for it.
    apply(ns.name, testRun('second', 'chromium', 'failing'));
    const queued = await capture('TestRun', 'second', 'Queued',
      (r) => r.status?.phase === 'Queued' && r.status.queuePosition === 1);
    expect(judge('testrun-queued', 'TestRun', queued)).toEqual({
      status: 'Progressing',
      message: 'queued on BrowserPool chromium (position 1)',
    });
    const final = ['Succeeded', 'Failed', 'Error'];
    const passed = await capture('TestRun', 'first', 'finished', (r) => final.includes(r.status?.phase ?? ''), 180_000);
    expect(judge('testrun-succeeded', 'TestRun', passed)).toEqual({
      status: 'Healthy',
      message: '1 passed, 0 failed, 0 flaky, 0 skipped',
    });
    const failed = await capture('TestRun', 'second', 'finished', (r) => final.includes(r.status?.phase ?? ''), 180_000);
    expect(judge('testrun-failed', 'TestRun', failed)).toEqual({
      status: 'Degraded',
      message: 'Failed (TestsFailed): 0 passed, 1 failed, 0 flaky, 0 skipped',
    });

    const text = await scrape();
    expect(text).toContain(`fleetwright_testruns_finished_total{namespace="${ns.name}",result="Succeeded"} 1`);
    expect(text).toContain(`fleetwright_testruns_finished_total{namespace="${ns.name}",result="Failed"} 1`);
  });

  it('logged no reconcile errors', () => {
    expect(controller.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
