// One real Kubernetes node on this machine: Debian's containerd, runc and CNI
// plugins, and a kubelet built from the pinned Go modules. Pods get addresses
// on the bridge fw0 (10.244.0.0/24), reachable from the host; each pod has its
// own network namespace and localhost. kube-proxy maps Service IPs
// (10.0.0.0/24) onto pods and onto the API server on the bridge address, and
// CoreDNS on that address answers for cluster.local (and nothing else). Pods
// get no route off the bridge but the one to Service IPs, and no masquerading:
// they reach each other, the host and Services, and nothing outside.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinary, kubernetesVersion } from './binaries.ts';
import { cacheDir, kubeconfigPath, stateDir } from './paths.ts';
import { issueCertificate, type Pki } from './pki.ts';
import { podman } from './podman.ts';
import { type Managed, processesMentioning, runningPid, sleep, startDetached, stopManaged, stopProcess } from './processes.ts';

export const NODE_NAME = 'fw-node';
export const BRIDGE = 'fw0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
/** Service ClusterIPs (the API server's --service-cluster-ip-range); kube-proxy maps them onto pods. */
export const SERVICE_CIDR = '10.0.0.0/24';
export const PAUSE_IMAGE = 'localhost/fleetwright/pause:3.10.1';

export const nodeDir = join(stateDir, 'node');
const runDir = join(stateDir, 'run');
const containerdDir = join(nodeDir, 'containerd');
export const containerdSocket = join(containerdDir, 'containerd.sock');
/** Image content survives `down`: the images are built here and can never be pulled again. */
const containerdRoot = join(cacheDir, 'containerd');
const cniDir = join(nodeDir, 'cni');
const kubeletDir = join(nodeDir, 'kubelet');

const containerd: Managed = { name: 'containerd', runDir };
const kubelet: Managed = { name: 'kubelet', runDir };
const kubeProxy: Managed = { name: 'kube-proxy', runDir };
const kubeProxyDir = join(nodeDir, 'kube-proxy');
const KUBE_PROXY_HEALTHZ = '127.0.0.1:10256';
const coredns: Managed = { name: 'coredns', runDir };
const corednsDir = join(nodeDir, 'coredns');
const COREDNS_READY = '127.0.0.1:18181';
/** The cluster's DNS domain: <service>.<namespace>.svc.cluster.local. */
export const CLUSTER_DOMAIN = 'cluster.local';

type Log = (line: string) => void;

function run(command: string, args: string[], input?: Buffer | string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** ctr against our containerd, in the namespace the CRI plugin uses. */
export function ctr(...args: string[]): string {
  return run('ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', ...args]);
}

export function nodeRunning(): boolean {
  return [containerd, kubelet, kubeProxy, coredns].every((m) => runningPid(m) !== undefined);
}

/**
 * The bridge with the node's address, and the host's route to Service IPs
 * through it. It comes before the control plane, whose API server listens on
 * the bridge address so that pods reach it, and goes only with `down`
 * (removeNodeNetwork). The route sends whatever kube-proxy does not map onto a
 * pod or the API server to the bridge, never to the host's default route.
 */
