// A real Kubernetes cluster on this machine: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, built from their Go modules, and
// one real node (containerd, runc, CNI, kubelet, kube-proxy; hack/lib/node.ts),
// or two. With a node, the API server listens on the first node's bridge
// address, where pods reach it through the kubernetes Service as in any
// cluster, and so does an OCI registry the nodes pull from
// (hack/lib/registry.ts); without (--api-only), on loopback.
//
//   node hack/controlplane.ts up [--api-only | --nodes=2]   start (or find running) and write .fleetwright/kubeconfig
//   node hack/controlplane.ts down                          stop everything and remove its data
//   node hack/controlplane.ts status                        say what runs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { basename, join } from 'node:path';
import { ensureBinary, type KubeBinary } from './lib/binaries.ts';
import { kubeconfigPath, stateDir } from './lib/paths.ts';
import { ensurePki, issueCertificate, type Pki } from './lib/pki.ts';
import {
  commandLine,
  logFile,
  type Managed,
  processesMentioning,
  runningPid,
  sleep,
  startDetached,
  stopManaged,
  stopProcess,
} from './lib/processes.ts';
import { crashNode, downNode, NODE_IP, nodeDir, nodeRunning, SERVICE_CIDR, upNode } from './lib/node.ts';
import { FIRST_NODE, NODES, type NodeLayout, SECOND_NODE } from './lib/node-layout.ts';
import { ensureNodeNetwork, removeNodeNetwork, removeSecondNodeNetwork } from './lib/node-network.ts';
import { accepting } from './lib/ports.ts';
import { ensureRegistry, registryRunning, stopRegistry } from './lib/registry.ts';
import { ensureTool } from './lib/tools.ts';

const ports = {
  apiserver: Number(process.env.FLEETWRIGHT_APISERVER_PORT ?? 16443),
  etcdClient: Number(process.env.FLEETWRIGHT_ETCD_PORT ?? 12379),
  etcdPeer: Number(process.env.FLEETWRIGHT_ETCD_PEER_PORT ?? 12380),
};

const runDir = join(stateDir, 'run');
const pkiDir = join(stateDir, 'pki');
const serverAt = (address: string) => `https://${address}:${ports.apiserver}`;
const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;

/** The ports each component listens on, to check before it starts. */
const portsOf = (name: string, address: string): [string, number][] =>
  name === 'etcd'
    ? [['127.0.0.1', ports.etcdClient], ['127.0.0.1', ports.etcdPeer]]
    : name === 'kube-apiserver' ? [[address, ports.apiserver]] : [];

export interface ControlPlane {
  kubeconfig: string;
  server: string;
}

type Log = (line: string) => void;

/** What a component's flags depend on. */
interface Setup {
  pki: Pki;
  /** Where the API server listens and what it advertises: loopback, or the node's bridge address. */
  address: string;
  server: string;
}

