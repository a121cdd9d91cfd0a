import { describe, expect, it } from 'vitest';
import type { NodeObject } from '../../src/api/builtin.ts';
import { isLeasable } from '../../src/leasing/lease.ts';
import { nodeLost, nodeReadiness, podNodeLost } from '../../src/leasing/nodes.ts';

const node = (name: string, ready?: string, reason?: string): NodeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, resourceVersion: '7', uid: 'u', labels: { 'kubernetes.io/hostname': name } },
  status: {
    conditions: [
      { type: 'MemoryPressure', status: 'False' },
      ...(ready ? [{ type: 'Ready', status: ready, ...(reason ? { reason } : {}) }] : []),
    ],
  },
});
const nodes = new Map([['up', node('up', 'True')], ['down', node('down', 'Unknown', 'NodeStatusUnknown')], ['sick', node('sick', 'False')]]);
const nodeOf = (name: string) => nodes.get(name);

describe('nodes that take their browsers with them', () => {
  it('keeps only the name, resourceVersion and Ready condition of a Node in the caches', () => {
    const big = { ...node('down', 'Unknown', 'NodeStatusUnknown'), status: { ...node('down', 'Unknown').status, images: [{ names: ['x'] }] } };
    expect(nodeReadiness(big as NodeObject)).toEqual({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'down', resourceVersion: '7' },
      status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
    });
    expect(nodeReadiness(node('new'))).toMatchObject({ status: { conditions: [] } });
  });

  it('calls a node lost when its Ready condition is False or Unknown, and only then', () => {
    expect(nodeLost(nodes.get('down'))).toBe('node down is NotReady (Ready=Unknown, NodeStatusUnknown)');
    expect(nodeLost(nodes.get('sick'))).toBe('node sick is NotReady (Ready=False)');
    expect(nodeLost(nodes.get('up'))).toBeUndefined();
    // Not reported yet, or not known (deleted: the pod garbage collector's business).
    expect(nodeLost(node('new'))).toBeUndefined();
    expect(nodeLost(undefined)).toBeUndefined();
  });

  it('finds a pod\'s node by spec.nodeName; an unscheduled pod is on no lost node', () => {
    expect(podNodeLost({ spec: { nodeName: 'down' } }, nodeOf)).toMatch(/^node down is NotReady/);
    expect(podNodeLost({ spec: { nodeName: 'up' } }, nodeOf)).toBeUndefined();
    expect(podNodeLost({ spec: {} }, nodeOf)).toBeUndefined();
  });

  it('never offers an idle, Ready browser of a lost node for leasing', () => {
    const pod = (nodeName: string) => ({
      metadata: { name: 'p', labels: { 'fleetwright.dev/state': 'idle' } },
      spec: { nodeName },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(isLeasable(pod('up'), nodeOf)).toBe(true);
    expect(isLeasable(pod('down'), nodeOf)).toBe(false);
    expect(isLeasable(pod('sick'), nodeOf)).toBe(false);
  });
});
