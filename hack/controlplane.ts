// A real Kubernetes cluster on this machine: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler on loopback, built from their Go
// modules, and one real node (containerd, runc, CNI, kubelet; hack/lib/node.ts).
//
//   node hack/controlplane.ts up [--api-only]   start (or find running) and write .fleetwright/kubeconfig
//   node hack/controlplane.ts down              stop everything and remove its data
//   node hack/controlplane.ts status            say what runs
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ensureBinary, type KubeBinary } from './lib/binaries.ts';
import { kubeconfigPath, stateDir } from './lib/paths.ts';
import { ensurePki, issueCertificate, type Pki } from './lib/pki.ts';
import {
  logFile,
  type Managed,
  processesMentioning,
  runningPid,
  sleep,
  startDetached,
  stopManaged,
  stopProcess,
} from './lib/processes.ts';
import { downNode, NODE_NAME, nodeDir, nodeRunning, upNode } from './lib/node.ts';
import { ensureTool } from './lib/tools.ts';

const ports = {
  apiserver: Number(process.env.FLEETWRIGHT_APISERVER_PORT ?? 16443),
  etcdClient: Number(process.env.FLEETWRIGHT_ETCD_PORT ?? 12379),
  etcdPeer: Number(process.env.FLEETWRIGHT_ETCD_PEER_PORT ?? 12380),
};

const runDir = join(stateDir, 'run');
const pkiDir = join(stateDir, 'pki');
const server = `https://127.0.0.1:${ports.apiserver}`;
const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;

export interface ControlPlane {
  kubeconfig: string;
  server: string;
}

type Log = (line: string) => void;

interface Component extends Managed {
  binary: KubeBinary;
  args: (pki: Pki) => string[];
  /** Resolves true once the component serves; undefined: nothing to wait for. */
  ready?: (pki: Pki) => Promise<boolean>;
}

const component = (c: Omit<Component, 'runDir'>): Component => ({ ...c, runDir });

