// Which browser pods a lost node took: a pod bound to a Node whose Ready
// condition is False or Unknown serves nobody, whatever its own status still
// says. The node lifecycle controller marks such pods not ready, and evicts
// them only after their tolerations of the unreachable and not-ready taints
// (300 s by default); pools and takers read the Node itself and act at once.
import type { NodeObject, PodObject } from '../api/builtin.ts';

/**
 * What the caches keep of a Node (client-go's transform function): its name,
 * resourceVersion and Ready condition. A Node's status carries images, addresses
 * and capacity, kilobytes each; none of it matters here.
 */
export function nodeReadiness(node: NodeObject): NodeObject {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: { name: node.metadata.name, resourceVersion: node.metadata.resourceVersion },
    status: {
      conditions: ready ? [{ type: 'Ready', status: ready.status, ...(ready.reason && { reason: ready.reason }) }] : [],
    },
  };
}

/**
 * Why a node is lost (its Ready condition is False or Unknown), or undefined
 * while it is Ready. A node not known, or one whose kubelet has not reported
 * yet, is not lost: the pod garbage collector handles pods of deleted nodes.
 */
export function nodeLost(node: NodeObject | undefined): string | undefined {
  const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
  if (!node || !ready || ready.status === 'True') return undefined;
  return `node ${node.metadata.name} is NotReady (Ready=${ready.status}${ready.reason ? `, ${ready.reason}` : ''})`;
}

/** Why the pod's node is lost, given a lookup of Nodes by name; undefined for a pod not bound or on a Ready node. */
export function podNodeLost(
  pod: Partial<PodObject>,
  nodeOf: (name: string) => NodeObject | undefined,
): string | undefined {
  const name = pod.spec?.nodeName;
  return name ? nodeLost(nodeOf(name)) : undefined;
}