export function ensureNodeNetwork(): void {
  // The node's state folder marks the bridge as this checkout's, for down to remove.
  mkdirSync(nodeDir, { recursive: true });
  if (spawnSync('ip', ['link', 'show', BRIDGE]).status !== 0) run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  const addresses = run('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE]);
  if (!addresses.includes(`${NODE_IP}/24`)) run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  run('ip', ['link', 'set', BRIDGE, 'up']);
  run('ip', ['route', 'replace', SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
  forwardOnBridgeOnly();
}

/** Deletes the bridge (and the route through it); after the control plane has stopped listening on it. */
export function removeNodeNetwork(): void {
  if (spawnSync('ip', ['link', 'show', BRIDGE]).status === 0) run('ip', ['link', 'delete', BRIDGE]);
  for (const rule of FORWARD_GUARDS) {
    while (spawnSync('iptables', ['-t', 'mangle', '-C', 'FORWARD', ...rule]).status === 0) {
      run('iptables', ['-t', 'mangle', '-D', 'FORWARD', ...rule]);
    }
  }
  if (existsSync(ipForwardBefore)) {
    writeFileSync(IP_FORWARD, readFileSync(ipForwardBefore, 'utf8'));
    rmSync(ipForwardBefore);
  }
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
/** The host's ip_forward before `up` turned it on, for `down` to put back. */
const ipForwardBefore = join(stateDir, 'ip-forward-before');
/** Forwarded packets may only go from the bridge back onto it: pods reach nothing off it, nor it them. */
const FORWARD_GUARDS = [
  ['-i', BRIDGE, '!', '-o', BRIDGE, '-m', 'comment', '--comment', 'fleetwright: pods reach nothing off the bridge', '-j', 'DROP'],
  ['!', '-i', BRIDGE, '-o', BRIDGE, '-m', 'comment', '--comment', 'fleetwright: nothing off the host reaches pods', '-j', 'DROP'],
];

/**
 * A pod reaches a Service whose endpoint is another pod (a runner uploading
 * to the report store) only when the host forwards the DNAT-ed packet back
 * onto the bridge it came in on; so IP forwarding goes on, with rules that
 * drop anything forwarded off the bridge or onto it from elsewhere, in the
 * mangle table's FORWARD chain, which runs before the filter rules where
 * kube-proxy accepts its own traffic. Bridged replies must pass iptables too
 * (br_netfilter) to be un-NAT-ed: turned on where the kernel lets this
 * machine, else `up` warns.
 */
function forwardOnBridgeOnly(): void {
  for (const rule of [...FORWARD_GUARDS].reverse()) {
    if (spawnSync('iptables', ['-t', 'mangle', '-C', 'FORWARD', ...rule]).status !== 0) {
      run('iptables', ['-t', 'mangle', '-I', 'FORWARD', '1', ...rule]);
    }
  }
  const current = readFileSync(IP_FORWARD, 'utf8').trim();
  if (current !== '1') {
    if (!existsSync(ipForwardBefore)) writeFileSync(ipForwardBefore, current);
    writeFileSync(IP_FORWARD, '1');
  }
  spawnSync('modprobe', ['br_netfilter']);
  const bridged = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (existsSync(bridged) && readFileSync(bridged, 'utf8').trim() !== '1') {
    try {
      writeFileSync(bridged, '1');
    } catch {
      // serviceRoutingWarnings says so.
    }
  }
}

function writeContainerdConfig(): string {
  mkdirSync(containerdDir, { recursive: true });
  const config = join(containerdDir, 'config.toml');
  writeFileSync(
    config,
    `version = 2
root = "${containerdRoot}"
state = "${join(containerdDir, 'state')}"

[grpc]
  address = "${containerdSocket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Without it every sandbox fails here: the kubelet asks for oom_score_adj -998,
  # and this machine grants no CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(cniDir, 'net.d')}"
`,
  );
  return config;
}

function writeCniConfig(): void {
  mkdirSync(join(cniDir, 'net.d'), { recursive: true });
  const conflist = {
    cniVersion: '1.0.0',
    name: 'fleetwright',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        // Not a gateway: the plugin would turn on IP forwarding, and pods need no route off the bridge.
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_CIDR, rangeStart: '10.244.0.10', gateway: NODE_IP }]],
          // Service IPs through the host, where kube-proxy's rules map them (the kubernetes
          // Service onto the API server on the bridge address). No default route.
          routes: [{ dst: SERVICE_CIDR, gw: NODE_IP }],
          dataDir: join(cniDir, 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  writeFileSync(join(cniDir, 'net.d', '10-fleetwright.conflist'), JSON.stringify(conflist, null, 2));
}

async function waitForSocket(path: string, m: Managed): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (existsSync(path) && spawnSync('ctr', ['--address', path, 'version']).status === 0) return;
    if (runningPid(m) === undefined) break;
    await sleep(100);
  }
  throw new Error(`${m.name} did not start; see ${join(runDir, `${m.name}.log`)}`);
}

/** The sandbox image: pause.c from the pinned k8s.io/kubernetes module, static, FROM scratch. Built once. */
function ensurePauseImage(log: Log): void {
  if (ctr('images', 'ls', '-q').split('\n').includes(PAUSE_IMAGE)) return;
  const modDir = run('go', ['env', 'GOMODCACHE']).trim();
  const module = `k8s.io/kubernetes@${kubernetesVersion()}`;
  const source = join(modDir, module, 'build', 'pause', 'linux', 'pause.c');
  if (!existsSync(source)) run('go', ['mod', 'download', module]);
  const build = join(cacheDir, 'pause');
  mkdirSync(build, { recursive: true });
  run('gcc', ['-Os', '-Wall', '-Werror', '-static', '-DVERSION=v3.10.1', '-o', join(build, 'pause'), source]);
  writeFileSync(join(build, 'Containerfile'), 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n');
  podman('build', '--network=host', '-t', PAUSE_IMAGE, build);
  importImage(PAUSE_IMAGE);
  log(`built the sandbox image ${PAUSE_IMAGE}`);
}

/** Copies an image from podman's store into the node's containerd, where the kubelet finds it. */
export function importImage(tag: string): void {
  // docker-archive (podman's default) keeps the full name, so ctr imports it as tagged.
  const archive = join(cacheDir, 'image-import.tar');
  podman('save', '-o', archive, tag);
  try {
    ctr('images', 'import', archive);
  } finally {
    rmSync(archive, { force: true });
  }
}

function writeKubeletConfig(pki: Pki, kubeconfigOf: (cert: { cert: string; key: string }) => string): string[] {
  mkdirSync(kubeletDir, { recursive: true });
  const client = issueCertificate(pki, 'kubelet-client', `/O=system:nodes/CN=system:node:${NODE_NAME}`, 'clientAuth');
  const serving = issueCertificate(pki, 'kubelet-serving', `/CN=${NODE_NAME}`, 'serverAuth', [`IP:${NODE_IP}`]);
  const kubeconfig = join(kubeletDir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigOf(client), { mode: 0o600 });
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // This machine: no systemd, cgroup v1, swap allowed, no node-allocatable enforcement.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    containerRuntimeEndpoint: `unix://${containerdSocket}`,
    address: NODE_IP,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    authentication: { x509: { clientCAFile: pki.caCert }, webhook: { enabled: false }, anonymous: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    podLogsDir: join(nodeDir, 'pod-logs'),
    // Pods resolve Service names through CoreDNS on the bridge address, and nothing else: no host resolv.conf.
    resolvConf: '',
    clusterDNS: [NODE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // Images are built here and can never be pulled again: never garbage-collect them,
    // and never evict for a disk that is merely fuller than a cluster default.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
  };
  const path = join(kubeletDir, 'config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return [
    `--config=${path}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${join(kubeletDir, 'root')}`,
    `--node-ip=${NODE_IP}`,
    `--hostname-override=${NODE_NAME}`,
  ];
}

/**
 * kube-proxy in iptables mode, as the node's system:kube-proxy user (bound to
 * system:node-proxier by the API server's bootstrap policy). It leaves the
 * host's sysctls alone: no conntrack table sizes or timeouts, and no
 * route_localnet (which NodePorts on 127.0.0.1 would need).
 */
function writeKubeProxyConfig(pki: Pki, kubeconfigOf: (cert: { cert: string; key: string }) => string): string[] {
  mkdirSync(kubeProxyDir, { recursive: true });
  const client = issueCertificate(pki, 'kube-proxy-client', '/CN=system:kube-proxy', 'clientAuth');
  const kubeconfig = join(kubeProxyDir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigOf(client), { mode: 0o600 });
  const keep = '0s';
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_IP,
    healthzBindAddress: KUBE_PROXY_HEALTHZ,
    metricsBindAddress: '127.0.0.1:10249',
    mode: 'iptables',
    clusterCIDR: POD_CIDR,
    nodePortAddresses: [`${NODE_IP}/32`],
    iptables: { localhostNodePorts: false },
    conntrack: { maxPerCore: 0, tcpEstablishedTimeout: keep, tcpCloseWaitTimeout: keep },
  };
  const path = join(kubeProxyDir, 'config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return [`--config=${path}`];
}

/**
 * CoreDNS serving cluster.local (Services, and pods by address) on the bridge
 * address, where the kubelet points every pod's resolv.conf. Other names get
 * REFUSED at once: nothing is forwarded off this machine. It reads Services
 * and EndpointSlices with the admin kubeconfig, as kube-controller-manager does.
 */
function writeCorefile(): string[] {
  mkdirSync(corednsDir, { recursive: true });
  const path = join(corednsDir, 'Corefile');
  writeFileSync(path, `${CLUSTER_DOMAIN}:53 in-addr.arpa:53 {
    bind ${NODE_IP}
    ready ${COREDNS_READY}
    errors
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa {
        kubeconfig ${kubeconfigPath}
    }
}
`);
  return ['-conf', path];
}

/** What forwardOnBridgeOnly could not set: pods then reach Services on the host (the API server), not other pods. */
function serviceRoutingWarnings(): string[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return 'missing';
    }
  };
  const settings: [string, string][] = [
    ['/proc/sys/net/ipv4/ip_forward', 'IP forwarding (sysctl net.ipv4.ip_forward=1)'],
    ['/proc/sys/net/bridge/bridge-nf-call-iptables', 'br_netfilter (modprobe br_netfilter; sysctl net.bridge.bridge-nf-call-iptables=1)'],
  ];
  return settings.filter(([path]) => read(path) !== '1')
    .map(([path, what]) => `${path} is ${read(path)}: pods reach Services backed by other pods only with ${what}`);
}

const httpOk = async (url: string) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
};