/** In start order; stopped in reverse (etcd last, or the API server hangs in shutdown). */
const components: Component[] = [
  component({
    name: 'etcd',
    binary: 'etcd',
    args: () => [
      `--data-dir=${join(stateDir, 'etcd')}`,
      '--name=default',
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    ready: () => httpOk(`${etcdUrl}/health`),
  }),
  component({
    name: 'kube-apiserver',
    binary: 'kube-apiserver',
    // envtest's defaults (sigs.k8s.io/controller-runtime/pkg/internal/testing/controlplane).
    args: (pki) => {
      const serving = issueCertificate(pki, 'apiserver', '/CN=kube-apiserver', 'serverAuth', [
        'IP:127.0.0.1',
        'IP:10.0.0.1',
        'DNS:localhost',
        'DNS:kubernetes',
        'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc',
        'DNS:kubernetes.default.svc.cluster.local',
      ]);
      const kubeletClient = issueCertificate(
        pki,
        'apiserver-kubelet-client',
        '/O=system:masters/CN=kube-apiserver-kubelet-client',
        'clientAuth',
      );
      return [
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--etcd-servers=${etcdUrl}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${pki.tokenFile}`,
        '--authorization-mode=Node,RBAC',
        // So that kubectl logs/exec reach the kubelet on the node's bridge address.
        `--kubelet-client-certificate=${kubeletClient.cert}`,
        `--kubelet-client-key=${kubeletClient.key}`,
        '--kubelet-preferred-address-types=InternalIP',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--disable-admission-plugins=ServiceAccount',
        // As on most clusters: an owner reference that blocks its owner's deletion needs `update` on the
        // owner's finalizers subresource, so the chart's RBAC rules for those are exercised too.
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        '--allow-privileged=true',
        '--profiling=false',
      ];
    },
    ready: (pki) => readyz(pki),
  }),
  component({
    name: 'kube-controller-manager',
    binary: 'kube-controller-manager',
    args: () => [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
      // node-lifecycle removes the not-ready taint the API server puts on every new Node; the HPA controller
      // scales BrowserPools through their scale subresource.
      '--controllers=garbage-collector-controller,namespace-controller,node-lifecycle-controller,' +
      'horizontal-pod-autoscaler-controller',
      '--horizontal-pod-autoscaler-sync-period=2s',
    ],
  }),
  component({
    name: 'kube-scheduler',
    binary: 'kube-scheduler',
    args: () => [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'],
  }),
];

/**
 * Starts whatever part of the control plane is not running, keeping etcd's
 * data, so it both starts from nothing and brings back a killed API server.
 * Processes left by a crashed run without pid files are stopped first.
 */
export async function up(log: Log = console.log, options: { node?: boolean } = {}): Promise<ControlPlane> {
  // The Debian packages the cluster needs; instant when they are present.
  execFileSync('bash', [join(import.meta.dirname, 'setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Leftovers of the control plane; the node's processes are the node's to judge (upNode).
  const tracked = new Set([...components.map(runningPid), ...processesMentioning(nodeDir)]);
  for (const pid of processesMentioning(stateDir)) if (!tracked.has(pid)) await stopProcess(pid, 5_000);

  const missing = components.filter((c) => runningPid(c) === undefined);
  const binaries = new Map(missing.map((c) => [c.name, ensureBinary(c.binary, log)]));
  const pki = ensurePki(pkiDir);
  writeKubeconfig(kubeconfigPath, pki);
  linkTools();
  const started = Date.now();
  for (const c of components) {
    const binary = binaries.get(c.name);
    if (binary) startDetached(c, binary, c.args(pki));
    if (c.ready) await waitFor(c, () => c.ready?.(pki) ?? Promise.resolve(true), 60_000);
  }
  const what = missing.length === 0 ? 'already running' : `started ${missing.map((c) => c.name).join(', ')}`;
  log(
    `control plane at ${server}: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s); KUBECONFIG=${kubeconfigPath}`,
  );
  if (options.node) {
    await upNode({
      pki,
      log,
      kubeconfigOf: (cert) => kubeconfigText(pki, `system:node:${NODE_NAME}`, { 'client-certificate': cert.cert, 'client-key': cert.key }),
      nodeReady: (since) => nodeReady(pki, since),
    });
  }
  return { kubeconfig: kubeconfigPath, server };
}

/** Stops one component (as a crash would, with `signal`), for tests of what survives it. */
export async function kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const c = components.find((x) => x.name === name);
  const pid = c && runningPid(c);
  if (!pid) throw new Error(`${name} is not running`);
  process.kill(pid, signal);
  await stopProcess(pid, 10_000);
}

export async function down(log: Log = console.log): Promise<void> {
  await downNode();
  for (const c of [...components].reverse()) await stopManaged(c, c.name === 'etcd' ? 10_000 : 5_000);
  // Whatever a crashed run left without a pid file still names the state folder on its command line.
  for (const pid of processesMentioning(stateDir)) await stopProcess(pid, 5_000);
  rmSync(stateDir, { recursive: true, force: true });
  log('cluster stopped and its data removed');
}

function status(): void {
  for (const c of components) {
    const pid = runningPid(c);
    console.log(`${c.name.padEnd(24)} ${pid ? `running (pid ${pid})` : 'stopped'}`);
  }
  console.log(`${`node ${NODE_NAME}`.padEnd(24)} ${nodeRunning() ? 'running' : 'stopped'}`);
}

async function waitFor(m: Managed, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return;
    if (runningPid(m) === undefined) break;
    await sleep(100);
  }
  const tail = readFileSync(logFile(m), 'utf8').trim().split('\n').slice(-15).join('\n');
  throw new Error(
    `${m.name} did not become ready (${runningPid(m) ? 'timed out' : 'exited'}); last lines of ${logFile(m)}:\n${tail}`,
  );
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** GET on the API server as the admin user: status code and body, or status 0 when it does not answer. */
function apiGet(pki: Pki, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(`${server}${path}`, {
      ca: readFileSync(pki.caCert),
      headers: { Authorization: `Bearer ${pki.adminToken}` },
      timeout: 2000,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function readyz(pki: Pki): Promise<boolean> {
  return (await apiGet(pki, '/readyz')).status === 200;
}

/**
 * Ready, and rid of the not-ready taint, so the scheduler binds pods to it. A
 * restarted kubelet's Node still says Ready from before, so with `since` the
 * Ready condition must have a heartbeat from after that moment.
 */
async function nodeReady(pki: Pki, since?: Date): Promise<boolean> {
  const response = await apiGet(pki, `/api/v1/nodes/${NODE_NAME}`);
  if (response.status !== 200) return false;
  const node = JSON.parse(response.body) as {
    spec?: { taints?: { key: string }[] };
    status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] };
  };
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const fresh = !since || (ready?.lastHeartbeatTime !== undefined && new Date(ready.lastHeartbeatTime) >= since);
  const tainted = node.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready');
  return Boolean(ready) && fresh && !tainted;
}

/** .fleetwright/bin/{kubectl,helm}, so `PATH=$PWD/.fleetwright/bin:$PATH` gives a user the tested clients. */
function linkTools(): void {
  const bin = join(stateDir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['kubectl', 'helm'] as const) {
    rmSync(join(bin, tool), { force: true });
    symlinkSync(ensureTool(tool), join(bin, tool));
  }
}

function writeKubeconfig(path: string, pki: Pki): void {
  writeFileSync(path, kubeconfigText(pki, 'admin', { token: pki.adminToken }), { mode: 0o600 });
}

function kubeconfigText(pki: Pki, user: string, credentials: Record<string, string>): string {
  const ca = readFileSync(pki.caCert).toString('base64');
  return JSON.stringify(
    {
      'apiVersion': 'v1',
      'kind': 'Config',
      'clusters': [{ name: 'fleetwright', cluster: { server, 'certificate-authority-data': ca } }],
      'users': [{ name: user, user: credentials }],
      'contexts': [{ name: 'fleetwright', context: { cluster: 'fleetwright', user, namespace: 'default' } }],
      'current-context': 'fleetwright',
    },
    null,
    2,
  );
}

if (import.meta.main) {
  const command = process.argv[2];
  const commands: Record<string, () => Promise<unknown>> = {
    up: () => up(console.log, { node: !process.argv.includes('--api-only') }),
    down: () => down(),
    status: async () => status(),
  };
  const run = command ? commands[command] : undefined;
  if (!run) {
    console.error('usage: node hack/controlplane.ts up [--api-only] | down | status');
    process.exit(2);
  }
  try {
    await run();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
