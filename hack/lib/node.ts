// A real Kubernetes node on this machine: Debian's containerd, runc and CNI
// plugins, and a kubelet built from the pinned Go modules; the first node, or
// a second one in a network namespace of its own (node-layout.ts,
// node-network.ts). Pods get addresses on their node's bridge (10.244.0.0/24
// on the first, 10.244.1.0/24 on the second), reachable from the host; each
// pod has its own network namespace and localhost. kube-proxy maps Service IPs
// (10.0.0.0/24) onto pods and onto the API server on the first node's bridge
// address, and CoreDNS on that address answers for cluster.local (and nothing
// else). Pods get no route but to the pods of every node and to Service IPs,
// and no masquerading: they reach each other, the host and Services, and
// nothing outside.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinary, kubernetesVersion } from './binaries.ts';
import { CLUSTER_POD_CIDR, FIRST_NODE, type NodeLayout, SECOND_NODE, SERVICE_CIDR } from './node-layout.ts';
import { ensureNodeNetwork, ensureSecondNodeNetwork, inNodeNetwork, serviceRoutingWarnings } from './node-network.ts';
import { cacheDir, kubeconfigPath, stateDir } from './paths.ts';
import { issueCertificate, type Pki } from './pki.ts';
import { podman } from './podman.ts';
import { REGISTRY_ADDRESS, writeRegistryHosts } from './registry.ts';
import { type Managed, processesMentioning, runningPid, sleep, startDetached, stopManaged, stopProcess } from './processes.ts';

export { SERVICE_CIDR } from './node-layout.ts';
export const NODE_NAME = FIRST_NODE.name;
export const NODE_IP = FIRST_NODE.ip;
export const POD_CIDR = FIRST_NODE.podCidr;
export const PAUSE_IMAGE = 'localhost/fleetwright/pause:3.10.1';

export const nodeDir = FIRST_NODE.dir;
const runDir = join(stateDir, 'run');
const containerdDir = (layout: NodeLayout) => join(layout.dir, 'containerd');
const containerdSocket = (layout: NodeLayout) => join(containerdDir(layout), 'containerd.sock');
const cniDir = (layout: NodeLayout) => join(layout.dir, 'cni');
const kubeletDir = (layout: NodeLayout) => join(layout.dir, 'kubelet');
const kubeProxyDir = (layout: NodeLayout) => join(layout.dir, 'kube-proxy');

/** A node's daemons, by their pid files in the run folder. */
const daemon = (layout: NodeLayout, name: 'containerd' | 'kubelet' | 'kube-proxy'): Managed =>
  ({ name: `${name}${layout.suffix}`, runDir });
const coredns: Managed = { name: 'coredns', runDir };
const corednsDir = join(FIRST_NODE.dir, 'coredns');
const COREDNS_READY = '127.0.0.1:18181';
/** The cluster's DNS domain: <service>.<namespace>.svc.cluster.local. */
export const CLUSTER_DOMAIN = 'cluster.local';

type Log = (line: string) => void;

function run(command: string, args: string[], input?: Buffer | string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** ctr against a node's containerd (the first's unless told), in the namespace the CRI plugin uses. */
export function ctr(...args: string[]): string {
  return ctrOn(FIRST_NODE, ...args);
}

export function ctrOn(layout: NodeLayout, ...args: string[]): string {
  return run('ctr', ['--address', containerdSocket(layout), '--namespace', 'k8s.io', ...args]);
}

/** Starts one of a node's daemons in the node's network namespace. */
function startOnNode(layout: NodeLayout, m: Managed, binary: string, args: string[]): void {
  const [command, commandArgs] = inNodeNetwork(layout, binary, args);
  startDetached(m, command, commandArgs);
}

export function nodeRunning(layout: NodeLayout = FIRST_NODE): boolean {
  const daemons = [daemon(layout, 'containerd'), daemon(layout, 'kubelet'), daemon(layout, 'kube-proxy')];
  return [...daemons, ...(layout === FIRST_NODE ? [coredns] : [])].every((m) => runningPid(m) !== undefined);
}

