// Real Playwright projects as teams bring them: a package.json, a lockfile and
// devDependencies whose bins the suite's webServer runs. Each source must give
// the counts a direct `npx playwright test` of the same suite gives.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type GitServer, startGitServer } from '../../hack/lib/gitserver.ts';
import { ensureSuiteImage } from '../../hack/lib/images.ts';
import { NODE_IP } from '../../hack/lib/node.ts';
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
    source?: { revision?: string; commit?: string };
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

describe('a suite in a git repository', () => {
  /** The flat 14-test suite (test/fixtures/suite), in a folder of the repository as app repositories keep e2e tests. */
  const suite = join(repoRoot, 'test', 'fixtures', 'suite');
  const suiteCounts = { passed: 9, failed: 3, flaky: 1, skipped: 1 };
  const token = `git-token-${Date.now().toString(36)}`;
  let git: GitServer;
  const scheduled = (run: RunObject) => run.status?.conditions?.find((c) => c.type === 'Scheduled');
  const gitRun = (name: string, source: string, extra = '') => `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: ${name} }
spec:
  poolRef: { name: suites }
  source: { git: { ${source} } }
${extra}`;
  const waitForReason = (name: string, reason: string) => eventually(`TestRun ${name}: ${reason}`, async () => {
    const run = await rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name }));
    return scheduled(run)?.reason === reason && run;
  }, 60_000);

  beforeAll(async () => {
    // On the bridge address: the controller on this host and the runner pods both reach it there.
    git = await startGitServer({ host: NODE_IP, token });
    apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: git-token }
stringData: { token: ${token} }
---
apiVersion: v1
kind: Secret
metadata: { name: wrong-token }
stringData: { token: not-${token} }
`);
  });

  afterAll(() => git?.stop());

  it('runs from a public repository and from a token-protected one, in 2 shards, with the direct run\'s counts', async () => {
    const open = git.createRepository('public-app');
    const openCommit = open.commitFolder(suite, 'e2e tests', { into: 'e2e' });
    const closed = git.createRepository('private-app', { protected: true });
    const closedCommit = closed.commitFolder(suite, 'e2e tests', { into: 'e2e' });
    apply(ns.name, [
      gitRun('from-public', `url: ${open.url}, revision: main, path: e2e`, '  shards: 2'),
      gitRun('from-private', `url: ${closed.url}, path: e2e, secretRef: { name: git-token }`, '  shards: 2'),
    ].join('\n---\n'));
    const [publicRun, privateRun] = await Promise.all([waitForRun('from-public'), waitForRun('from-private')]);
    for (const [run, commit] of [[publicRun, openCommit], [privateRun, closedCommit]] as const) {
      const messages = JSON.stringify(run.status?.shards?.map((s) => s.message));
      expect(counts(run.status?.summary), messages).toEqual(suiteCounts);
      expect(run.status?.source?.commit).toBe(commit);
    }
    expect(publicRun.status?.source?.revision).toBe('refs/heads/main');
  }, 600_000);

  it('runs every shard on the commit it was pinned to, although the branch moves during the run', async () => {
    const repo = git.createRepository('moving-app');
    const pinned = repo.commitFolder(suite, 'e2e tests', { into: 'e2e' });
    apply(ns.name, poolManifest('single', 'replicas: 1'));
    await waitForPool(ns.name, 'single', 'one idle', (p) => p.status?.idle === 1);
    apply(ns.name, gitRun('moving', `url: ${repo.url}, revision: main, path: e2e`, '  shards: 2').replace('name: suites', 'name: single'));
    // One browser: the second shard starts only after the first is done, long after the branch moved.
    await eventually('the first shard running', async () => {
      const run = await rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name: 'moving' }));
      return run.status?.source?.commit === pinned && run.status.phase === 'Running' && run;
    }, 120_000);
    const broken = { 'e2e/playwright.config.ts': 'export default {};\n', 'e2e/a.spec.ts': 'throw new Error(\'moved on\');\n' };
    repo.commit(broken, 'moved on');
    const run = await waitForRun('moving');
    expect(run.status?.source?.commit).toBe(pinned);
    expect(counts(run.status?.summary), JSON.stringify(run.status?.shards?.map((s) => s.message))).toEqual(suiteCounts);
  }, 600_000);

  it('says what is wrong with a bad URL, an unknown revision, refused credentials or a missing Secret, and starts no pod', async () => {
    const repo = git.createRepository('guarded', { protected: true });
    repo.commitFolder(suite, 'e2e tests');
    const closedPort = `http://${NODE_IP}:9/nothing.git`;
    apply(ns.name, [
      gitRun('bad-url', `url: ${closedPort}`),
      gitRun('bad-revision', `url: ${repo.url}, revision: no-such-branch, secretRef: { name: git-token }`),
      gitRun('bad-token', `url: ${repo.url}, secretRef: { name: wrong-token }`),
      gitRun('no-secret', `url: ${repo.url}, secretRef: { name: nowhere }`),
    ].join('\n---\n'));
    const [badUrl, badRevision, badToken, noSecret] = await Promise.all([
      waitForReason('bad-url', 'SourceUnavailable'),
      waitForReason('bad-revision', 'SourceUnavailable'),
      waitForReason('bad-token', 'SourceUnavailable'),
      waitForReason('no-secret', 'SourceNotFound'),
    ]);
    expect(scheduled(badUrl)?.message).toMatch(new RegExp(`^repository ${closedPort} at its HEAD: cannot reach ${NODE_IP}:9 \\(ECONNREFUSED`));
    expect(scheduled(badRevision)?.message).toMatch(/^repository \S+guarded\.git at revision no-such-branch: no branch, tag or ref no-such-branch \(branches: main\)/);
    expect(scheduled(badToken)?.message).toMatch(/the server refused the credentials of Secret wrong-token \(HTTP 401\)/);
    expect(scheduled(noSecret)?.message).toMatch(/Secret nowhere/);
    for (const run of [badUrl, badRevision, badToken, noSecret]) {
      expect(run.status?.phase).toBe('Pending');
      expect(JSON.stringify(run)).not.toContain(token);
    }
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/bad-token']).stdout).toContain('SourceUnavailable');
    const selector = 'fleetwright.dev/testrun in (bad-url,bad-revision,bad-token,no-secret)';
    expect(kubectl(['get', 'pods', '-n', ns.name, '-l', selector, '-o', 'name']).stdout).toBe('');
    kubectl(['delete', 'tr', 'bad-url', 'bad-revision', 'bad-token', 'no-secret', '-n', ns.name]);
  });
});
