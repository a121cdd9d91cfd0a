// The local cluster's network on the host. The first node's bridge fw0
// carries its pods and the node's address, where the API server, CoreDNS and
// the tests' servers listen. A second node (`up --nodes=2`) is a network
// namespace joined to the host by a veth pair, with its own bridge and pod
// range inside; the host routes that range through the pair. Forwarding is on,
// guarded: packets are forwarded from a node's pods only to another node's
// pods (or back onto their bridge), never off the machine, and no masquerading.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIRST_NODE, type NodeLayout, SECOND_NODE_LINK, SERVICE_CIDR } from './node-layout.ts';
import { stateDir } from './paths.ts';

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A command in `layout`'s network namespace (or the host's): `nsenter --net`, which keeps /sys and cgroups in view. */
export function inNodeNetwork(layout: NodeLayout, command: string, args: string[]): [string, string[]] {
  return layout.netns ? ['nsenter', [`--net=/run/netns/${layout.netns}`, '--', command, ...args]] : [command, args];
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';
/** The host's ip_forward before `up` turned it on, for `down` to put back. */
const ipForwardBefore = join(stateDir, 'ip-forward-before');

type Rule = string[];
const guard = (comment: string, ...match: string[]): Rule => [...match, '-m', 'comment', '--comment', `fleetwright: ${comment}`];

/** Forwarded packets may only go from the first node's bridge back onto it: pods reach nothing off it, nor it them. */
const FIRST_NODE_GUARDS: Rule[] = [
  [...guard('pods reach nothing off the bridge', '-i', FIRST_NODE.bridge, '!', '-o', FIRST_NODE.bridge), '-j', 'DROP'],
  [...guard('nothing off the host reaches pods', '!', '-i', FIRST_NODE.bridge, '-o', FIRST_NODE.bridge), '-j', 'DROP'],
];

/** Between the nodes, pod to pod only; and nothing else through the second node's link. Before the first node's. */
function secondNodeGuards(second: NodeLayout): Rule[] {
  const link = SECOND_NODE_LINK.hostIf;
  return [
    [...guard('pods to the second node\'s pods', '-i', FIRST_NODE.bridge, '-o', link, '-s', FIRST_NODE.podCidr, '-d', second.podCidr), '-j', 'ACCEPT'],
    [...guard('the second node\'s pods to pods', '-i', link, '-o', FIRST_NODE.bridge, '-s', second.podCidr, '-d', FIRST_NODE.podCidr), '-j', 'ACCEPT'],
    [...guard('the second node reaches nothing else', '-i', link), '-j', 'DROP'],
    [...guard('nothing else reaches the second node', '-o', link), '-j', 'DROP'],
  ];
}

/** Inserts `rules` at the top of the mangle table's FORWARD chain, in order, each unless it is there. */
function insertGuards(rules: Rule[]): void {
  for (const rule of [...rules].reverse()) {
    if (spawnSync('iptables', ['-t', 'mangle', '-C', 'FORWARD', ...rule]).status !== 0) {
      run('iptables', ['-t', 'mangle', '-I', 'FORWARD', '1', ...rule]);
    }
  }
}

function removeGuards(rules: Rule[]): void {
  for (const rule of rules) {
    while (spawnSync('iptables', ['-t', 'mangle', '-C', 'FORWARD', ...rule]).status === 0) {
      run('iptables', ['-t', 'mangle', '-D', 'FORWARD', ...rule]);
    }
  }
}

/**
 * The bridge with the node's address, and the host's route to Service IPs
 * through it. It comes before the control plane, whose API server listens on
 * the bridge address so that pods reach it, and goes only with `down`
 * (removeNodeNetwork). The route sends whatever kube-proxy does not map onto a
 * pod or the API server to the bridge, never to the host's default route.
 */
export function ensureNodeNetwork(): void {
  const { bridge, ip, dir } = FIRST_NODE;
  // The node's state folder marks the bridge as this checkout's, for down to remove.
  mkdirSync(dir, { recursive: true });
  if (spawnSync('ip', ['link', 'show', bridge]).status !== 0) run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  const addresses = run('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
  if (!addresses.includes(`${ip}/24`)) run('ip', ['addr', 'add', `${ip}/24`, 'dev', bridge]);
  run('ip', ['link', 'set', bridge, 'up']);
  run('ip', ['route', 'replace', SERVICE_CIDR, 'dev', bridge, 'src', ip]);
  forwardGuarded();
}

/** Deletes the bridge (and the route through it); after the control plane has stopped listening on it. */
export function removeNodeNetwork(): void {
  if (spawnSync('ip', ['link', 'show', FIRST_NODE.bridge]).status === 0) run('ip', ['link', 'delete', FIRST_NODE.bridge]);
  removeGuards(FIRST_NODE_GUARDS);
  if (existsSync(ipForwardBefore)) {
    writeFileSync(IP_FORWARD, readFileSync(ipForwardBefore, 'utf8'));
    rmSync(ipForwardBefore);
  }
}

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
function forwardGuarded(): void {
  insertGuards(FIRST_NODE_GUARDS);
  const current = readFileSync(IP_FORWARD, 'utf8').trim();
  if (current !== '1') {
    if (!existsSync(ipForwardBefore)) writeFileSync(ipForwardBefore, current);
    writeFileSync(IP_FORWARD, '1');
  }
  spawnSync('modprobe', ['br_netfilter']);
  if (existsSync(BRIDGE_NF) && readFileSync(BRIDGE_NF, 'utf8').trim() !== '1') {
    try {
      writeFileSync(BRIDGE_NF, '1');
    } catch {
      // serviceRoutingWarnings says so.
    }
  }
}

const netnsExists = (name: string) => existsSync(`/run/netns/${name}`);

/**
 * The second node's network namespace: the veth pair to the host (the node's
 * address inside, SECOND_NODE_LINK.hostIp outside), its bridge with the pods'
 * gateway address, routes to the first node's pods and the host's bridge
 * address through the pair, and the host's route to its pods. Forwarding and
 * br_netfilter are per namespace: on inside it, for its pods' Services.
 * Idempotent.
 */
export function ensureSecondNodeNetwork(layout: NodeLayout): void {
  const ns = layout.netns;
  if (!ns) throw new Error(`${layout.name} has no network namespace of its own`);
  const { hostIf, hostIp, nodeIf, prefix } = SECOND_NODE_LINK;
  const inside = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  // The node's state folder marks the namespace as this checkout's, for down to remove.
  mkdirSync(layout.dir, { recursive: true });
  if (!netnsExists(ns)) run('ip', ['netns', 'add', ns]);
  if (spawnSync('ip', ['link', 'show', hostIf]).status !== 0) {
    run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nodeIf, 'netns', ns]);
  }
  if (!run('ip', ['-4', '-o', 'addr', 'show', 'dev', hostIf]).includes(`${hostIp}/`)) {
    run('ip', ['addr', 'add', `${hostIp}/${prefix}`, 'dev', hostIf]);
  }
  run('ip', ['link', 'set', hostIf, 'up']);
  inside('link', 'set', 'lo', 'up');
  if (!inside('-4', '-o', 'addr', 'show', 'dev', nodeIf).includes(`${layout.ip}/`)) {
    inside('addr', 'add', `${layout.ip}/${prefix}`, 'dev', nodeIf);
  }
  inside('link', 'set', nodeIf, 'up');
  if (spawnSync('ip', ['-n', ns, 'link', 'show', layout.bridge]).status !== 0) inside('link', 'add', layout.bridge, 'type', 'bridge');
  if (!inside('-4', '-o', 'addr', 'show', 'dev', layout.bridge).includes(`${layout.bridgeIp}/`)) {
    inside('addr', 'add', `${layout.bridgeIp}/24`, 'dev', layout.bridge);
  }
  inside('link', 'set', layout.bridge, 'up');
  inside('route', 'replace', FIRST_NODE.podCidr, 'via', hostIp);
  inside('route', 'replace', SERVICE_CIDR, 'dev', layout.bridge, 'src', layout.bridgeIp);
  // From the host the pods see the first node's address, to which they have a route, as for the first node's pods.
  run('ip', ['route', 'replace', layout.podCidr, 'via', layout.ip, 'dev', hostIf, 'src', FIRST_NODE.ip]);
  for (const sysctl of ['net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']) {
    const [command, args] = inNodeNetwork(layout, 'sysctl', ['-q', '-w', sysctl]);
    run(command, args);
  }
  insertGuards(secondNodeGuards(layout));
}

/** Deletes the second node's namespace (its links, bridge, routes and iptables rules go with it) and its guards. */
export function removeSecondNodeNetwork(layout: NodeLayout): void {
  removeGuards(secondNodeGuards(layout));
  if (spawnSync('ip', ['link', 'show', SECOND_NODE_LINK.hostIf]).status === 0) run('ip', ['link', 'delete', SECOND_NODE_LINK.hostIf]);
  if (layout.netns && netnsExists(layout.netns)) run('ip', ['netns', 'delete', layout.netns]);
}

/** What forwardGuarded could not set: pods then reach Services on the host (the API server), not other pods. */
export function serviceRoutingWarnings(): string[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return 'missing';
    }
  };
  const settings: [string, string][] = [
    [IP_FORWARD, 'IP forwarding (sysctl net.ipv4.ip_forward=1)'],
    [BRIDGE_NF, 'br_netfilter (modprobe br_netfilter; sysctl net.bridge.bridge-nf-call-iptables=1)'],
  ];
  return settings.filter(([path]) => read(path) !== '1')
    .map(([path, what]) => `${path} is ${read(path)}: pods reach Services backed by other pods only with ${what}`);
}
