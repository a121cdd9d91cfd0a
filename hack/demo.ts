// The local demo, one command (`npm run demo`): the local cluster with its
// node and the project's image, Fleetwright's CRDs, the controller and the
// gateway as child processes, then config/samples: a pool, a sharded TestRun
// of a real Playwright suite (its webServer serves the page it tests, on the
// runner's loopback, which the pooled browser reaches through exposeNetwork),
// and a Tunnel through which a Playwright client here opens a page served on
// this machine's 127.0.0.1. Next to the sample run, a TestRun from a git
// repository of a suite whose webServer runs its devDependency `http-server`,
// installed in the runner pod from its lockfile: the git server and the npm
// mirror run on this machine at the bridge address, as a real cluster has them
// around it. It shows the run's progress and result, says how
// to poke at it, and runs until Ctrl-C; with --once (or without a terminal,
// as in CI, unless --stay) it stops at once. Either way it stops everything it started: its
// processes, its namespace, and the cluster if it started that too (a cluster
// that was already running, as the tests' or another engineer's, stays up).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import type { TestRunObject } from '../src/api/objects.ts';
import { followRun } from '../src/cli/follow.ts';
import { Cluster, loadTarget } from '../src/cli/kube.ts';
import { finalReport } from '../src/cli/render.ts';
import { tunnelSnippet } from '../src/cli/tunnel.ts';
import { objectPath } from '../src/runtime/resource.ts';
import { isNotFound } from '../src/runtime/rest.ts';
import { TUNNEL } from '../src/api/resources.ts';
import { down, up } from './controlplane.ts';
import { installCrds, kubectl, kubectlCacheDir } from './lib/crds.ts';
import { ensureProjectImage } from './lib/images.ts';
import { type GitServer, startGitServer } from './lib/gitserver.ts';
import { NODE_IP } from './lib/node.ts';
import { startNpmMirror, stopNpmMirror } from './lib/npm-mirror.ts';
import { repoRoot, stateDir } from './lib/paths.ts';
import { processesMentioning } from './lib/processes.ts';

export const DEMO_NAMESPACE = 'fleetwright-demo';
const SAMPLE_RUN = 'smoke';
const SAMPLE_TUNNEL = 'dev';
const SAMPLE_SECRET = 'dev-tunnel-token';
const GIT_RUN = 'tide-tables';

const once = process.argv.includes('--once') || (!process.stdin.isTTY && !process.argv.includes('--stay'));
const started = Date.now();
const seconds = (since = started) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const step = (text: string) => console.log(`\n== ${text}  [${seconds()}]`);
/** Set in every child's environment, so a test can tell that none is left. */
const demoId = process.env.FLEETWRIGHT_DEMO_ID ?? randomBytes(6).toString('hex');

class Stopped extends Error {}

/** Everything the demo started, to be stopped in reverse. */
class Demo {
  readonly stop = new AbortController();
  readonly children: { name: string; child: ChildProcess }[] = [];
  readonly logDir = mkdtempSync(join(tmpdir(), 'fleetwright-demo-'));
  startedCluster = false;
  namespaceCreated = false;
  kubeconfig = '';
  server?: Server;
  git?: GitServer;
  mirrorStarted = false;

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  check(): void {
    if (this.signal.aborted) throw new Stopped();
  }

