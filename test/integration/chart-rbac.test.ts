// The chart's RBAC is enough, and no more: the real `fleetwright controller`,
// `fleetwright gateway` and `fleetwright report-store` run as the chart's
// ServiceAccounts (impersonated through their kubeconfigs) against the API
// server with RBAC on, and do their work on pools, runs, Tunnels and reports
// without one 403; things the code never does stay forbidden. The other suites run the controller and the
// gateway as these ServiceAccounts too (test/chart-identities.ts); this one
// also checks leader election in the release namespace, and what is denied.
//
// To see which test needs a rule, drop it: FLEETWRIGHT_RBAC_DROP (see
// test/chart-identities.ts) drops it here and in the other suites.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../hack/lib/paths.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../src/api/meta.ts';
import { applyChartRbac, type Component, serviceAccount, writeKubeconfigAs } from '../chart-identities.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { isNotFound } from '../../src/runtime/rest.ts';
import { kubectl, useNamespace } from './helpers.ts';
import {
  ControllerProcess, eventually, fleetwrightController, fleetwrightGateway, fleetwrightReportStore, type LogLine, rest,
} from './runtime/support.ts';

const system = useNamespace('rbac-sys');
const work = useNamespace('rbac-work');
const fullname = `fw-rbac-${process.pid}`;
const GATEWAY_URL = 'ws://gateway.example.test';
const REPORTS_URL = 'http://reports.example.test';
const main = join(repoRoot, 'src', 'main.ts');
const REPLICA = 'rbac-test';

const pod = (name: string) => objectPath({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true }, { namespace: work.name, name });
const lease = (namespace: string, name: string) =>
  objectPath({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true }, { namespace, name });
const fleetwright = (plural: string, name: string) =>
  objectPath({ apiVersion: 'fleetwright.dev/v1alpha1', kind: '', plural, namespaced: true }, { namespace: work.name, name });

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const get = (path: string) => rest().get<Obj>(path);
const gone = async (path: string) => {
  try {
    await rest().get(path);
    return false;
  } catch (err) {
    return isNotFound(err);
  }
};

/** The one pod of the work namespace with `selector`, once there is one. */
const onlyPod = (selector: string) =>
  eventually(`a pod ${selector}`, async () => {
    const list = await rest().get<{ items: Obj[] }>(`/api/v1/namespaces/${work.name}/pods`, { labelSelector: selector });
    return list.items.length === 1 && list.items[0]?.metadata.name;
  });

/** What a kubelet writes into a pod's status once its container runs and is ready. */
const running = (ip: string) => ({
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

/** ... and once its container `runner` ended with `message` as its termination message. */
const finished = (message: string) => ({
  status: {
    phase: 'Succeeded',
    containerStatuses: [{
      name: 'runner', image: 'runner', imageID: '', ready: false, restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', message } },
    }],
  },
});

let rbacManifest = '';
let controller: ControllerProcess;
let gateway: ControllerProcess;
let store: ControllerProcess;
let gatewayUrl = '';
let storeUrl = '';
/** A suite that needs no browser, for the runner to write and upload a real blob report of. */
let suite = '';

const release = { namespace: system.name, fullname };
const kubeconfigAs = (component: Component) =>
  writeKubeconfigAs(inject('kubeconfig'), release, component, join(mkdtempSync(join(tmpdir(), 'fw-rbac-')), `${component}.kubeconfig`));

function apply(manifest: string, namespace?: string): void {
  const result = kubectl(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], manifest);
  if (result.status !== 0) throw new Error(`kubectl apply: ${result.stderr}`);
}

const denials = (lines: LogLine[]) =>
  lines.filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l))).map((l) => JSON.stringify(l));

