// Where each node of the local cluster lives: its name and address, its pod
// range and bridge, its state folders and the addresses its daemons answer
// health checks on. The first node is the host's own network; the second
// (`up --nodes=2`) runs in a network namespace of its own joined to the host
// by a veth pair (node-network.ts), so that its kubelet, kube-proxy and
// iptables rules never meet the first node's.
import { join } from 'node:path';
import { cacheDir, stateDir } from './paths.ts';

export interface NodeLayout {
  name: string;
  /** The Node's InternalIP: where the API server reaches its kubelet. */
  ip: string;
  /** The bridge its pods are on, and the bridge's address: the pods' gateway to the host and other nodes. */
  bridge: string;
  bridgeIp: string;
  podCidr: string;
  /** Its state: configs, sockets, kubelet root, pod logs, CNI data; removed by `down`. */
  dir: string;
  /** containerd's content and snapshots; they survive `down`: images built here, and pulled from the local registry. */
  containerdRoot: string;
  /** The network namespace it runs in (/run/netns/<netns>), unless it is the host's. */
  netns?: string;
  /** Its daemons' pid and log files are <daemon><suffix>.{pid,log} in the run folder. */
  suffix: string;
  kubeletHealthz: string;
  kubeProxyHealthz: string;
}

/** Service ClusterIPs (the API server's --service-cluster-ip-range); kube-proxy maps them onto pods. */
export const SERVICE_CIDR = '10.0.0.0/24';
/** Every node's pod range is inside it: pods route it to their bridge's address. */
export const CLUSTER_POD_CIDR = '10.244.0.0/16';

export const FIRST_NODE: NodeLayout = {
  name: 'fw-node',
  ip: '10.244.0.1',
  bridge: 'fw0',
  bridgeIp: '10.244.0.1',
  podCidr: '10.244.0.0/24',
  dir: join(stateDir, 'node'),
  containerdRoot: join(cacheDir, 'containerd'),
  suffix: '',
  kubeletHealthz: '127.0.0.1:10248',
  kubeProxyHealthz: '127.0.0.1:10256',
};

/** The host's end and the namespace's end of the veth pair that joins the second node to the host. */
export const SECOND_NODE_LINK = { hostIf: 'fw2-host', hostIp: '10.245.0.1', nodeIf: 'fw2-node', prefix: 30 };

export const SECOND_NODE: NodeLayout = {
  name: 'fw-node2',
  ip: '10.245.0.2',
  bridge: 'fw1',
  bridgeIp: '10.244.1.1',
  podCidr: '10.244.1.0/24',
  // Not below the first node's folder, nor a name that starts with it: each node's processes are found by it.
  dir: join(stateDir, 'second-node'),
  containerdRoot: join(cacheDir, 'containerd-node2'),
  netns: 'fw-node2',
  suffix: '-node2',
  // Its own loopback is out of the host's reach: the daemons answer on the node's address.
  kubeletHealthz: '10.245.0.2:10248',
  kubeProxyHealthz: '10.245.0.2:10256',
};

export const NODES = [FIRST_NODE, SECOND_NODE];