  /** Polls `ready` every 500 ms until it returns a value, for at most `timeoutMs`; Ctrl-C ends the wait. */
  async until<T>(what: string, ready: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.check();
      const value = await Promise.resolve(ready()).catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await sleep(500, undefined, { signal: this.signal }).catch(() => undefined);
    }
  }

  /** `node src/main.ts <args>` in a process group of its own (a terminal's Ctrl-C is the demo's), logging to a file. */
  spawnFleetwright(name: string, args: string[]): ChildProcess {
    const log = openSync(join(this.logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [join(repoRoot, 'src', 'main.ts'), ...args], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, FLEETWRIGHT_DEMO_ID: demoId },
    });
    this.children.push({ name, child });
    child.once('exit', (code, signal) => {
      // Stopped on purpose (stopChild), or the whole demo is stopping: nothing to report.
      if (this.signal.aborted || this.stopping || child.killed) return;
      console.error(`fleetwright ${name} exited (${signal ?? code}); see ${this.logDir}/${name}.log`);
    });
    return child;
  }

  stopping = false;

  /** The URL a child logged when it started serving (`serving Tunnels`, `serving metrics`). */
  servedUrl(name: string, what: string): Promise<string> {
    return this.until(`fleetwright ${name} to serve ${what}`, () => {
      for (const line of readFileSync(join(this.logDir, `${name}.log`), 'utf8').split('\n')) {
        if (line.includes(`"msg":"serving ${what}"`)) return (JSON.parse(line) as { url: string }).url;
      }
      const entry = this.children.find((c) => c.name === name);
      if (entry && entry.child.exitCode !== null) throw new Error(`fleetwright ${name} exited; see ${this.logDir}/${name}.log`);
      return undefined;
    }, 60_000);
  }

  async cleanUp(): Promise<void> {
    this.stopping = true;
    const stepStart = Date.now();
    this.server?.close();
    if (this.kubeconfig && this.namespaceCreated && !this.startedCluster) {
      // The cluster stays: take back what the demo made, while the controller still runs its finalizers.
      const deleted = spawnKubectl(this.kubeconfig, ['delete', 'testruns,tunnels,browserpools', '--all', '-n', DEMO_NAMESPACE,
        '--wait=true', '--timeout=60s']);
      if (deleted !== 0) console.error('could not delete the demo\'s objects in time; deleting the namespace anyway');
      spawnKubectl(this.kubeconfig, ['delete', 'namespace', DEMO_NAMESPACE, '--wait=true', '--timeout=90s']);
    }
    for (const { child } of [...this.children].reverse()) await stopChild(child);
    await this.git?.stop();
    if (this.mirrorStarted) await stopNpmMirror();
    if (this.startedCluster) await down((line) => console.log(`[cluster] ${line}`));
    console.log(`stopped everything the demo started (${seconds(stepStart)}); logs of its processes: ${this.logDir}`);
  }
}

function spawnKubectl(kubeconfig: string, args: string[]): number {
  try {
    kubectl(kubeconfig, ...args);
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    return 1;
  }
}

/** SIGTERM (graceful: leases released, lease Lease freed), SIGKILL after 15 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A page on this machine's loopback, for the Tunnel session to open through exposeNetwork. */
async function servePage(demo: Demo): Promise<string> {
  demo.server = createServer((_, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>Served on your machine</title><h1>Hello from 127.0.0.1</h1>');
  }).listen(0, '127.0.0.1');
  await new Promise((r) => demo.server?.once('listening', r));
  return `http://127.0.0.1:${(demo.server.address() as AddressInfo).port}/`;
}

