// Real Playwright projects as teams bring them: a package.json, a lockfile and
// devDependencies whose bins the suite's webServer runs, from an image, a
// folder (`fleetwright run`) and git repositories. Each must give the counts a
// direct `npx playwright test` of the same suite gives. What a real cluster
// has around it runs on this host at the bridge address: a git server, an npm
// registry mirror and the report store (the dependency cache).
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type GitServer, type SshAccess, startGitServer } from '../../hack/lib/gitserver.ts';
import { ensureSuiteImage } from '../../hack/lib/images.ts';
import { NODE_IP } from '../../hack/lib/node.ts';
import { startNpmMirror, stopNpmMirror } from '../../hack/lib/npm-mirror.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { packFolder } from '../../src/cli/pack.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from '../integration/helpers.ts';
import { type ControllerProcess, eventually, rest, startReportStore } from '../integration/runtime/support.ts';
import { type Counts, runDirectly } from './direct-run.ts';
import { fleetwright } from './fleetwright-cli.ts';
import { apply, poolManifest, testRunManifest, useController, waitForPool } from './pools.ts';

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
/** The suite of a team: `webServer` is `npm run start`, whose script runs its devDependency `http-server`. */
const webserverBin = join(repoRoot, 'test', 'fixtures', 'webserver-bin');
const gitToken = `git-token-${Date.now().toString(36)}`;
let direct: Counts;
let work: string;
let git: GitServer;
let mirrorUrl = '';
let store: ControllerProcess;
let storeDir = '';
let storeAddress = '';
const storeUrl = () => storeAddress;

const finished = (r: RunObject) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '');
const getRun = (name: string) => rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name }));
const waitForRun = (name: string) => eventually(`TestRun ${name} finished`, async () => {
  const run = await getRun(name);
  return finished(run) && run;
}, 240_000);
const counts = (c?: Partial<Counts>) =>
  ({ passed: c?.passed, failed: c?.failed, flaky: c?.flaky, skipped: c?.skipped });
const messages = (run: RunObject) => JSON.stringify(run.status?.shards?.map((s) => s.message));
const condition = (run: RunObject, type: string) => run.status?.conditions?.find((c) => c.type === type);
const testRun = testRunManifest;
/** A ConfigMap of the folder, as `fleetwright run` packs it. */
async function configMapOf(name: string, folder: string) {
  const { data, binaryData } = packFolder(folder);
  await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name }, data, binaryData });
}

async function storeMetric(result: string): Promise<number> {
  const text = await (await fetch(`${await store.url('metrics')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`fleetwright_dependency_cache_requests_total{result="${result}"}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'fleetwright-suites-store-'));
  // Runner pods reach this host at the bridge address, as they would reach the store's Service.
  let started: Awaited<ReturnType<typeof startReportStore>>;
  [mirrorUrl, git, started] = await Promise.all([
    startNpmMirror({ host: NODE_IP, log: (line) => console.log(`[npm mirror] ${line}`) }),
    startGitServer({ host: NODE_IP, token: gitToken, ssh: true }),
    startReportStore(NODE_IP, [
      '--metrics-bind-address=127.0.0.1:0', `--watch-namespace=${ns.name}`, '--backend=filesystem', `--path=${storeDir}`,
    ]),
  ]);
  ({ store, url: storeAddress } = started);
}, 300_000);
useController(() => ns.name, () => [`--report-store-url=${storeUrl()}`]);

beforeAll(async () => {
  apply(ns.name, `
${poolManifest('suites', 'replicas: 2')}
---
apiVersion: v1
kind: Secret
metadata: { name: mirror }
stringData: { .npmrc: "registry=${mirrorUrl}\\n" }
---
apiVersion: v1
kind: Secret
metadata: { name: git-token }
stringData: { token: ${gitToken} }
---
apiVersion: v1
kind: Secret
metadata: { name: wrong-token }
stringData: { token: not-${gitToken} }
`);
  // The direct run: the suite installed from its lockfile on this host, as a developer runs it.
  work = mkdtempSync(join(tmpdir(), 'fleetwright-suite-'));
  cpSync(webserverBin, work, { recursive: true });
  await new Promise((resolve, reject) => spawn('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: work, stdio: 'ignore' })
    .once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`npm ci exited with ${code}`)))));
  [direct] = await Promise.all([
    runDirectly(work),
    waitForPool(ns.name, 'suites', 'two idle', (p) => p.status?.idle === 2),
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.all([git?.stop(), stopNpmMirror(), store?.kill('SIGTERM')]);
  rmSync(work, { recursive: true, force: true });
  rmSync(storeDir, { recursive: true, force: true });
});

