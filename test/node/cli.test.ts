// `fleetwright run`, `status`, `logs` and `tunnel` as a user runs them: the
// real command, a kubeconfig, a pool on the real node, and the controller.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { writeUnreachableKubeconfig } from '../fixtures/unreachable-kubeconfig.ts';
import { useNamespace } from '../integration/helpers.ts';
import { eventually, rest } from '../integration/runtime/support.ts';
import { fleetwright } from './fleetwright-cli.ts';
import { apply, poolManifest, useController, waitForPool } from './pools.ts';

const ns = useNamespace('cli');
useController(() => ns.name);

const fixtures = join(repoRoot, 'test', 'fixtures', 'cli');
const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
let tmp: string;

const configMaps = async () =>
  (await rest().get<{ items: KubeObject[] }>(collectionPath(CONFIG_MAP, ns.name))).items
    .map((c) => c.metadata.name).filter((n) => n !== 'kube-root-ca.crt');

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-cli-'));
  apply(ns.name, poolManifest('browsers', 'replicas: 2'));
  await waitForPool(ns.name, 'browsers', 'two idle', (p) => p.status?.idle === 2, 120_000);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('fleetwright run', () => {
  it('runs a passing folder in 2 shards, shows each shard\'s progress while it runs, and exits 0', async () => {
    const result = await fleetwright(['run', join(fixtures, 'passing'), '--pool', 'browsers', '--shards', '2',
      '--name', 'passing', '--follow', '-n', ns.name]);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^testrun/passing created in namespace ${ns.name}: 4 file\\(s\\), .* in configmap/passing-tests; 2 shard\\(s\\) on BrowserPool browsers$`));
    // Progress as the runners report it, before the shards end: known totals, tests done so far.
    expect(lines.some((l) => /^shard [12]\/2 running, [0-2]\/3 tests: /.test(l))).toBe(true);
    expect(lines).toContain('shard 1/2 passed, 3/3 tests: 3 passed, 0 failed, 0 flaky, 0 skipped');
    expect(lines).toContain('shard 2/2 passed, 3/3 tests: 3 passed, 0 failed, 0 flaky, 0 skipped');
    expect(lines.find((l) => l.startsWith(`TestRun ${ns.name}/passing Succeeded in `))).toMatch(
      /: 6 passed, 0 failed, 0 flaky, 0 skipped$/);

    // The tests went as a ConfigMap that belongs to the run, so deleting the run deletes them too.
    const run = await rest().get<KubeObject>(objectPath(TEST_RUN, { namespace: ns.name, name: 'passing' }));
    const configMap = await rest().get<KubeObject>(objectPath(CONFIG_MAP, { namespace: ns.name, name: 'passing-tests' }));
    expect(configMap.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'TestRun', uid: run.metadata.uid })]);
  });

  it('exits 1 when a test fails, with the counts and the failed test named', async () => {
    const result = await fleetwright(['run', join(fixtures, 'failing'), '--pool', 'browsers', '--name', 'failing',
      '--follow', '-n', ns.name]);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`TestRun ${ns.name}/failing Failed in `);
    expect(result.stdout).toMatch(/: 2 passed, 1 failed, 0 flaky, 0 skipped\n/);
    expect(result.stdout).toMatch(/Failed:\n {2}shard 1: checks\.spec\.ts:8 › fails on purpose: the page says ok, not done: Error: deliberate failure/);
    expect(result.stdout).toContain(`Runner logs: fleetwright logs failing -n ${ns.name}`);
  });

  it('starts a run and returns at once without --follow', async () => {
    const result = await fleetwright(['run', join(fixtures, 'failing'), '--pool', 'browsers', '-n', ns.name]);
    expect(result.code).toBe(0);
    const name = /^testrun\/(failing-[0-9a-f]{5}) created/.exec(result.stdout)?.[1];
    expect(name).toBeDefined();
    await eventually('the run to finish', async () => {
      const run = await rest().get<KubeObject & { status?: { phase?: string } }>(
        objectPath(TEST_RUN, { namespace: ns.name, name: name ?? '' }));
      return run.status?.phase === 'Failed';
    }, 120_000);
    // Deleting the run takes its ConfigMap with it (the garbage collector follows the owner reference).
    await rest().delete(objectPath(TEST_RUN, { namespace: ns.name, name: name ?? '' }));
    await eventually('its ConfigMap to go', async () => !(await configMaps()).includes(`${name}-tests`), 60_000);
  });
});

describe('fleetwright run: errors that say what to fix', () => {
  it('cannot reach a cluster', async () => {
    const closed = writeUnreachableKubeconfig(join(tmp, 'closed.kubeconfig'));
    const result = await fleetwright(['run', join(fixtures, 'passing'), '--pool', 'browsers'], { kubeconfig: closed });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'fleetwright run: cannot reach the Kubernetes API server at https://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1): ' +
      `is the cluster running? The address comes from context "gone" of ${closed}; pass --kubeconfig or --context for ` +
      'another cluster\n');
  });

  it('names the pools there are when the pool is unknown, and creates nothing', async () => {
    const before = await configMaps();
    const result = await fleetwright(['run', join(fixtures, 'passing'), '--pool', 'chromium', '-n', ns.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`fleetwright run: BrowserPool chromium not found in namespace ${ns.name}; ` +
      'pools there: browsers. Pass one of them with --pool, or -n for another namespace\n');
    expect(await configMaps()).toEqual(before);
  });

  it('refuses a folder without tests', async () => {
    const empty = join(tmp, 'notes');
    mkdirSync(empty);
    writeFileSync(join(empty, 'README.md'), '# not a Playwright project\n');
    const result = await fleetwright(['run', empty, '--pool', 'browsers', '-n', ns.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^fleetwright run: .*notes holds no Playwright tests: no \*\.spec\.ts or \*\.test\.ts file/);
  });

  it('refuses a folder too large for a ConfigMap, says what to do instead, and creates nothing', async () => {
    const large = join(tmp, 'large');
    mkdirSync(join(large, 'fixtures'), { recursive: true });
    writeFileSync(join(large, 'a.spec.ts'), 'import { test } from \'@playwright/test\';\ntest(\'x\', () => {});\n');
    writeFileSync(join(large, 'fixtures', 'recording.har'), 'x'.repeat(1_200_000));
    const before = await configMaps();
    const result = await fleetwright(['run', large, '--pool', 'browsers', '-n', ns.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is 1\.14 MiB in 2 files, more than the 1\.00 MiB a ConfigMap holds \(largest: fixtures\/recording\.har \(1\.14 MiB\)/);
    expect(result.stderr).toContain('bake the tests into an image and run them with spec.source.image and spec.runner.image');
    expect(await configMaps()).toEqual(before);
  });
});

describe('fleetwright status, logs and tunnel', () => {
  it('lists the namespace\'s pools, runs and Tunnels', async () => {
    const result = await fleetwright(['status', '-n', ns.name]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\nbrowsers +chromium +2 +2 +/);
    expect(result.stdout).toMatch(/\nfailing +Failed +browsers +1\/1 +3\/3 +2 +1 +0 +0 /);
    expect(result.stdout).toMatch(/\npassing +Succeeded +browsers +2\/2 +6\/6 +6 +0 +0 +0 /);
    expect(result.stdout).toContain('Tunnels: none');
  });

  it('prints a shard\'s runner log, and says which runs exist when the name is wrong', async () => {
    const shard = await fleetwright(['logs', 'failing', '-n', ns.name]);
    expect(shard.code).toBe(0);
    expect(shard.stdout).toContain('fails on purpose: the page says ok, not done');
    const both = await fleetwright(['logs', 'passing', '-n', ns.name]);
    expect(both.stdout).toMatch(/==> shard 1\/2: pod passing-1-1 \(attempt 1, Succeeded\) <==/);
    expect(both.stdout).toMatch(/==> shard 2\/2: pod passing-2-1 \(attempt 1, Succeeded\) <==/);
    const missing = await fleetwright(['logs', 'nope', '-n', ns.name]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`fleetwright logs: TestRun nope not found in namespace ${ns.name}; runs there: failing, passing ` +
      '(fleetwright status lists them)\n');
  });

  it('prints a Tunnel\'s connect() snippet without its token, and the token alone when asked', async () => {
    apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: cli-token }
stringData: { token: cli-secret-token-8d1e }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: remote }
spec:
  poolRefs: [{ name: browsers }]
  auth: { secretRef: { name: cli-token } }
`);
    await eventually('the Tunnel to have a URL', async () => (await fleetwright(['tunnel', 'remote', '-n', ns.name]))
      .stdout.includes(`/tunnels/${ns.name}/remote`), 30_000);
    const snippet = await fleetwright(['tunnel', 'remote', '-n', ns.name]);
    expect(snippet.code).toBe(0);
    expect(snippet.stdout).toContain(`chromium.connect('wss://<gateway address>/tunnels/${ns.name}/remote', {`);
    expect(snippet.stdout).toContain('Authorization: `Bearer ${process.env.FLEETWRIGHT_TOKEN}`');
    expect(snippet.stdout).not.toContain('cli-secret-token-8d1e');
    // No gateway runs in this test, and the controller has no --gateway-url: both are said.
    expect(snippet.stderr).toMatch(/warning: Tunnel .*remote is not Ready \(NoGateway\)/);
    expect(snippet.stderr).toMatch(/warning: its status\.url is a path only/);
    const token = await fleetwright(['tunnel', 'remote', '-n', ns.name, '--print-token']);
    expect(token.stdout).toBe('cli-secret-token-8d1e\n');
  });
});