async function run(demo: Demo): Promise<boolean> {
  step('1/7 the local cluster: control plane and node (hack/controlplane.ts)');
  demo.startedCluster = processesMentioning(stateDir).length === 0;
  const cluster = await up((line) => console.log(`[cluster] ${line}`), { node: true });
  demo.kubeconfig = cluster.kubeconfig;
  demo.check();
  installCrds(cluster.kubeconfig);
  console.log('CRDs installed: BrowserPool, TestRun, Tunnel (kubectl get crd)');

  step('2/7 the project\'s image in the node\'s containerd (built only when src/ changed)');
  const image = ensureProjectImage((line) => console.log(`[image] ${line}`));
  console.log(image);
  demo.check();

  step('3/7 fleetwright controller and gateway, as processes on this machine');
  const kc = new Cluster(loadTarget({ kubeconfig: cluster.kubeconfig, namespace: DEMO_NAMESPACE }));
  // A cluster the demo started is the demo's: its processes watch every namespace, so that whatever the user
  // applies anywhere works. A cluster that was running (the tests', another engineer's) may have other
  // controllers: then only the demo's namespace.
  const scope = demo.startedCluster ? [] : [`--watch-namespace=${DEMO_NAMESPACE}`];
  const controller = ['controller', `--kubeconfig=${cluster.kubeconfig}`, `--image=${image}`,
    '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=0', ...scope];
  // The gateway's heartbeat Lease lives in the demo's namespace, so that comes first. The gateway listens on a port
  // of the kernel's choice and logs it (a port picked free beforehand could be taken before it listens); the
  // controller, which writes the gateway's URL into each Tunnel's status.url, starts once that is known.
  await resetNamespace(demo, kc, controller);
  demo.spawnFleetwright('gateway', ['gateway', `--kubeconfig=${cluster.kubeconfig}`,
    '--bind-address=127.0.0.1:0', '--metrics-bind-address=0', `--replica-namespace=${DEMO_NAMESPACE}`,
    '--replica-name=demo', ...scope]);
  const gatewayUrl = (await demo.servedUrl('gateway', 'Tunnels')).replace(/^http:/, 'ws:');
  demo.spawnFleetwright('controller', [...controller, `--gateway-url=${gatewayUrl}`]);
  const metrics = await demo.servedUrl('controller', 'metrics');
  console.log(`controller: metrics at ${metrics}/metrics; gateway: ${gatewayUrl}; logs in ${demo.logDir}`);

  step(`4/7 kubectl apply -n ${DEMO_NAMESPACE} -f config/samples: a pool, a TestRun of 2 shards, a Tunnel`);
  process.stdout.write(kubectl(cluster.kubeconfig, 'apply', '-n', DEMO_NAMESPACE, '-f', join(repoRoot, 'config', 'samples')));
  // The sample's token is public: the demo's Tunnel gets one of its own.
  const token = randomBytes(24).toString('hex');
  await kc.mergePatch(`/api/v1/namespaces/${DEMO_NAMESPACE}/secrets/${SAMPLE_SECRET}`, { stringData: { token } });

  step(`5/7 TestRun ${GIT_RUN} from a private git repository, its devDependencies installed from its lockfile`);
  await startGitRun(demo, kc, cluster.kubeconfig);

  step(`6/7 TestRun ${SAMPLE_RUN}: each shard leases a browser of the pool and runs in its own runner pod`);
  const follow = { out: process.stdout, tty: process.stdout.isTTY === true, signal: demo.signal };
  const finished: TestRunObject = await followRun(kc, SAMPLE_RUN, follow);
  console.log(finalReport(finished).join('\n'));
  const fromGit: TestRunObject = await followRun(kc, GIT_RUN, follow);
  console.log(finalReport(fromGit).join('\n'));
  console.log(`\n$ kubectl get tr -n ${DEMO_NAMESPACE}\n${kubectl(cluster.kubeconfig, 'get', 'tr', '-n', DEMO_NAMESPACE)}`);

  step(`7/7 a Playwright client on this machine, through Tunnel ${SAMPLE_TUNNEL}, opens a page served on 127.0.0.1`);
  const page = await servePage(demo);
  const tunnelPath = objectPath(TUNNEL, { namespace: DEMO_NAMESPACE, name: SAMPLE_TUNNEL });
  const tunnel = await demo.until(`Tunnel ${SAMPLE_TUNNEL} to be Ready`, async () => {
    const t = await kc.get<Parameters<typeof tunnelSnippet>[0]>(tunnelPath);
    const ready = t.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    return ready && t.status?.url ? t : undefined;
  }, 90_000);
  console.log(tunnelSnippet(tunnel, `-n ${DEMO_NAMESPACE}`).snippet.join('\n'));
  const url = tunnel.status?.url ?? '';
  const sessionStart = Date.now();
  const browser = await chromium.connect(url, {
    headers: { Authorization: `Bearer ${token}` },
    // The browser runs in a pod; this lets it load what this machine serves on its loopback.
    exposeNetwork: '<loopback>',
    timeout: 60_000,
  });
  let title: string;
  try {
    const tab = await browser.newPage();
    await tab.goto(page);
    title = await tab.title();
  } finally {
    await browser.close();
  }
  console.log(`\nconnect('${url}') with the token, exposeNetwork '<loopback>', goto ${page}: ` +
    `title "${title}" (${seconds(sessionStart)})`);
  return finished.status?.phase === 'Succeeded' && fromGit.status?.phase === 'Succeeded' &&
    title === 'Served on your machine';
}

/**
 * A private repository of the suite test/fixtures/webserver-bin (in its e2e/
 * folder) on a git server, and an npm mirror, both on the bridge address; a
 * TestRun of its main branch with the repository's token and the mirror as
 * its registry, in Secrets.
 */