/** The nodes whose containerd runs now: images go into each. */
export const runningNodes = (): NodeLayout[] =>
  [FIRST_NODE, SECOND_NODE].filter((layout) => runningPid(daemon(layout, 'containerd')) !== undefined);

function writeContainerdConfig(layout: NodeLayout): string {
  mkdirSync(containerdDir(layout), { recursive: true });
  const certs = join(containerdDir(layout), 'certs.d');
  writeRegistryHosts(certs);
  const config = join(containerdDir(layout), 'config.toml');
  writeFileSync(
    config,
    `version = 2
root = "${layout.containerdRoot}"
state = "${join(containerdDir(layout), 'state')}"

[grpc]
  address = "${containerdSocket(layout)}"

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
    conf_dir = "${join(cniDir(layout), 'net.d')}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    # A hosts.toml per registry: the local one over plain HTTP (registry.ts).
    config_path = "${certs}"
`,
  );
  return config;
}

function writeCniConfig(layout: NodeLayout): void {
  mkdirSync(join(cniDir(layout), 'net.d'), { recursive: true });
  const prefix = layout.podCidr.split('.').slice(0, 3).join('.');
  const conflist = {
    cniVersion: '1.0.0',
    name: 'fleetwright',
    plugins: [
      {
        type: 'bridge',
        bridge: layout.bridge,
        // Not a gateway: the plugin would turn on IP forwarding, and pods need no route off the cluster.
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: layout.podCidr, rangeStart: `${prefix}.10`, gateway: layout.bridgeIp }]],
          // Service IPs through the node, where kube-proxy's rules map them (the kubernetes Service onto
          // the API server on the first node's address); every node's pods through it too. No default route.
          routes: [{ dst: SERVICE_CIDR, gw: layout.bridgeIp }, { dst: CLUSTER_POD_CIDR, gw: layout.bridgeIp }],
          dataDir: join(cniDir(layout), 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  writeFileSync(join(cniDir(layout), 'net.d', '10-fleetwright.conflist'), JSON.stringify(conflist, null, 2));
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

const imagesOn = (layout: NodeLayout) => ctrOn(layout, 'images', 'ls', '-q').split('\n').filter(Boolean);

/** The sandbox image: pause.c from the pinned k8s.io/kubernetes module, static, FROM scratch. Built once. */
function ensurePauseImage(log: Log): void {
  if (imagesOn(FIRST_NODE).includes(PAUSE_IMAGE)) return;
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

/** Whether every running node's containerd has `tag`. */
export const inEveryNode = (tag: string) => runningNodes().every((layout) => imagesOn(layout).includes(tag));

/** Copies an image from podman's store into the containerd of every running node that lacks it. */
export function importImage(tag: string): void {
  // docker-archive (podman's default) keeps the full name, so ctr imports it as tagged.
  const archive = join(cacheDir, 'image-import.tar');
  podman('save', '-o', archive, tag);
  try {
    for (const layout of runningNodes()) if (!imagesOn(layout).includes(tag)) ctrOn(layout, 'images', 'import', archive);
  } finally {
    rmSync(archive, { force: true });
  }
}

/** Removes `tag` from every running node's containerd. */
export function removeImage(tag: string): void {
  for (const layout of runningNodes()) if (imagesOn(layout).includes(tag)) ctrOn(layout, 'images', 'rm', tag);
}

/**
 * `layout`'s containerd holds the first node's tagged images (not digests),
 * and no others: the same images on every node. Images of the local registry
 * are left to each node to pull: a node that pulled one may lack layers it
 * already had unpacked, so it could not export it. Its content stays cached
 * across `down`, so only what changed is copied.
 */
function mirrorFirstNodeImages(layout: NodeLayout, log: Log): void {
  const copied = (name: string) => !name.startsWith('sha256:') && !name.startsWith(`${REGISTRY_ADDRESS}/`);
  const wanted = imagesOn(FIRST_NODE).filter(copied);
  const present = imagesOn(layout).filter(copied);
  for (const name of present.filter((n) => !wanted.includes(n))) ctrOn(layout, 'images', 'rm', name);
  const missing = wanted.filter((name) => !present.includes(name));
  if (missing.length === 0) return;
  const started = Date.now();
  const archive = join(cacheDir, `images-${layout.name}.tar`);
  try {
    ctrOn(FIRST_NODE, 'images', 'export', archive, ...missing);
    ctrOn(layout, 'images', 'import', archive);
  } finally {
    rmSync(archive, { force: true });
  }
  log(`copied ${missing.length} image(s) into ${layout.name}'s containerd in ${Math.round((Date.now() - started) / 1000)} s`);
}

function writeKubeletConfig(layout: NodeLayout, pki: Pki, kubeconfigOf: KubeconfigOf): string[] {
  const dir = kubeletDir(layout);
  mkdirSync(dir, { recursive: true });
  const user = `system:node:${layout.name}`;
  const client = issueCertificate(pki, `kubelet-client${layout.suffix}`, `/O=system:nodes/CN=${user}`, 'clientAuth');
  const serving = issueCertificate(pki, `kubelet-serving${layout.suffix}`, `/CN=${layout.name}`, 'serverAuth', [`IP:${layout.ip}`]);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigOf(user, client), { mode: 0o600 });
  const [healthzHost, healthzPort] = layout.kubeletHealthz.split(':');
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // This machine: no systemd, cgroup v1, swap allowed, no node-allocatable enforcement.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    containerRuntimeEndpoint: `unix://${containerdSocket(layout)}`,
    address: layout.ip,
    readOnlyPort: 0,
    healthzBindAddress: healthzHost,
    healthzPort: Number(healthzPort),
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    authentication: { x509: { clientCAFile: pki.caCert }, webhook: { enabled: false }, anonymous: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    podLogsDir: join(layout.dir, 'pod-logs'),
    // Pods resolve Service names through CoreDNS on the first node's address, and nothing else: no host resolv.conf.
    resolvConf: '',
    clusterDNS: [FIRST_NODE.ip],
    clusterDomain: CLUSTER_DOMAIN,
    // Images are built here and can never be pulled again: never garbage-collect them,
    // and never evict for a disk that is merely fuller than a cluster default.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
  };
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return [
    `--config=${path}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${join(dir, 'root')}`,
    `--node-ip=${layout.ip}`,
    `--hostname-override=${layout.name}`,
  ];
}

/**
 * kube-proxy in iptables mode, as the node's system:kube-proxy user (bound to
 * system:node-proxier by the API server's bootstrap policy). It leaves the
 * host's sysctls alone: no conntrack table sizes or timeouts, and no
 * route_localnet (which NodePorts on 127.0.0.1 would need).
 */
function writeKubeProxyConfig(layout: NodeLayout, pki: Pki, kubeconfigOf: KubeconfigOf): string[] {
  const dir = kubeProxyDir(layout);
  mkdirSync(dir, { recursive: true });
  const client = issueCertificate(pki, 'kube-proxy-client', '/CN=system:kube-proxy', 'clientAuth');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigOf('system:kube-proxy', client), { mode: 0o600 });
  const keep = '0s';
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: layout.name,
    bindAddress: layout.ip,
    healthzBindAddress: layout.kubeProxyHealthz,
    // The second node's loopback is its own namespace's.
    metricsBindAddress: '127.0.0.1:10249',
    mode: 'iptables',
    clusterCIDR: layout.podCidr,
    nodePortAddresses: [`${layout.ip}/32`],
    iptables: { localhostNodePorts: false },
    conntrack: { maxPerCore: 0, tcpEstablishedTimeout: keep, tcpCloseWaitTimeout: keep },
  };
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return [`--config=${path}`];
}

