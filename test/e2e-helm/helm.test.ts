// Fleetwright installed for real: `helm install` of the chart released from
// this tree to the local registry (global-setup.ts), on the local cluster
// (real node, kube-proxy, CoreDNS, the controllers a Deployment needs), whose
// node pulls the released image by digest. The controller, gateway and report store
// run in pods as the chart's ServiceAccounts, with the chart's RBAC and
// nothing else, and reach the API server through the kubernetes Service;
// runner pods upload their reports to the store by its Service's name. The
// tests run in order, as one user's day: install, samples, a Tunnel session,
// a lost leader, an upgrade, an uninstall. Then an upgrade from the previous
// release to this one while a TestRun runs.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot } from '../../hack/lib/paths.ts';
import { REGISTRY_ADDRESS } from '../../hack/lib/registry.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../../src/contracts/report-store.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, hasCondition, helm, type KubeObject, kubectl, listJson, type Pod, tryKubectl, waitFor } from './kube.ts';
import {
  applySamples,
  componentPods,
  controllerLog,
  controllerName,
  createNamespaces,
  deploymentDone,
  gatewayName,
  install,
  leaderPod,
  release,
  releasedImage,
  removeEverything,
  reportStoreName,
  samples,
  sampleToken,
  upgrade,
} from './release.ts';
import { finished, Gate, gatedSuite, getRun, type TestRun, testRun } from './suites.ts';

const log = (line: string) => console.log(`[e2e-helm] ${line}`);
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const names = (pods: Pod[]) => pods.map((p) => p.metadata.name).sort();
const diagnose = () => controllerLog();
const reportStoreLog = () => `\nreport store log:\n${tryKubectl(['logs', '-n', release.namespace, `deployment/${reportStoreName}`, '--tail=15']).stdout}`;

/** The run `name` once finished; fails with its conditions and the controller's log unless it Succeeded. */
async function succeeded(name: string, timeoutMs: number): Promise<TestRun> {
  const run = await waitFor(`TestRun ${name} to finish`, () => finished(name), {
    timeoutMs,
    last: () => getRun(name)?.status,
    diagnose,
  });
  if (run.status?.phase !== 'Succeeded') throw new Error(`TestRun ${name}: ${JSON.stringify(run.status)}\n${diagnose()}`);
  return run;
}

/** The Lease is held by one of the controller pods there are now (not by one that is gone). */
function aControllerPodLeads(): boolean {
  const leader = leaderPod();
  return leader !== undefined && names(componentPods('controller')).includes(leader);
}

/** `fleetwright_leader` of every controller replica, read from its pod IP as Prometheus would. */
async function leaderGauges(): Promise<Record<string, number>> {
  const entries = await Promise.all(componentPods('controller').map(async (pod) => {
    const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('fleetwright_leader '));
    return [pod.metadata.name, Number(line?.split(' ')[1])] as const;
  }));
  return Object.fromEntries(entries);
}

const { current, previous } = inject('releases');

describe('npm run release', () => {
  it('refuses a version the registry already has, naming it, the registry and --overwrite, and pushes nothing', () => {
    const args = ['--registry', REGISTRY_ADDRESS, '--version', current.version, '--plain-http'];
    const result = spawnSync(process.execPath, [join(repoRoot, 'hack', 'release.ts'), ...args], { encoding: 'utf8' });
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 1, stdout: '' });
    expect(result.stderr).toContain(`version ${current.version} is already published in ${REGISTRY_ADDRESS}`);
    expect(result.stderr).toContain('--overwrite');
    // Refused before building: what the registry serves is still the release the suite made.
    const values = helm(['show', 'values', current.chart, '--version', current.version, '--plain-http']);
    expect(values).toContain(current.digest);
  });
});

