// A real Kubernetes control plane on loopback: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, built from their Go modules.
//
//   node hack/controlplane.ts up       start (or find running) and write .fleetwright/kubeconfig
//   node hack/controlplane.ts down     stop everything and remove its data
//   node hack/controlplane.ts status   say what runs
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
      return [
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--etcd-servers=${etcdUrl}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${pki.tokenFile}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--disable-admission-plugins=ServiceAccount',
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
      '--controllers=garbage-collector-controller,namespace-controller',
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
export async function up(log: Log = console.log): Promise<ControlPlane> {
  const tracked = new Set(components.map(runningPid));
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
  for (const c of [...components].reverse()) await stopManaged(c, c.name === 'etcd' ? 10_000 : 5_000);
  // Whatever a crashed run left without a pid file still names the state folder on its command line.
  for (const pid of processesMentioning(stateDir)) await stopProcess(pid, 5_000);
  rmSync(stateDir, { recursive: true, force: true });
  log('control plane stopped and its data removed');
}

function status(): void {
  for (const c of components) {
    const pid = runningPid(c);
    console.log(`${c.name.padEnd(24)} ${pid ? `running (pid ${pid})` : 'stopped'}`);
  }
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

function readyz(pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${server}/readyz`, {
      ca: readFileSync(pki.caCert),
      headers: { Authorization: `Bearer ${pki.adminToken}` },
      timeout: 1000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
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
  const ca = readFileSync(pki.caCert).toString('base64');
  const kubeconfig = {
    'apiVersion': 'v1',
    'kind': 'Config',
    'clusters': [{ name: 'fleetwright', cluster: { server, 'certificate-authority-data': ca } }],
    'users': [{ name: 'admin', user: { token: pki.adminToken } }],
    'contexts': [
      { name: 'fleetwright', context: { cluster: 'fleetwright', user: 'admin', namespace: 'default' } },
    ],
    'current-context': 'fleetwright',
  };
  writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

if (import.meta.main) {
  const command = process.argv[2];
  const commands: Record<string, () => Promise<unknown>> = {
    up: () => up(),
    down: () => down(),
    status: async () => status(),
  };
  const run = command ? commands[command] : undefined;
  if (!run) {
    console.error('usage: node hack/controlplane.ts up|down|status');
    process.exit(2);
  }
  try {
    await run();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