interface Component extends Managed {
  binary: KubeBinary;
  args: (setup: Setup) => string[];
  /** Resolves true once the component serves; undefined: nothing to wait for. */
  ready?: (setup: Setup) => Promise<boolean>;
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
    // envtest's defaults (sigs.k8s.io/controller-runtime/pkg/internal/testing/controlplane), plus what
    // in-cluster clients need: ServiceAccount admission (projected tokens), and a serving certificate
    // for the kubernetes Service's ClusterIP and the bridge address it maps onto.
    args: ({ pki, address }) => {
      const serving = issueCertificate(pki, 'apiserver-serving', '/CN=kube-apiserver', 'serverAuth', [
        'IP:127.0.0.1',
        `IP:${NODE_IP}`,
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
        `--bind-address=${address}`,
        // The kubernetes Service's endpoint: kube-proxy maps 10.0.0.1:443 onto it for pods.
        `--advertise-address=${address}`,
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
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        // As on most clusters: an owner reference that blocks its owner's deletion needs `update` on the
        // owner's finalizers subresource, so the chart's RBAC rules for those are exercised too.
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        '--allow-privileged=true',
        '--profiling=false',
      ];
    },
    ready: (setup) => readyz(setup),
  }),
  component({
    name: 'kube-controller-manager',
    binary: 'kube-controller-manager',
    args: ({ pki, server }) => [
      `--kubeconfig=${kubeconfigPath}`,
      // The kubeconfig's own server, on the command line too: a move of the API server restarts this.
      `--master=${server}`,
      '--leader-elect=false',
      '--secure-port=0',
      // node-lifecycle removes the not-ready taint the API server puts on every new Node; the HPA controller
      // scales BrowserPools through their scale subresource. The rest is what a Helm install needs: the
      // default ServiceAccount of each namespace and its token's CA (kube-root-ca.crt), Deployments, and
      // the endpoints of Services that kube-proxy maps; clusterrole-aggregation fills the built-in
      // admin/edit/view roles from the chart's aggregated ones. The disruption controller fills the
      // PodDisruptionBudgets' status, which the Eviction API (kubectl drain) reads.
      '--controllers=garbage-collector-controller,namespace-controller,node-lifecycle-controller,' +
      'horizontal-pod-autoscaler-controller,serviceaccount-controller,serviceaccount-token-controller,' +
      'root-ca-certificate-publisher-controller,deployment-controller,replicaset-controller,' +
      'endpointslice-controller,endpoints-controller,clusterrole-aggregation-controller,disruption-controller',
      '--horizontal-pod-autoscaler-sync-period=2s',
      `--root-ca-file=${pki.caCert}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
    ],
  }),
  component({
    name: 'kube-scheduler',
    binary: 'kube-scheduler',
    args: ({ server }) => [`--kubeconfig=${kubeconfigPath}`, `--master=${server}`, '--leader-elect=false', '--secure-port=0'],
  }),
];

/**
 * Starts whatever part of the control plane is not running, keeping etcd's
 * data, so it both starts from nothing and brings back a killed API server.
 * A component whose flags changed (the API server moving onto the bridge for
 * the node, or a newer hack/) is restarted. Processes left by a crashed run
 * without pid files are stopped first. Without `node`, a cluster that has a
 * node keeps it, and its API server stays on the bridge. With `nodes: 2`, a
 * second node joins the first (upSecondNode).
 */
export async function up(
  log: Log = console.log,
  options: { node?: boolean; nodes?: 1 | 2 } = {},
): Promise<ControlPlane> {
  // The Debian packages the cluster needs; instant when they are present.
  execFileSync('bash', [join(import.meta.dirname, 'setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Leftovers of the control plane: its binaries on this state folder without a pid file. The node's
  // processes are the node's to judge (upNode), and clients that only name a kubeconfig here (the tests'
  // controllers and gateways, while a test restarts the API server) are not the control plane's.
  const tracked = new Set([...components.map(runningPid), ...processesMentioning(nodeDir)]);
  const binaries = new Set(components.map((c) => c.binary as string));
  const isComponent = (pid: number) => binaries.has(basename(commandLine(pid).split(' ')[0] ?? ''));
  for (const pid of processesMentioning(stateDir)) {
    if (!tracked.has(pid) && isComponent(pid)) await stopProcess(pid, 5_000);
  }

  const onBridge = options.node === true || existsSync(nodeDir);
  // The API server binds to the bridge address, so the bridge comes first.
  if (onBridge) ensureNodeNetwork();
  const address = onBridge ? NODE_IP : '127.0.0.1';
  const setup: Setup = { pki: ensurePki(pkiDir), address, server: serverAt(address) };
  const commands = new Map(components.map((c) => [c.name, [ensureBinary(c.binary, log), ...c.args(setup)]]));
  const current = (c: Component) => {
    const pid = runningPid(c);
    return pid !== undefined && commandLine(pid).trim() === commands.get(c.name)?.join(' ');
  };
  const stale = components.filter((c) => runningPid(c) !== undefined && !current(c));
  for (const c of [...stale].reverse()) await stopManaged(c, 5_000);
  const missing = components.filter((c) => runningPid(c) === undefined);
  for (const c of missing) {
    for (const [host, port] of portsOf(c.name, address)) {
      // A component that is not running must find its ports free: an etcd or API server of another checkout
      // listening there would otherwise serve this one's clients, and this checkout's own would exit.
      if (await accepting(host, port)) {
        throw new Error(
          `${c.name} of ${stateDir} cannot start: ${host}:${port} is taken by another process (another checkout's ` +
          'cluster?). Stop it (node hack/controlplane.ts down in that checkout) or choose other ports with ' +
          'FLEETWRIGHT_APISERVER_PORT, FLEETWRIGHT_ETCD_PORT and FLEETWRIGHT_ETCD_PEER_PORT.',
        );
      }
    }
  }
  writeKubeconfig(kubeconfigPath, setup);
  linkTools();
  const started = Date.now();
  for (const c of components) {
    const [binary = c.binary, ...args] = commands.get(c.name) ?? [];
    if (missing.includes(c)) startDetached(c, binary, args);
    if (c.ready) await waitFor(c, () => c.ready?.(setup) ?? Promise.resolve(true), 60_000);
  }
  const what = missing.length === 0
    ? 'already running'
    : `${stale.length > 0 ? 're' : ''}started ${missing.map((c) => c.name).join(', ')}`;
  log(
    `control plane at ${setup.server}: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s); ` +
    `KUBECONFIG=${kubeconfigPath}`,
  );
  if (options.node) {
    await ensureRegistry(log);
    for (const layout of NODES.slice(0, options.nodes ?? 1)) await upNode(layout, nodeOptions(setup, log));
  }
  return { kubeconfig: kubeconfigPath, server: setup.server };
}