async function startGitRun(demo: Demo, kc: Cluster, kubeconfig: string): Promise<void> {
  const token = randomBytes(16).toString('hex');
  demo.git = await startGitServer({ host: NODE_IP, token });
  demo.mirrorStarted = true;
  const mirror = await startNpmMirror({ host: NODE_IP, log: (line) => console.log(`[npm mirror] ${line}`) });
  const repo = demo.git.createRepository(GIT_RUN, { protected: true });
  const commit = repo.commitFolder(join(repoRoot, 'test', 'fixtures', 'webserver-bin'), 'e2e tests', { into: 'e2e' });
  console.log(`git server ${demo.git.url} (repository ${repo.url} at ${commit.slice(0, 12)}), npm mirror ${mirror}`);
  const secrets = `/api/v1/namespaces/${DEMO_NAMESPACE}/secrets`;
  await kc.create(secrets, { metadata: { name: `${GIT_RUN}-git` }, stringData: { token } });
  await kc.create(secrets, { metadata: { name: 'npm-mirror' }, stringData: { '.npmrc': `registry=${mirror}\n` } });
  const manifest = `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: ${GIT_RUN} }
spec:
  poolRef: { name: chromium }
  source: { git: { url: ${repo.url}, revision: main, path: e2e, secretRef: { name: ${GIT_RUN}-git } } }
  dependencies: { npmrcSecretRef: { name: npm-mirror } }
`;
  const file = join(demo.logDir, `${GIT_RUN}.yaml`);
  writeFileSync(file, manifest);
  process.stdout.write(kubectl(kubeconfig, 'apply', '-n', DEMO_NAMESPACE, '-f', file));
}

/**
 * The demo's namespace, new. One left by a killed demo is deleted first, by a controller started for the while
 * (`controller`, its command line): the objects' finalizers need one, and the demo's own starts after the gateway.
 */
async function resetNamespace(demo: Demo, kc: Cluster, controller: string[]): Promise<void> {
  const path = `/api/v1/namespaces/${DEMO_NAMESPACE}`;
  const exists = async () => kc.get(path).then(() => true, (err: unknown) => {
    if (isNotFound(err)) return false;
    throw err;
  });
  if (await exists()) {
    console.log(`namespace ${DEMO_NAMESPACE} is left from an earlier demo: deleting it first`);
    const cleaner = demo.spawnFleetwright('controller-cleanup', controller);
    try {
      kubectl(demo.kubeconfig, 'delete', 'testruns,tunnels,browserpools', '--all', '-n', DEMO_NAMESPACE,
        '--wait=true', '--timeout=60s');
      kubectl(demo.kubeconfig, 'delete', 'namespace', DEMO_NAMESPACE, '--wait=false');
      await demo.until(`namespace ${DEMO_NAMESPACE} to be gone`, async () => ((await exists()) ? undefined : true), 120_000);
    } finally {
      await stopChild(cleaner);
    }
  }
  await kc.create('/api/v1/namespaces', { metadata: { name: DEMO_NAMESPACE } });
  demo.namespaceCreated = true;
}

function hints(demo: Demo): string {
  const ns = `-n ${DEMO_NAMESPACE}`;
  return `
Poke at it from another terminal:

  export KUBECONFIG=${demo.kubeconfig} KUBECACHEDIR=${kubectlCacheDir} PATH=${join(stateDir, 'bin')}:$PATH
  alias fleetwright="node ${join(repoRoot, 'src', 'main.ts')}"
  kubectl get fleetwright ${ns}                  # the pool, the run and the Tunnel
  fleetwright status ${ns}                       # the same, with each run's progress
  fleetwright run test/fixtures/suite --pool chromium --shards 2 --follow ${ns}
  fleetwright logs ${SAMPLE_RUN} ${ns}                    # Playwright's output of each shard
  fleetwright tunnel ${SAMPLE_TUNNEL} ${ns}                     # a connect() snippet for your own scripts
  kubectl patch bp/chromium --type=merge -p '{"spec":{"autoscaling":{"minReplicas":3}}}' ${ns}
`;
}

if (import.meta.main) {
  const demo = new Demo();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (demo.stopping) {
      console.error(`${signal}: still stopping what the demo started; it takes a few seconds more`);
      return;
    }
    interrupted = true;
    console.log(`\n${signal}: stopping everything the demo started`);
    demo.stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let ok = false;
  try {
    ok = await run(demo);
    console.log(`\nthe demo ${ok ? 'worked' : 'did NOT work as it should'} in ${seconds()}`);
    if (!once && ok) {
      console.log(hints(demo));
      console.log('Ctrl-C stops the controller and the gateway, and removes what the demo made' +
        (demo.startedCluster ? ', and the cluster it started.' : ' (the cluster was running before and stays).'));
      await new Promise((resolve) => demo.signal.addEventListener('abort', resolve, { once: true }));
    }
  } catch (err) {
    if (!(err instanceof Stopped) && !demo.signal.aborted) {
      console.error(`\nthe demo failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    await demo.cleanUp();
  }
  process.exit(interrupted ? 130 : ok ? 0 : 1);
}