describe('a suite whose webServer runs a devDependency\'s bin', () => {
  it('passes directly', () => {
    expect(direct).toEqual({ passed: 3, failed: 0, flaky: 0, skipped: 0 });
  });

  it('runs from an image with its node_modules, in 2 shards, with the direct run\'s counts', async () => {
    const image = ensureSuiteImage('webserver-bin', webserverBin, inject('image'), (line) => console.log(`[image] ${line}`));
    apply(ns.name, testRun('baked', `
poolRef: { name: suites }
source: { image: { workingDir: /tests } }
runner: { image: ${image} }
shards: 2`));
    const run = await waitForRun('baked');
    expect(run.status?.phase, messages(run)).toBe('Succeeded');
    expect(counts(run.status?.summary)).toEqual(direct);
  }, 600_000);

  it('runs from a folder through fleetwright run, its dependencies installed from its lockfile, and caches them', async () => {
    const result = await fleetwright(['run', webserverBin, '--pool', 'suites', '--name', 'folder', '--npmrc-secret', 'mirror',
      '--follow', '-n', ns.name]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('TestRun');
    const run = await getRun('folder');
    expect(counts(run.status?.summary)).toEqual(direct);
    expect(await storeMetric('miss')).toBe(1);
    expect(await storeMetric('stored')).toBe(1);
  }, 600_000);

  it('runs from a public and from a token-protected git repository, 2 shards each, installing nothing again', async () => {
    const open = git.createRepository('public-app');
    const openCommit = open.commitFolder(webserverBin, 'e2e tests', { into: 'e2e' });
    const closed = git.createRepository('private-app', { protected: true });
    const closedCommit = closed.commitFolder(webserverBin, 'e2e tests', { into: 'e2e' });
    const withMirror = 'shards: 2\ndependencies: { npmrcSecretRef: { name: mirror } }';
    apply(ns.name, [
      testRun('from-public', `poolRef: { name: suites }\nsource: { git: { url: ${open.url}, revision: main, path: e2e } }\n${withMirror}`),
      testRun('from-private', 'poolRef: { name: suites }\n' +
      `source: { git: { url: ${closed.url}, path: e2e, secretRef: { name: git-token } } }\n${withMirror}`),
    ].join('\n---\n'));
    const [publicRun, privateRun] = await Promise.all([waitForRun('from-public'), waitForRun('from-private')]);
    for (const [run, commit] of [[publicRun, openCommit], [privateRun, closedCommit]] as const) {
      expect(counts(run.status?.summary), messages(run)).toEqual(direct);
      expect(run.status?.source?.commit).toBe(commit);
    }
    expect(publicRun.status?.source?.revision).toBe('refs/heads/main');
    // The lockfile is the folder run's: each of the 4 shards restored the tree that run stored.
    expect(await storeMetric('hit')).toBe(4);
    expect(await storeMetric('stored')).toBe(1);
  }, 600_000);
});

describe('a git source', () => {
  /** The flat 14-test suite, whose webServer needs no package. */
  const suite = join(repoRoot, 'test', 'fixtures', 'suite');
  const suiteCounts = { passed: 9, failed: 3, flaky: 1, skipped: 1 };
  const scheduled = (run: RunObject) => condition(run, 'Scheduled');
  const waitForReason = (name: string, reason: string) => eventually(`TestRun ${name}: ${reason}`, async () => {
    const run = await getRun(name);
    return scheduled(run)?.reason === reason && run;
  }, 60_000);

  it('runs every shard on the commit it was pinned to, although the branch moves during the run', async () => {
    const repo = git.createRepository('moving-app');
    const pinned = repo.commitFolder(suite, 'e2e tests', { into: 'e2e' });
    apply(ns.name, poolManifest('single', 'replicas: 1'));
    await waitForPool(ns.name, 'single', 'one idle', (p) => p.status?.idle === 1);
    apply(ns.name, testRun('moving', `poolRef: { name: single }\nsource: { git: { url: ${repo.url}, revision: main, path: e2e } }\nshards: 2`));
    // One browser: the second shard starts only after the first is done, long after the branch moved.
    await eventually('the first shard running', async () => {
      const run = await getRun('moving');
      return run.status?.source?.commit === pinned && run.status.phase === 'Running' && run;
    }, 120_000);
    const broken = { 'e2e/playwright.config.ts': 'export default {};\n', 'e2e/a.spec.ts': 'throw new Error(\'moved on\');\n' };
    repo.commit(broken, 'moved on');
    const run = await waitForRun('moving');
    expect(run.status?.source?.commit).toBe(pinned);
    expect(counts(run.status?.summary), messages(run)).toEqual(suiteCounts);
  }, 600_000);

  it('says what is wrong with a bad URL, an unknown revision, refused credentials or a missing Secret, and starts no pod', async () => {
    const repo = git.createRepository('guarded', { protected: true });
    repo.commitFolder(suite, 'e2e tests');
    const closedPort = `http://${NODE_IP}:9/nothing.git`;
    const gitRun = (name: string, source: string) => testRun(name, `poolRef: { name: suites }\nsource: { git: { ${source} } }`);
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
    expect(scheduled(badRevision)?.message)
      .toMatch(/^repository \S+guarded\.git at revision no-such-branch: no branch, tag or ref no-such-branch \(branches: main\)/);
    expect(scheduled(badToken)?.message).toMatch(/the server refused the credentials of Secret wrong-token \(HTTP 401\)/);
    expect(scheduled(noSecret)?.message).toMatch(/Secret nowhere/);
    for (const run of [badUrl, badRevision, badToken, noSecret]) {
      expect(run.status?.phase).toBe('Pending');
      expect(JSON.stringify(run)).not.toContain(gitToken);
    }
    expect(kubectl(['events', '-n', ns.name, '--for', 'testrun/bad-token']).stdout).toContain('SourceUnavailable');
    const selector = 'fleetwright.dev/testrun in (bad-url,bad-revision,bad-token,no-secret)';
    expect(kubectl(['get', 'pods', '-n', ns.name, '-l', selector, '-o', 'name']).stdout).toBe('');
    kubectl(['delete', 'tr', 'bad-url', 'bad-revision', 'bad-token', 'no-secret', '-n', ns.name]);
  });

  it('runs a repository over ssh with a deploy key, and refuses a server whose host key known_hosts does not hold', async () => {
    const access = git.ssh as SshAccess;
    const repo = git.createRepository('over-ssh');
    const commit = repo.commitFolder(suite, 'e2e tests', { into: 'e2e' });
    const otherHost = access.knownHosts.replace(/ \S+\n$/, ` ${'A'.repeat(68)}\n`);
    const deployKey = (name: string, knownHosts: string) =>
      `apiVersion: v1\nkind: Secret\nmetadata: { name: ${name} }\n` +
      `stringData: { identity: ${JSON.stringify(access.identity)}, known_hosts: ${JSON.stringify(knownHosts)} }`;
    const sshRun = (name: string, secret: string) => testRun(name, 'poolRef: { name: suites }\n' +
      `source: { git: { url: ${repo.sshUrl}, path: e2e, secretRef: { name: ${secret} } } }\nshards: 2`);
    apply(ns.name, [deployKey('deploy-key', access.knownHosts), deployKey('other-host', otherHost),
      sshRun('over-ssh', 'deploy-key'), sshRun('wrong-host', 'other-host')].join('\n---\n'));
    const [run, refused] = await Promise.all([waitForRun('over-ssh'), waitForReason('wrong-host', 'SourceUnavailable')]);
    expect(run.status?.source?.commit).toBe(commit);
    expect(counts(run.status?.summary), messages(run)).toEqual(suiteCounts);
    expect(scheduled(refused)?.message).toContain(`the host key of [${NODE_IP}]:${access.port} is not the one ` +
      'known_hosts holds in key known_hosts of Secret other-host');
    expect(JSON.stringify(refused)).not.toContain(access.identity.split('\n')[1]);
    // Without a Secret an ssh URL cannot work: the API server refuses it (CEL) before anything is created.
    const unkeyed = kubectl(['apply', '-n', ns.name, '-f', '-'],
      testRun('no-key', `poolRef: { name: suites }\nsource: { git: { url: ${repo.sshUrl} } }`));
    expect(unkeyed.status).not.toBe(0);
    expect(unkeyed.stderr).toContain('an ssh url needs secretRef: a Secret with keys identity (the private key) and known_hosts');
    kubectl(['delete', 'tr', 'wrong-host', '-n', ns.name]);
  }, 600_000);
});

describe('dependencies that cannot be installed', () => {
  /** The fixture with `change` applied to a copy of its package.json and lockfile. */
  type Change = (pkg: Record<string, Record<string, string>>, lock: Record<string, unknown>) => void;
  function variant(name: string, change: Change) {
    const dir = join(work, '..', `${name}-${Date.now().toString(36)}`);
    cpSync(webserverBin, dir, { recursive: true });
    const read = (file: string) => JSON.parse(readFileSync(join(webserverBin, file), 'utf8')) as Record<string, never>;
    const pkg: Record<string, Record<string, string>> = read('package.json');
    const lock: Record<string, unknown> = read('package-lock.json');
    change(pkg, lock);
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
    return dir;
  }

  it('refuses a folder with dependencies and no lockfile before anything is created', async () => {
    const dir = variant('no-lockfile', () => undefined);
    rmSync(join(dir, 'package-lock.json'));
    const result = await fleetwright(['run', dir, '--pool', 'suites', '--name', 'unlocked', '-n', ns.name]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no lockfile: commit one/);
    expect(kubectl(['get', 'tr', 'unlocked', '-n', ns.name]).stderr).toContain('NotFound');
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends a run DependenciesFailed, saying why: a stale lockfile, an unknown package, an unreachable registry', async () => {
    const stale = variant('stale', (pkg) => {
      pkg.devDependencies = { ...pkg.devDependencies, 'left-pad': '1.3.0' };
    });
    const unknown = variant('unknown', (pkg, lock) => {
      const name = 'fleetwright-no-such-package-4f1d';
      pkg.devDependencies = { ...pkg.devDependencies, [name]: '1.0.0' };
      const packages = lock.packages as Record<string, Record<string, unknown>>;
      (packages[''] as { devDependencies: Record<string, string> }).devDependencies[name] = '1.0.0';
      packages[`node_modules/${name}`] = {
        version: '1.0.0', resolved: `https://registry.npmjs.org/${name}/-/${name}-1.0.0.tgz`, dev: true,
        integrity: 'sha512-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==',
      };
    });
    await Promise.all([configMapOf('stale', stale), configMapOf('unknown', unknown), configMapOf('good', webserverBin)]);
    apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: nowhere-registry }
stringData: { .npmrc: "registry=http://${NODE_IP}:9/\\nfetch-retries=0\\n" }
`);
    const mirror = 'dependencies: { npmrcSecretRef: { name: mirror } }';
    apply(ns.name, [
      testRun('stale', `poolRef: { name: suites }\nsource: { configMap: { name: stale } }\n${mirror}`),
      testRun('unknown', `poolRef: { name: suites }\nsource: { configMap: { name: unknown } }\n${mirror}`),
      testRun('unreachable', 'poolRef: { name: suites }\nsource: { configMap: { name: good } }\n' +
      'dependencies: { npmrcSecretRef: { name: nowhere-registry } }'),
    ].join('\n---\n'));
    const expected = {
      stale: /DependenciesFailed: lockfile out of date with package\.json/,
      unknown: /DependenciesFailed: a package of the lockfile is not in the registry/,
      unreachable: /DependenciesFailed: the registry is unreachable from the runner pod/,
    };
    for (const [name, message] of Object.entries(expected)) {
      const run = await waitForRun(name);
      expect(run.status?.phase, messages(run)).toBe('Error');
      expect(condition(run, 'Failed')).toMatchObject({ reason: 'DependenciesFailed', message: expect.stringMatching(message) });
      // The installer's own last lines follow, for the details.
      expect(run.status?.shards?.[0]?.message).toMatch(/npm (error|ERR!)/);
    }
    rmSync(stale, { recursive: true, force: true });
    rmSync(unknown, { recursive: true, force: true });
  }, 600_000);
});

describe('the suite npm init playwright writes, with chromium, firefox and webkit projects', () => {
  const initPlaywright = join(repoRoot, 'test', 'fixtures', 'init-playwright');

  beforeAll(() => configMapOf('init', initPlaywright));

  it('runs its chromium project on a Chromium pool and reports the other two as not run', async () => {
    apply(ns.name, testRun('three-browsers', 'poolRef: { name: suites }\nsource: { configMap: { name: init } }'));
    const run = await waitForRun('three-browsers');
    expect(run.status?.phase, messages(run)).toBe('Succeeded');
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
    apply(ns.name, testRun('firefox-only', 'poolRef: { name: suites }\nsource: { configMap: { name: init } }\nrunner: { args: [--project=firefox] }'));
    const run = await waitForRun('firefox-only');
    expect(run.status?.phase).toBe('Failed');
    expect(condition(run, 'Failed')).toMatchObject({
      reason: 'NoProjectForBrowser',
      message: 'no project of the suite uses chromium, the browser of BrowserPool suites: firefox (firefox). ' +
        'Add a project for chromium or point spec.poolRef at a pool of their browser',
    });
  });
});