const nodeOptions = (setup: Setup, log: Log) => ({
  pki: setup.pki,
  log,
  kubeconfigOf: (user: string, cert: { cert: string; key: string }) =>
    kubeconfigText(setup, user, { 'client-certificate': cert.cert, 'client-key': cert.key }),
  nodeReady: (name: string, since?: Date) => nodeReady(setup, name, since),
});

/** The setup of the running control plane, for a second node joining or leaving it. */
function runningSetup(): Setup {
  if (!existsSync(nodeDir)) throw new Error('no cluster with a node runs here: node hack/controlplane.ts up');
  return { pki: ensurePki(pkiDir), address: NODE_IP, server: serverAt(NODE_IP) };
}

/** Starts the second node (fw-node2) beside a running cluster with its first node; idempotent. */
export async function upSecondNode(log: Log = console.log): Promise<NodeLayout> {
  await upNode(SECOND_NODE, nodeOptions(runningSetup(), log));
  return SECOND_NODE;
}

/** Kills the second node as a crash would (crashNode): upSecondNode brings it back as a rebooted machine. */
export function crashSecondNode(): void {
  crashNode(SECOND_NODE);
}

/** Stops the second node and removes its network, if this checkout's state folder says it has one. */
async function removeSecondNode(): Promise<void> {
  if (!existsSync(SECOND_NODE.dir)) return;
  await downNode(SECOND_NODE);
  removeSecondNodeNetwork(SECOND_NODE);
  rmSync(SECOND_NODE.dir, { recursive: true, force: true });
}

/**
 * Stops the second node, removes its network, deletes its Node and its pods
 * (at once, as the pod garbage collector would, which this control plane does
 * not run); idempotent.
 */
export async function downSecondNode(log: Log = console.log): Promise<void> {
  await removeSecondNode();
  if (!existsSync(nodeDir)) return;
  const setup = runningSetup();
  const { status } = await apiRequest(setup, 'DELETE', `/api/v1/nodes/${SECOND_NODE.name}`);
  if (status !== 200 && status !== 404) log(`warning: could not delete Node ${SECOND_NODE.name} (HTTP ${status})`);
  const pods = await apiRequest(setup, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName%3D${SECOND_NODE.name}`);
  const items = pods.status === 200 ? (JSON.parse(pods.body) as { items: PodRef[] }).items : [];
  for (const { metadata: { namespace, name } } of items) {
    await apiRequest(setup, 'DELETE', `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
  }
}

interface PodRef {
  metadata: { namespace: string; name: string };
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
  const hadNode = existsSync(nodeDir);
  await removeSecondNode();
  await downNode(FIRST_NODE);
  await stopRegistry();
  for (const c of [...components].reverse()) await stopManaged(c, c.name === 'etcd' ? 10_000 : 5_000);
  // Whatever a crashed run left without a pid file still names the state folder on its command line.
  for (const pid of processesMentioning(stateDir)) await stopProcess(pid, 5_000);
  // Only the bridge of a node of this state folder: another checkout's must never be touched.
  if (hadNode) removeNodeNetwork();
  rmSync(stateDir, { recursive: true, force: true });
  log('cluster stopped and its data removed');
}

function status(): void {
  for (const c of components) {
    const pid = runningPid(c);
    console.log(`${c.name.padEnd(24)} ${pid ? `running (pid ${pid})` : 'stopped'}`);
  }
  for (const layout of NODES) console.log(`${`node ${layout.name}`.padEnd(24)} ${nodeRunning(layout) ? 'running' : 'stopped'}`);
  console.log(`${'registry'.padEnd(24)} ${registryRunning() ? 'running' : 'stopped'}`);
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

/** A request to the API server as the admin user: status code and body, or status 0 when it does not answer. */
function apiRequest({ pki, server }: Setup, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(`${server}${path}`, {
      method,
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

async function readyz(setup: Setup): Promise<boolean> {
  return (await apiRequest(setup, 'GET', '/readyz')).status === 200;
}

/**
 * Ready, and rid of the not-ready taint, so the scheduler binds pods to it. A
 * restarted kubelet's Node still says Ready from before, so with `since` the
 * Ready condition must have a heartbeat from after that moment.
 */
async function nodeReady(setup: Setup, name: string, since?: Date): Promise<boolean> {
  const response = await apiRequest(setup, 'GET', `/api/v1/nodes/${name}`);
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

function writeKubeconfig(path: string, setup: Setup): void {
  writeFileSync(path, kubeconfigText(setup, 'admin', { token: setup.pki.adminToken }), { mode: 0o600 });
}

function kubeconfigText({ pki, server }: Setup, user: string, credentials: Record<string, string>): string {
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
    up: () => up(console.log, { node: !process.argv.includes('--api-only'), nodes: process.argv.includes('--nodes=2') ? 2 : 1 }),
    down: () => down(),
    status: async () => status(),
  };
  const run = command ? commands[command] : undefined;
  if (!run) {
    console.error('usage: node hack/controlplane.ts up [--api-only | --nodes=2] | down | status');
    process.exit(2);
  }
  try {
    await run();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