beforeAll(async () => {
  rbacManifest = await applyChartRbac(inject('kubeconfig'), release);
  store = new ControllerProcess([
    `--kubeconfig=${kubeconfigAs('report-store')}`,
    `--watch-namespace=${work.name}`,
    '--bind-address=127.0.0.1:0',
    '--metrics-bind-address=0',
    `--public-url=${REPORTS_URL}`,
    '--backend=filesystem',
    `--path=${mkdtempSync(join(tmpdir(), 'fw-rbac-reports-'))}`,
    '--log-level=debug',
  ], {}, fleetwrightReportStore);
  storeUrl = await store.url('reports');
  suite = mkdtempSync(join(tmpdir(), 'fw-rbac-suite-'));
  writeFileSync(join(suite, 'a.spec.ts'), [
    'import { expect, test } from \'@playwright/test\';',
    'test(\'adds\', () => expect(1 + 1).toBe(2));',
    'test(\'fails on purpose\', () => expect(1 + 1).toBe(3));',
    '',
  ].join('\n'));
  controller = new ControllerProcess([
    `--kubeconfig=${kubeconfigAs('controller')}`,
    '--leader-elect',
    `--leader-election-id=${fullname}-controller`,
    `--leader-election-namespace=${system.name}`,
    `--gateway-url=${GATEWAY_URL}`,
    `--report-store-url=${storeUrl}`,
    '--metrics-bind-address=0',
    '--health-probe-bind-address=127.0.0.1:0',
    // Renewals every second, leadership lost 3 s after they start failing: within this test's time.
    '--leader-elect-lease-duration=4s',
    '--leader-elect-renew-deadline=3s',
    '--leader-elect-retry-period=1s',
    // A failed renewal or list is logged at debug level only.
    '--log-level=debug',
  ], {}, fleetwrightController);
  gateway = new ControllerProcess([
    `--kubeconfig=${kubeconfigAs('gateway')}`,
    '--bind-address=127.0.0.1:0',
    '--metrics-bind-address=0',
    `--replica-namespace=${system.name}`,
    `--replica-name=${REPLICA}`,
    '--log-level=debug',
  ], {}, fleetwrightGateway);
  apply(`
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: s3cret }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: suite }
data: { a.spec.ts: "import { test } from '@playwright/test'; test('a', () => {});" }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: pool }
spec: { browser: chromium, replicas: 1 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: fake }
spec: { browser: chromium, replicas: 0 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: empty }
spec: { browser: chromium, replicas: 0 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: run }
spec: { poolRef: { name: pool }, source: { configMap: { name: suite } }, shards: 1, ttlSecondsAfterFinished: 0 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: tun }
spec: { poolRefs: [{ name: fake }], auth: { secretRef: { name: token } }, queueTimeoutSeconds: 1 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: queue }
spec: { poolRefs: [{ name: empty }], auth: { secretRef: { name: token } }, queueTimeoutSeconds: 1 }
`, work.name);
}, 60_000);

afterAll(async () => {
  await Promise.all([controller?.kill('SIGTERM'), gateway?.kill('SIGTERM'), store?.kill('SIGTERM')]);
  if (rbacManifest) kubectl(['delete', '--ignore-not-found', '-f', '-'], rbacManifest);
});