/**
 * CoreDNS serving cluster.local (Services, and pods by address) on the first
 * node's address, where the kubelets point every pod's resolv.conf. Other
 * names get REFUSED at once: nothing is forwarded off this machine. It reads
 * Services and EndpointSlices with the admin kubeconfig, as
 * kube-controller-manager does.
 */
function writeCorefile(): string[] {
  mkdirSync(corednsDir, { recursive: true });
  const path = join(corednsDir, 'Corefile');
  writeFileSync(path, `${CLUSTER_DOMAIN}:53 in-addr.arpa:53 {
    bind ${FIRST_NODE.ip}
    ready ${COREDNS_READY}
    errors
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa {
        kubeconfig ${kubeconfigPath}
    }
}
`);
  return ['-conf', path];
}

const httpOk = async (url: string) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
};

/** A kubeconfig (YAML/JSON text) for `user` with this client certificate. */
type KubeconfigOf = (user: string, cert: { cert: string; key: string }) => string;

export interface NodeOptions {
  pki: Pki;
  kubeconfigOf: KubeconfigOf;
  /** Whether the API server reports the Node Ready and schedulable, from a heartbeat after `since` if given. */
  nodeReady: (name: string, since?: Date) => Promise<boolean>;
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

const kubeletHealthy = (layout: NodeLayout) => httpOk(`http://${layout.kubeletHealthz}/healthz`);

/**
 * Starts a node from a clean slate, unless it already runs: the first (in the
 * host's network, with CoreDNS), or the second (in its own namespace, with
 * the first node's images copied in; the first must be up).
 */
export async function upNode(layout: NodeLayout, options: NodeOptions): Promise<void> {
  if (nodeRunning(layout) && (await kubeletHealthy(layout)) && (await options.nodeReady(layout.name))) return;
  await downNode(layout);
  const started = Date.now();
  ensureNetnsMount();
  if (layout.netns) ensureSecondNodeNetwork(layout);
  else ensureNodeNetwork();
  writeCniConfig(layout);
  const containerd = daemon(layout, 'containerd');
  startOnNode(layout, containerd, 'containerd', ['--config', writeContainerdConfig(layout)]);
  await waitForSocket(containerdSocket(layout), containerd);
  if (layout === FIRST_NODE) ensurePauseImage(options.log);
  else mirrorFirstNodeImages(layout, options.log);
  const kubelet = daemon(layout, 'kubelet');
  const args = writeKubeletConfig(layout, options.pki, options.kubeconfigOf);
  // Built first (once per pin; CoreDNS takes minutes cold): the deadlines below are for starting, not building.
  const binary = ensureBinary('kubelet', options.log);
  const kubeProxyBinary = ensureBinary('kube-proxy', options.log);
  const corednsBinary = layout === FIRST_NODE ? ensureBinary('coredns', options.log) : undefined;
  // Heartbeats have whole seconds; anything from this second on is from the new kubelet.
  const since = new Date(Math.floor(Date.now() / 1000) * 1000);
  startOnNode(layout, kubelet, binary, args);
  const deadline = Date.now() + 90_000;
  let restarts = 0;
  while (!((await kubeletHealthy(layout)) && (await options.nodeReady(layout.name, since)))) {
    if (runningPid(kubelet) === undefined) {
      // containerd answers ctr before its CRI service has initialized, and a kubelet started in between exits.
      if (restarts++ < 5 && readFileSync(join(runDir, `${kubelet.name}.log`), 'utf8').includes('server is not initialized yet')) {
        await sleep(1000);
        startOnNode(layout, kubelet, binary, args);
        continue;
      }
      throw new Error(`the kubelet of ${layout.name} exited; see ${join(runDir, `${kubelet.name}.log`)}`);
    }
    if (Date.now() > deadline) throw new Error(`node ${layout.name} did not become Ready; see ${join(runDir, `${kubelet.name}.log`)}`);
    await sleep(250);
  }
  const kubeProxy = daemon(layout, 'kube-proxy');
  startOnNode(layout, kubeProxy, kubeProxyBinary, writeKubeProxyConfig(layout, options.pki, options.kubeconfigOf));
  const services: [Managed, () => Promise<boolean>, string][] = [
    [kubeProxy, () => httpOk(`http://${layout.kubeProxyHealthz}/healthz`), 'did not sync its rules'],
  ];
  if (corednsBinary) {
    startDetached(coredns, corednsBinary, writeCorefile());
    services.push([coredns, () => httpOk(`http://${COREDNS_READY}/ready`), `did not serve ${CLUSTER_DOMAIN}`]);
  }
  for (const [m, ready, failure] of services) {
    while (!(await ready())) {
      if (runningPid(m) === undefined) throw new Error(`${m.name} exited; see ${join(runDir, `${m.name}.log`)}`);
      if (Date.now() > deadline) throw new Error(`${m.name} ${failure}; see ${join(runDir, `${m.name}.log`)}`);
      await sleep(100);
    }
  }
  options.log(`node ${layout.name} Ready in ${((Date.now() - started) / 1000).toFixed(1)} s (pods on ${layout.podCidr})`);
  if (layout === FIRST_NODE) for (const warning of serviceRoutingWarnings()) options.log(`warning: ${warning}`);
}

/**
 * Stops a node and removes what it made: containers and sandboxes (through
 * containerd, so the processes in them end too), mounts, its pods' network
 * namespaces, and, on the first node, the iptables chains of the kubelet and
 * kube-proxy (the second node's go with its namespace). Safe on any leftover.
 * The network stays: removeNodeNetwork, removeSecondNodeNetwork.
 */
export async function downNode(layout: NodeLayout = FIRST_NODE): Promise<void> {
  // Only a node of this state folder: another checkout's control plane must never touch it.
  if (!existsSync(layout.dir)) return;
  if (layout === FIRST_NODE) await stopManaged(coredns, 5_000);
  await stopManaged(daemon(layout, 'kube-proxy'), 5_000);
  await stopManaged(daemon(layout, 'kubelet'), 10_000);
  const containerd = daemon(layout, 'containerd');
  const config = join(containerdDir(layout), 'config.toml');
  if (existsSync(config) && (!layout.netns || existsSync(`/run/netns/${layout.netns}`))) {
    if (runningPid(containerd) === undefined) {
      startOnNode(layout, containerd, 'containerd', ['--config', config]);
      await waitForSocket(containerdSocket(layout), containerd).catch(() => {});
    }
    removeAllContainers(layout);
  }
  await stopManaged(containerd, 10_000);
  for (const pid of processesMentioning(layout.dir)) await stopProcess(pid, 5_000);
  unmountUnder(layout.dir);
  unmountUnder(layout.containerdRoot);
  removePodNetworkNamespaces(layout);
  if (layout === FIRST_NODE) removeKubeChains();
  // Everything but the folder itself, which marks the network as this checkout's until it is removed.
  for (const entry of readdirSync(layout.dir)) rmSync(join(layout.dir, entry), { recursive: true, force: true });
}

/**
 * Kills a node as a crash or power loss would: SIGKILL to its kubelet,
 * kube-proxy and containerd, and to every container process (the containerd
 * shims name the node's socket; the containers are their descendants). Its
 * network and state stay, as a machine's disk does: upNode brings it back
 * from them, and downNode removes them.
 */
export function crashNode(layout: NodeLayout): void {
  const shims = processesMentioning(layout.dir);
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const victims = new Set(shims);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (victims.has(parent) && !victims.has(pid)) {
        victims.add(pid);
        grew = true;
      }
    }
  }
  for (const name of ['kubelet', 'kube-proxy', 'containerd'] as const) {
    const pid = runningPid(daemon(layout, name));
    if (pid !== undefined) victims.add(pid);
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

function removeAllContainers(layout: NodeLayout): void {
  const list = (what: string) => {
    try {
      return ctrOn(layout, what, 'ls', '-q').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  // Best effort, one object at a time: whatever is already gone must not stop the rest.
  const attempt = (...args: string[]) => {
    try {
      ctrOn(layout, ...args);
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

/**
 * containerd names the pod network namespaces it creates cni-<uuid> under
 * /run/netns, for the pods of both nodes: a node's are those with an address
 * in its pod range; the first node also takes those left with none.
 */
function removePodNetworkNamespaces(layout: NodeLayout): void {
  if (!existsSync('/run/netns')) return;
  const prefix = `inet ${layout.podCidr.split('.').slice(0, 3).join('.')}.`;
  for (const name of readdirSync('/run/netns').filter((n) => n.startsWith('cni-'))) {
    const addresses = spawnSync('ip', ['-n', name, '-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
    const ours = addresses.includes(prefix) || (layout === FIRST_NODE && !addresses.includes('inet 10.'));
    if (ours) spawnSync('ip', ['netns', 'delete', name]);
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