describe(`helm install ${current.chart} --version ${current.version}`, () => {
  const image = releasedImage(current);
  let installedAt = 0;

  beforeAll(async () => {
    await removeEverything();
    createNamespaces();
  });
  afterAll(async () => {
    if (process.env.FLEETWRIGHT_E2E_KEEP) log(`FLEETWRIGHT_E2E_KEEP: release ${release.name} left installed`);
    else await removeEverything();
  });

  it('runs the controller (2 replicas, one leader), the gateway and the report store as Available Deployments', async () => {
    installedAt = Date.now();
    install(current);
    log(`helm install returned in ${seconds(installedAt)}`);
    // As a user would, right away: the pool, the sample suite's run and the Tunnel.
    applySamples();

    await waitFor('the controller, gateway and report store Deployments to be Available', () =>
      deploymentDone(controllerName) && deploymentDone(gatewayName) && deploymentDone(reportStoreName),
    { timeoutMs: 120_000, diagnose });
    log(`Deployments Available ${seconds(installedAt)} after helm install`);

    const controllers = componentPods('controller');
    expect(controllers).toHaveLength(2);
    expect(componentPods('gateway')).toHaveLength(2);
    for (const pod of [...controllers, ...componentPods('gateway'), ...componentPods('report-store')]) {
      expect(pod.spec.containers[0]?.image).toBe(image);
      // What the node pulled from the registry is what the release pushed.
      expect(pod.status.containerStatuses?.[0]?.imageID.split('@')[1]).toBe(current.digest);
      // Its own ServiceAccount, whose projected token is how it reaches the API server.
      const component = pod.metadata.labels?.['app.kubernetes.io/component'];
      expect(pod.spec.serviceAccountName).toBe(`${release.fullname}-${component}`);
      expect(pod.spec.volumes?.some((v) => v.name.startsWith('kube-api-access-') && v.projected)).toBe(true);
    }

    const leader = await waitFor('a controller to hold the Lease', leaderPod, { diagnose });
    expect(names(controllers)).toContain(leader);
    const gauges = await waitFor('each replica to report whether it leads', async () => {
      const g = await leaderGauges();
      return Object.values(g).reduce((a, b) => a + b, 0) === 1 ? g : undefined;
    });
    expect(gauges).toEqual(Object.fromEntries(names(controllers).map((n) => [n, n === leader ? 1 : 0])));
  });

  it('makes the sample BrowserPool Ready (timed from helm install)', async () => {
    await waitFor('BrowserPool chromium to be Ready', () =>
      hasCondition(getJson(['browserpool.fleetwright.dev', 'chromium', '-n', samples]), 'Ready'), {
      timeoutMs: 120_000,
      last: () => getJson<{ status?: unknown }>(['browserpool.fleetwright.dev', 'chromium', '-n', samples])?.status,
      diagnose,
    });
    log(`fresh helm install to a Ready BrowserPool: ${seconds(installedAt)}`);
  });

  it('runs the sample TestRun to Succeeded with all 8 tests, reconciled by the in-cluster leader', async () => {
    const run = await succeeded('smoke', 180_000);
    expect(run.status?.summary).toMatchObject({ passed: 8, failed: 0 });
    // Each runner pod found the report store by its Service's name (CoreDNS) and uploaded its shard's report.
    expect(run.status?.shards?.map((s) => [s.index, s.phase, s.passed, s.report])).toEqual([
      [1, 'Succeeded', 4, 'Uploaded'],
      [2, 'Succeeded', 4, 'Uploaded'],
    ]);

    // Events name the replica that wrote them: a pod of the release, not a process on the host.
    const events = listJson<{ regarding?: { name: string; kind: string }; reportingInstance?: string }>([
      'events.events.k8s.io', '-n', samples,
    ]).filter((e) => e.regarding?.kind === 'TestRun' && e.regarding.name === 'smoke');
    expect(events.length).toBeGreaterThan(0);
    const controllers = names(componentPods('controller'));
    for (const e of events) expect(controllers).toContain(e.reportingInstance?.split('_')[0]);
    log(`sample TestRun Succeeded ${seconds(installedAt)} after helm install`);
  });

  it('merges the sample run\'s shard reports into one HTML report that opens with the namespace\'s read token', async () => {
    const url = await waitFor('TestRun smoke\'s merged report', () => getRun('smoke')?.status?.reportURL, {
      timeoutMs: 90_000,
      diagnose: () => controllerLog() + reportStoreLog(),
    });
    const store = `${reportStoreName}.${release.namespace}.svc`;
    expect(new URL(url).hostname).toBe(store);
    // The host has no cluster DNS: the same URL on the Service's ClusterIP, which kube-proxy maps.
    const service = getJson<{ spec: { clusterIP: string } }>(['service', reportStoreName, '-n', release.namespace]);
    const onHost = url.replace(store, service?.spec.clusterIP ?? '');
    expect((await fetch(onHost)).status).toBe(401);
    const secret = getJson<{ data: Record<string, string> }>(['secret', REPORT_READER_SECRET, '-n', samples]);
    const token = Buffer.from(secret?.data[REPORT_TOKEN_KEY] ?? '', 'base64').toString();
    const report = await fetch(onHost, { headers: { Authorization: `Bearer ${token}` } });
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toContain('text/html');
    expect(await report.text()).toContain('Playwright');
    log(`sample TestRun's merged report served ${seconds(installedAt)} after helm install`);
  });

  it('serves the sample Tunnel through the gateway Service\'s ClusterIP to a Playwright client on the host', async () => {
    const service = getJson<{ spec: { clusterIP: string; ports: { port: number }[] } }>([
      'service', gatewayName, '-n', release.namespace,
    ]);
    const address = `${service?.spec.clusterIP}:${service?.spec.ports[0]?.port}`;
    await waitFor('Tunnel dev to be Ready', () => hasCondition(getJson(['tunnel.fleetwright.dev', 'dev', '-n', samples]), 'Ready'), { diagnose });
    const tunnel = `/tunnels/${samples}/dev`;
    const status = getJson<{ status?: { url?: string } }>(['tunnel.fleetwright.dev', 'dev', '-n', samples])?.status;
    // The chart's default gatewayUrl: the Service's in-cluster name (no cluster DNS here, hence the ClusterIP).
    expect(status?.url).toBe(`ws://${gatewayName}.${release.namespace}.svc${tunnel}`);

    expect((await fetch(`http://${address}${tunnel}`)).status).toBe(401);

    // A page on the host's loopback, which the browser reaches through the client (exposeNetwork).
    const page: Server = createServer((_req, res) => res.end('<title>served on the host</title><h1>hi</h1>'));
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    const started = Date.now();
    const browser = await chromium.connect(`ws://${address}${tunnel}`, {
      headers: { Authorization: `Bearer ${sampleToken()}` },
      exposeNetwork: '<loopback>',
      timeout: 60_000,
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
      expect(await tab.title()).toBe('served on the host');
      expect(await tab.textContent('h1')).toBe('hi');
      log(`Tunnel through ${address}: connected and loaded a page in ${seconds(started)}`);
    } finally {
      await browser.close();
      page.close();
    }
  });

  it('hands over to the other replica when the leader pod is deleted, and a TestRun applied meanwhile finishes', async () => {
    const leader = leaderPod();
    const survivor = names(componentPods('controller')).find((n) => n !== leader);
    expect(leader && survivor).toBeTruthy();

    const deleted = Date.now();
    kubectl(['delete', 'pod', leader ?? '', '-n', release.namespace, '--wait=false']);
    kubectl(['apply', '-n', samples, '-f', '-'], testRun('handover', 'smoke-suite', 2));
    await waitFor(`${survivor} to take the Lease over from ${leader}`, () => leaderPod() === survivor, {
      timeoutMs: 30_000,
      last: leaderPod,
      diagnose,
    });
    log(`${survivor} took the Lease over ${seconds(deleted)} after its leader's pod was deleted`);

    const run = await succeeded('handover', 180_000);
    expect(run.status?.summary).toMatchObject({ passed: 8, failed: 0 });
    await waitFor('the controller Deployment to replace the deleted pod', () => deploymentDone(controllerName), { diagnose });
  });

  it('rolls both Deployments on helm upgrade without losing a running TestRun', async () => {
    const gate = new Gate();
    try {
      kubectl(['apply', '-n', samples, '-f', '-'], gatedSuite('gated-suite', await gate.start()));
      kubectl(['apply', '-n', samples, '-f', '-'], testRun('upgrade', 'gated-suite', 1));
      await waitFor('TestRun upgrade to be running its test', () => gate.asked, {
        timeoutMs: 120_000,
        last: () => getRun('upgrade')?.status,
        diagnose,
      });
      const runner = getRun('upgrade')?.status?.shards?.[0]?.runnerPod;
      const before = [...names(componentPods('controller')), ...names(componentPods('gateway'))];

      const upgraded = Date.now();
      upgrade(current, ['--reuse-values', '--set', 'controller.logLevel=debug', '--set', 'gateway.logLevel=debug']);
      await waitFor('both Deployments to roll out the new template', () => {
        const pods = [...componentPods('controller'), ...componentPods('gateway')];
        return deploymentDone(controllerName) && deploymentDone(gatewayName) && pods.length === 4 &&
          pods.every((p) => !before.includes(p.metadata.name) && p.spec.containers[0]?.args?.includes('--log-level=debug'));
      }, { timeoutMs: 150_000, diagnose });
      log(`helm upgrade rolled both Deployments in ${seconds(upgraded)}`);
      expect(getRun('upgrade')?.status?.phase).toBe('Running');
      await waitFor('a new controller pod to lead', aControllerPodLeads, { timeoutMs: 30_000, diagnose });

      gate.open();
      const run = await succeeded('upgrade', 90_000);
      // The same runner pod, first attempt: the run went on through the upgrade, nothing was retried.
      expect(run.status?.shards).toMatchObject([{ index: 1, phase: 'Succeeded', attempts: 1, runnerPod: runner, passed: 1 }]);
    } finally {
      gate.close();
    }
  });

  it('leaves no pods of ours behind on helm uninstall', async () => {
    // BrowserPools and TestRuns carry finalizers that the controller takes off: delete them while it runs.
    kubectl(['delete', 'testruns.fleetwright.dev,browserpools.fleetwright.dev,tunnels.fleetwright.dev', '--all', '-n', samples, '--timeout=90s']);
    const uninstalled = Date.now();
    helm(['uninstall', release.name, '--namespace', release.namespace, '--wait', '--timeout=90s']);
    const ours = () => [
      ...listJson<Pod>(['pods', '-n', release.namespace]),
      ...listJson<Pod>(['pods', '-n', samples]),
    ];
    await waitFor('every pod of the release and the samples to be gone', () => ours().length === 0, {
      timeoutMs: 90_000,
      last: () => names(ours()),
    });
    log(`helm uninstall left no pods after ${seconds(uninstalled)}`);
    expect(listJson<KubeObject>(['clusterroles', '-l', `app.kubernetes.io/instance=${release.name}`])).toEqual([]);
    expect(helm(['list', '--namespace', release.namespace, '-q']).trim()).toBe('');
  });
});

const FLEETWRIGHT_CRDS = ['browserpools.fleetwright.dev', 'testruns.fleetwright.dev', 'tunnels.fleetwright.dev'];
/** The BrowserPool CRD's schema as the API server serves it, to tell one release's CRDs from another's. */
const crdFields = () => JSON.stringify(getJson(['crd', FLEETWRIGHT_CRDS[0] ?? '']));

describe(`helm upgrade from ${previous.version} to ${current.version}`, () => {
  const gate = new Gate();
  let runner: string | undefined;

  beforeAll(async () => {
    await removeEverything();
    // A cluster that never had Fleetwright: the previous release's helm install creates its CRDs.
    kubectl(['delete', 'crd', ...FLEETWRIGHT_CRDS, '--ignore-not-found', '--wait=true']);
    createNamespaces();
  });
  afterAll(async () => {
    gate.close();
    if (process.env.FLEETWRIGHT_E2E_KEEP) log(`FLEETWRIGHT_E2E_KEEP: release ${release.name} left installed`);
    else await removeEverything();
  });

  it(`installs ${previous.version} from the registry, its image pulled by digest`, async () => {
    const installed = Date.now();
    install(previous);
    expect(crdFields()).not.toContain('topologySpreadConstraints');
    await waitFor(`the ${previous.version} Deployments to be Available`, () =>
      deploymentDone(controllerName) && deploymentDone(gatewayName) && deploymentDone(reportStoreName),
    { timeoutMs: 180_000, diagnose });
    log(`${previous.version} Available ${seconds(installed)} after helm install`);
    for (const pod of [...componentPods('controller'), ...componentPods('gateway'), ...componentPods('report-store')]) {
      expect(pod.spec.containers[0]?.image).toBe(releasedImage(previous));
      expect(pod.status.containerStatuses?.[0]?.imageID.split('@')[1]).toBe(previous.digest);
    }
  });

  it(`runs a TestRun on ${previous.version}`, async () => {
    kubectl(['apply', '-n', samples, '-f', join(repoRoot, 'config', 'samples', 'browserpool.yaml')]);
    kubectl(['apply', '-n', samples, '-f', '-'], gatedSuite('gated-suite', await gate.start()));
    kubectl(['apply', '-n', samples, '-f', '-'], testRun('across', 'gated-suite', 1));
    await waitFor('TestRun across to be running its test', () => gate.asked, {
      timeoutMs: 180_000,
      last: () => getRun('across')?.status,
      diagnose,
    });
    runner = getRun('across')?.status?.shards?.[0]?.runnerPod;
    expect(runner).toBeTruthy();
  });

  it(`upgrades to ${current.version}, and the TestRun finishes with its counts`, async () => {
    const upgraded = Date.now();
    // As the README has users upgrade: Helm leaves a chart's CRDs as they are, so the new ones go first.
    kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'],
      helm(['show', 'crds', current.chart, '--version', current.version, '--plain-http']));
    expect(crdFields()).toContain('topologySpreadConstraints');
    upgrade(current);
    const image = releasedImage(current);
    await waitFor(`every pod of the release to run ${current.version}`, () => {
      const pods = [...componentPods('controller'), ...componentPods('gateway'), ...componentPods('report-store')];
      return deploymentDone(controllerName) && deploymentDone(gatewayName) && deploymentDone(reportStoreName) &&
        pods.length === 5 && pods.every((p) => p.spec.containers[0]?.image === image);
    }, { timeoutMs: 180_000, diagnose });
    log(`helm upgrade ${previous.version} -> ${current.version} rolled every Deployment in ${seconds(upgraded)}`);
    expect(getRun('across')?.status?.phase).toBe('Running');
    await waitFor(`a ${current.version} controller pod to lead`, aControllerPodLeads, { timeoutMs: 30_000, diagnose });

    gate.open();
    const run = await succeeded('across', 120_000);
    expect(run.status?.summary).toMatchObject({ passed: 1, failed: 0 });
    // The runner pod of the old release, first attempt: the run went on through the upgrade.
    expect(run.status?.shards).toMatchObject([{ index: 1, phase: 'Succeeded', attempts: 1, runnerPod: runner, passed: 1 }]);
  });
});
