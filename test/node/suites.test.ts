// Real Playwright projects as teams bring them: a package.json, a lockfile and
// devDependencies whose bins the suite's webServer runs. Each source must give
// the counts a direct `npx playwright test` of the same suite gives.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSuiteImage } from '../../hack/lib/images.ts';
import { packFolder } from '../../src/cli/pack.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { TEST_RUN } from '../../src/controllers/types.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { type KubeObject, objectPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { eventually, rest } from '../integration/runtime/support.ts';
import { type Counts, runDirectly } from './direct-run.ts';
import { apply, poolManifest, useController, waitForPool } from './pools.ts';

interface RunObject extends KubeObject {
  status?: {
    phase?: string;
    summary?: Partial<Counts>;
    shards?: { message?: string }[];
    projectsNotRun?: { name: string; browser: string }[];
    conditions?: Condition[];
  };
}

const ns = useNamespace('suites');
useController(() => ns.name);
/** The suite of a team: `webServer` is `npm run start`, whose script runs its devDependency `http-server`. */
const webserverBin = join(repoRoot, 'test', 'fixtures', 'webserver-bin');
let direct: Counts;
let work: string;

const finished = (r: RunObject) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '');
const waitForRun = (name: string) => eventually(`TestRun ${name} finished`, async () => {
  const run = await rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name }));
  return finished(run) && run;
}, 240_000);
const counts = (c?: Partial<Counts>) =>
  ({ passed: c?.passed, failed: c?.failed, flaky: c?.flaky, skipped: c?.skipped });

beforeAll(async () => {
  apply(ns.name, poolManifest('suites', 'replicas: 2'));
  // The direct run: the suite installed from its lockfile on this host, as a developer runs it.
  work = mkdtempSync(join(tmpdir(), 'fleetwright-suite-'));
  cpSync(webserverBin, work, { recursive: true });
  execFileSync('npm', ['ci', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: work, stdio: 'ignore' });
  [direct] = await Promise.all([
    runDirectly(work),
    waitForPool(ns.name, 'suites', 'two idle', (p) => p.status?.idle === 2),
  ]);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a suite whose webServer runs a devDependency\'s bin', () => {
  it('passes directly', () => {
    expect(direct).toEqual({ passed: 3, failed: 0, flaky: 0, skipped: 0 });
  });

  it('runs from an image with its node_modules, in 2 shards, with the direct run\'s counts', async () => {
    const image = ensureSuiteImage('webserver-bin', webserverBin, inject('image'), (line) => console.log(`[image] ${line}`));
    apply(ns.name, `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: baked }
spec:
  poolRef: { name: suites }
  source: { image: { workingDir: /tests } }
  runner: { image: ${image} }
  shards: 2
`);
    const run = await waitForRun('baked');
    expect(run.status?.phase, JSON.stringify(run.status?.shards?.map((s) => s.message))).toBe('Succeeded');
    expect(counts(run.status?.summary)).toEqual(direct);
  }, 600_000);
});

describe('the suite npm init playwright writes, with chromium, firefox and webkit projects', () => {
  const initPlaywright = join(repoRoot, 'test', 'fixtures', 'init-playwright');
  const condition = (run: RunObject, type: string) => run.status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    const { data, binaryData } = packFolder(initPlaywright);
    await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'init' }, data, binaryData });
  });

  it('runs its chromium project on a Chromium pool and reports the other two as not run', async () => {
    apply(ns.name, `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: three-browsers }
spec:
  poolRef: { name: suites }
  source: { configMap: { name: init } }
`);
    const run = await waitForRun('three-browsers');
    expect(run.status?.phase, JSON.stringify(run.status?.shards?.map((s) => s.message))).toBe('Succeeded');
    // Both tests of the chromium project, one of which checks that the page really is Chromium's.
    expect(counts(run.status?.summary)).toEqual({ passed: 2, failed: 0, flaky: 0, skipped: 0 });
    expect(run.status?.projectsNotRun).toEqual([{ name: 'firefox', browser: 'firefox' }, { name: 'webkit', browser: 'webkit' }]);
    expect(condition(run, 'ProjectsNotRun')).toMatchObject({
      status: 'True',
      reason: 'BrowserNotServed',
      message: '2 project(s) did not run, BrowserPool suites serves chromium: firefox (firefox), webkit (webkit)',
    });
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/three-browsers']).stdout).toMatch(/Warning\s+BrowserNotServed/);
  });

  it('fails a run none of whose projects the pool serves, saying so', async () => {
    apply(ns.name, `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: firefox-only }
spec:
  poolRef: { name: suites }
  source: { configMap: { name: init } }
  runner: { args: [--project=firefox] }
`);
    const run = await waitForRun('firefox-only');
    expect(run.status?.phase).toBe('Failed');
    expect(condition(run, 'Failed')).toMatchObject({
      reason: 'NoProjectForBrowser',
      message: 'no project of the suite uses chromium, the browser of BrowserPool suites: firefox (firefox). ' +
        'Add a project for chromium or point spec.poolRef at a pool of their browser',
    });
  });
});