/** kube-proxy has synced its rules at least once (its /healthz says so). */
const kubeProxyHealthy = () => httpOk(`http://${KUBE_PROXY_HEALTHZ}/healthz`);

export interface NodeOptions {
  pki: Pki;
  /** A kubeconfig (YAML/JSON text) for the kubelet with this client certificate. */
  kubeconfigOf: (cert: { cert: string; key: string }) => string;
  /** Whether the API server reports the Node Ready and schedulable, from a heartbeat after `since` if given. */
  nodeReady: (since?: Date) => Promise<boolean>;
  log: Log;
}

/**
 * Makes /run/netns a shared mount point of its own before containerd mounts
 * pod network namespaces in it, as `ip netns` does on first use. Otherwise the
 * first later `ip netns add` or podman run bind-mounts /run/netns over itself
 * and hides the pods' namespaces beneath, which can then never be removed.
 */
function ensureNetnsMount(): void {
  mkdirSync('/run/netns', { recursive: true });
  if (spawnSync('mountpoint', ['-q', '/run/netns']).status !== 0) run('mount', ['--bind', '/run/netns', '/run/netns']);
  run('mount', ['--make-shared', '/run/netns']);
}

/** Starts the node from a clean slate, unless it already runs. */
export async function upNode(options: NodeOptions): Promise<void> {
  if (nodeRunning() && (await kubeletHealthy()) && (await options.nodeReady())) return;
  await downNode();
  const started = Date.now();
  ensureNodeNetwork();
  ensureNetnsMount();
  writeCniConfig();
  startDetached(containerd, 'containerd', ['--config', writeContainerdConfig()]);
  await waitForSocket(containerdSocket, containerd);
  ensurePauseImage(options.log);
  const args = writeKubeletConfig(options.pki, options.kubeconfigOf);
  const binary = ensureBinary('kubelet', options.log);
  // Heartbeats have whole seconds; anything from this second on is from the new kubelet.
  const since = new Date(Math.floor(Date.now() / 1000) * 1000);
  startDetached(kubelet, binary, args);
  const deadline = Date.now() + 90_000;
  let restarts = 0;
  while (!((await kubeletHealthy()) && (await options.nodeReady(since)))) {
    if (runningPid(kubelet) === undefined) {
      // containerd answers ctr before its CRI service has initialized, and a kubelet started in between exits.
      if (restarts++ < 5 && readFileSync(join(runDir, 'kubelet.log'), 'utf8').includes('server is not initialized yet')) {
        await sleep(1000);
        startDetached(kubelet, binary, args);
        continue;
      }
      throw new Error(`the kubelet exited; see ${join(runDir, 'kubelet.log')}`);
    }
    if (Date.now() > deadline) throw new Error(`node ${NODE_NAME} did not become Ready; see ${join(runDir, 'kubelet.log')}`);
    await sleep(250);
  }
  startDetached(kubeProxy, ensureBinary('kube-proxy', options.log), writeKubeProxyConfig(options.pki, options.kubeconfigOf));
  startDetached(coredns, ensureBinary('coredns', options.log), writeCorefile());
  const services: [Managed, () => Promise<boolean>, string][] = [
    [kubeProxy, kubeProxyHealthy, 'did not sync its rules'],
    [coredns, () => httpOk(`http://${COREDNS_READY}/ready`), `did not serve ${CLUSTER_DOMAIN}`],
  ];
  for (const [m, ready, failure] of services) {
    while (!(await ready())) {
      if (runningPid(m) === undefined) throw new Error(`${m.name} exited; see ${join(runDir, `${m.name}.log`)}`);
      if (Date.now() > deadline) throw new Error(`${m.name} ${failure}; see ${join(runDir, `${m.name}.log`)}`);
      await sleep(100);
    }
  }
  options.log(`node ${NODE_NAME} Ready in ${((Date.now() - started) / 1000).toFixed(1)} s (pods on ${POD_CIDR})`);
  for (const warning of serviceRoutingWarnings()) options.log(`warning: ${warning}`);
}