describe('the controller and the gateway as the chart\'s ServiceAccounts', () => {
  it('sync every informer: each list and watch is allowed', async () => {
    // The gateway serves only once its caches have synced and its heartbeat is written.
    gatewayUrl = await gateway.url('Tunnels');
    const probes = await controller.url('health probes');
    await eventually('the controller to be ready', async () => (await fetch(`${probes}/readyz`)).status === 200);
    await eventually('the gateway to be ready', async () => (await fetch(`${gatewayUrl}/readyz`)).status === 200);
    await eventually('the report store to be ready', async () => (await fetch(`${storeUrl}/readyz`)).status === 200);
  });

  it('lead through their own Lease, and the gateway beats its heartbeat', async () => {
    const leader = await eventually('the leader election Lease', () =>
      get(lease(system.name, `${fullname}-controller`)).then((l) => (l as { spec?: { holderIdentity?: string } }).spec?.holderIdentity));
    expect(leader).not.toBe('');
    await eventually('the gateway heartbeat', () => get(lease(system.name, `fleetwright-gateway-${REPLICA}`)));
  });

  it('keep a pool: finalizer, browser pod, status and an Event', async () => {
    await eventually('the pool\'s finalizer, status and pod', async () => {
      const pool = await get(fleetwright('browserpools', 'pool'));
      const pods = await rest().get<{ items: Obj[] }>(`/api/v1/namespaces/${work.name}/pods`, { labelSelector: 'fleetwright.dev/pool=pool' });
      return pool.metadata.finalizers?.includes('fleetwright.dev/drain') && pool.status?.selector && pods.items.length === 1;
    });
    await eventually('a ScaledUp Event', async () => {
      const events = await rest().get<{ items: { reason?: string }[] }>(`/apis/events.k8s.io/v1/namespaces/${work.name}/events`);
      return events.items.some((e) => e.reason === 'ScaledUp');
    });
  });

  it('queue a TestRun: finalizer, lease request, status', async () => {
    await eventually('the run Queued with its lease request', async () => {
      const run = await get(fleetwright('testruns', 'run'));
      const requests = await rest().get<{ items: Obj[] }>(`/apis/coordination.k8s.io/v1/namespaces/${work.name}/leases`);
      return run.metadata.finalizers?.includes('fleetwright.dev/testrun-cleanup') && run.status?.phase === 'Queued' &&
        requests.items.some((r) => r.metadata.name?.startsWith('testrun-run-'));
    });
  });

  it('report a Tunnel\'s URL', async () => {
    await eventually('the Tunnel\'s status.url', async () =>
      (await get(fleetwright('tunnels', 'tun'))).status?.url === `${GATEWAY_URL}/tunnels/${work.name}/tun`);
  });

  it('let the gateway lease an idle browser and give it back', async () => {
    // A browser pod that looks Running and Ready: no kubelet runs here to start a real one.
    apply(`
apiVersion: v1
kind: Pod
metadata:
  name: fake-browser
  labels: { fleetwright.dev/pool: fake, fleetwright.dev/state: idle }
  annotations: { fleetwright.dev/ws-path: /pw-fake }
spec: { containers: [{ name: agent, image: none }] }
`, work.name);
    await rest().mergePatch(`${pod('fake-browser')}/status`, running('127.0.0.9'));
    const url = `${gatewayUrl}/tunnels/${work.name}/tun/json/version`;
    // 502: the gateway leased the browser (once its cache has the pod) and found nobody at its endpoint. A
    // lease that loses a race with another write to the pod (the scheduler's, retrying it as Nodes come and go
    // in other files) joins the pool's queue, where nobody grants this pod: queueTimeoutSeconds 1 ends it soon.
    await eventually('the gateway to lease the browser', async () =>
      (await fetch(url, { headers: { Authorization: 'Bearer s3cret' } })).status === 502);
    await eventually('the browser given back', async () => {
      const browser = await get(pod('fake-browser'));
      return Number(browser.metadata.annotations?.['fleetwright.dev/sessions']) >= 1 &&
        browser.metadata.labels?.['fleetwright.dev/state'] === 'idle' &&
        browser.metadata.annotations?.['fleetwright.dev/lease'] === undefined;
    });
  });

  it('let the gateway queue for a browser and withdraw on timeout', async () => {
    const response = await fetch(`${gatewayUrl}/tunnels/${work.name}/queue/json/version`, { headers: { Authorization: 'Bearer s3cret' } });
    expect(response.status).toBe(503);
    const requests = await rest().get<{ items: Obj[] }>(`/apis/coordination.k8s.io/v1/namespaces/${work.name}/leases`, {
      labelSelector: 'fleetwright.dev/pool=empty',
    });
    expect(requests.items).toEqual([]);
  });

  it('run a TestRun to its end on a pooled browser, and delete it after its TTL', async () => {
    // No kubelet here: the test plays it, writing what it would into the pods' status.
    const browser = await onlyPod('fleetwright.dev/pool=pool');
    await rest().mergePatch(`${pod(browser)}/status`, running('127.0.0.10'));
    const runner = await onlyPod('fleetwright.dev/testrun=run');
    // Neither a browser nor a runner pod gets an API token: only the controller and the gateway talk to the API.
    for (const name of [browser, runner]) {
      expect((await get(pod(name))).spec, name).toMatchObject({ automountServiceAccountToken: false });
    }
    const summary = { passed: 1, failed: 0, flaky: 0, skipped: 0, durationMs: 5, status: 'passed' };
    await rest().mergePatch(`${pod(runner)}/status`, finished(JSON.stringify(summary)));
    await eventually('the run deleted after ttlSecondsAfterFinished', () => gone(fleetwright('testruns', 'run')));
    await eventually('its browser back in the pool', async () =>
      (await get(pod(browser))).metadata.labels?.['fleetwright.dev/state'] === 'idle');
  });

  it('give a run its upload token and the namespace a read token, and let the store take, merge and publish the report',
    { timeout: 90_000 },
    async () => {
      apply(`
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: reported }
spec: { poolRef: { name: pool }, source: { configMap: { name: suite } }, shards: 1 }
`, work.name);
      const runner = await onlyPod('fleetwright.dev/testrun=reported');
      const run = await get(fleetwright('testruns', 'reported'));
      const secret = (name: string) => get(`/api/v1/namespaces/${work.name}/secrets/${name}`) as Promise<Obj & { data: { token: string } }>;
      const upload = await secret('reported-report');
      expect(upload.metadata.labels?.['fleetwright.dev/report-token']).toBe('reported');
      expect(upload.metadata.ownerReferences).toMatchObject([{ kind: 'TestRun', name: 'reported', uid: run.metadata.uid, controller: true }]);
      const reader = await secret('fleetwright-reports');
      expect(reader.metadata.ownerReferences).toBeUndefined();
      type Env = { name: string; value?: string };
      const env = ((await get(pod(runner))).spec as { containers: { env: Env[] }[] }).containers[0]?.env ?? [];
      const uploadUrl = env.find((e) => e.name === 'FLEETWRIGHT_REPORT_UPLOAD_URL')?.value;
      expect(uploadUrl).toBe(`${storeUrl}/reports/${work.name}/reported/shards/1`);

      // The test plays the runner pod: `fleetwright runner` with what the pod would have mounted.
      const tmp = mkdtempSync(join(tmpdir(), 'fw-rbac-runner-'));
      writeFileSync(join(tmp, 'token'), Buffer.from(upload.data.token, 'base64'));
      const termination = join(tmp, 'termination-log');
      const child = spawn(process.execPath, [main, 'runner'], {
        env: {
          ...process.env,
          CI: 'true',
          FLEETWRIGHT_SOURCE_DIR: suite,
          FLEETWRIGHT_WORK_DIR: join(tmp, 'work'),
          FLEETWRIGHT_TERMINATION_LOG: termination,
          FLEETWRIGHT_REPORT_UPLOAD_URL: uploadUrl,
          FLEETWRIGHT_REPORT_TOKEN_FILE: join(tmp, 'token'),
        },
        stdio: 'ignore',
      });
      expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
      const message = readFileSync(termination, 'utf8');
      expect(JSON.parse(message)).toMatchObject({ passed: 1, failed: 1, report: 'uploaded' });

      await rest().mergePatch(`${pod(runner)}/status`, finished(message));
      const reportURL = `${REPORTS_URL}/reports/${work.name}/reported/`;
      const done = await eventually('the merged report in status.reportURL', async () => {
        const latest = await get(fleetwright('testruns', 'reported'));
        return latest.status?.reportURL === reportURL && latest;
      }, 60_000);
      expect((done.status?.shards as { report?: string }[])[0]?.report).toBe('Uploaded');
      const readToken = Buffer.from(reader.data.token, 'base64').toString();
      const page = await fetch(`${storeUrl}/reports/${work.name}/reported/`, { headers: { authorization: `Bearer ${readToken}` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    });

  it('stop a deleted TestRun and drain a deleted pool', async () => {
    apply(`
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: stopped }
spec: { poolRef: { name: pool }, source: { configMap: { name: suite } }, shards: 1 }
`, work.name);
    const runner = await onlyPod('fleetwright.dev/testrun=stopped');
    kubectl(['delete', '-n', work.name, 'testrun/stopped', '--wait=false']);
    await eventually('the TestRun gone, its runner stopped', async () =>
      await gone(fleetwright('testruns', 'stopped')) && await gone(pod(runner)));
    kubectl(['delete', '-n', work.name, 'browserpool/pool', '--wait=false']);
    await eventually('the pool gone', () => gone(fleetwright('browserpools', 'pool')));
  });

  it('fold a stopped gateway replica\'s counts and delete its heartbeat', async () => {
    expect(await gateway.kill('SIGTERM')).toBe(0);
    await eventually('the heartbeat Lease deleted', () => gone(lease(system.name, `fleetwright-gateway-${REPLICA}`)), 40_000);
  }, 60_000);

  it('keep leading all along, and hand the Lease back on SIGTERM', async () => {
    expect(controller.child.exitCode, 'the controller exited: it lost its Lease').toBeNull();
    expect(await controller.kill('SIGTERM')).toBe(0);
    const released = await get(lease(system.name, `${fullname}-controller`));
    expect((released as { spec?: { holderIdentity?: string } }).spec?.holderIdentity).toBe('');
  });

  it('met not one 403 on the way', () => {
    expect(denials(controller.lines)).toEqual([]);
    expect(denials(gateway.lines)).toEqual([]);
    expect(denials(store.lines)).toEqual([]);
  });

  it.each([
    ['controller', 'get', 'secrets'],
    ['controller', 'update', 'secrets'],
    ['controller', 'delete', 'secrets'],
    ['controller', 'update', `leases/fleetwright-gateway-${REPLICA}`],
    ['controller', 'update', 'pods'],
    ['controller', 'create', 'deployments.apps'],
    ['gateway', 'create', 'pods'],
    ['gateway', 'delete', 'pods'],
    ['gateway', 'patch', 'tunnels.fleetwright.dev/status'],
    ['gateway', 'create', 'events.events.k8s.io'],
    ['report-store', 'get', 'secrets'],
    ['report-store', 'create', 'secrets'],
    ['report-store', 'patch', 'testruns.fleetwright.dev'],
    ['report-store', 'delete', 'testruns.fleetwright.dev'],
    ['report-store', 'patch', 'tunnels.fleetwright.dev'],
    ['report-store', 'update', 'tunnels.fleetwright.dev/status'],
    ['report-store', 'delete', 'tunnels.fleetwright.dev'],
    ['report-store', 'create', 'pods'],
  ] as [Component, string, string][])('never lets the %s %s %s', (component, verb, resource) => {
    const result = kubectl(['auth', 'can-i', verb, resource, '-n', system.name, `--as=${serviceAccount(release, component)}`]);
    expect(result.stdout.trim()).toBe('no');
  });
});