async function kubeletHealthy(): Promise<boolean> {
  try {
    return (await fetch('http://127.0.0.1:10248/healthz', { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/**
 * Stops the node and removes what it made: containers and sandboxes (through
 * containerd, so the processes in them end too), mounts, network namespaces,
 * and the iptables chains of the kubelet and kube-proxy. Safe on any leftover.
 * The bridge stays (the API server may listen on it): removeNodeNetwork.
 */
export async function downNode(): Promise<void> {
  // Only a node of this state folder: another checkout's control plane must never touch it.
  if (!existsSync(nodeDir)) return;
  await stopManaged(coredns, 5_000);
  await stopManaged(kubeProxy, 5_000);
  await stopManaged(kubelet, 10_000);
  if (existsSync(join(containerdDir, 'config.toml'))) {
    if (runningPid(containerd) === undefined) {
      startDetached(containerd, 'containerd', ['--config', join(containerdDir, 'config.toml')]);
      await waitForSocket(containerdSocket, containerd).catch(() => {});
    }
    removeAllContainers();
  }
  await stopManaged(containerd, 10_000);
  for (const pid of processesMentioning(nodeDir)) await stopProcess(pid, 5_000);
  unmountUnder(nodeDir);
  unmountUnder(containerdRoot);
  removePodNetworkNamespaces();
  removeKubeChains();
  // Everything but the folder itself, which marks the bridge as ours until removeNodeNetwork.
  for (const entry of readdirSync(nodeDir)) rmSync(join(nodeDir, entry), { recursive: true, force: true });
}

function removeAllContainers(): void {
  const list = (what: string) => {
    try {
      return ctr(what, 'ls', '-q').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  // Best effort, one object at a time: whatever is already gone must not stop the rest.
  const attempt = (...args: string[]) => {
    try {
      ctr(...args);
    } catch {
      // gone already, or it goes with its container
    }
  };
  for (const task of list('tasks')) attempt('tasks', 'kill', '-s', 'SIGKILL', task);
  for (const task of list('tasks')) attempt('tasks', 'delete', '-f', task);
  for (const container of list('containers')) attempt('containers', 'delete', container);
}

/** Mount points below `dir`, deepest first, from /proc/self/mountinfo. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) spawnSync('umount', ['-l', point]);
}

/** containerd names the pod network namespaces it creates cni-<uuid> under /run/netns. */
function removePodNetworkNamespaces(): void {
  if (!existsSync('/run/netns')) return;
  for (const name of readdirSync('/run/netns').filter((n) => n.startsWith('cni-'))) {
    spawnSync('ip', ['netns', 'delete', name]);
  }
}

/**
 * The kubelet and kube-proxy add KUBE-* chains (the kubelet's KUBE-FIREWALL
 * drops traffic to 127.0.0.0/8 from other sources; kube-proxy's map Service
 * IPs); remove the jumps to them, then the chains.
 */
function removeKubeChains(): void {
  for (const iptables of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = spawnSync(iptables, ['-t', table, '-S'], { encoding: 'utf8' }).stdout ?? '';
      for (const rule of rules.split('\n').filter((r) => /^-A (?!KUBE-)\S+ .* -j KUBE-/.test(r))) {
        // Rules carry quoted comments; the shell splits them as iptables printed them.
        spawnSync('sh', ['-c', `${iptables} -t ${table} ${rule.replace(/^-A /, '-D ')}`]);
      }
      const chains = rules.split('\n').filter((r) => r.startsWith('-N KUBE-')).map((r) => r.slice(3));
      for (const chain of chains) spawnSync(iptables, ['-t', table, '-F', chain]);
      for (const chain of chains) spawnSync(iptables, ['-t', table, '-X', chain]);
    }
  }
}
