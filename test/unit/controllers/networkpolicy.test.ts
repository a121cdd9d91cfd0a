import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { parseControllerArgs } from '../../../src/controllers/config.ts';
import { ensurePolicy, policyMatches, poolPolicy, runPolicy } from '../../../src/controllers/networkpolicy.ts';
import type { RestClient } from '../../../src/runtime/rest.ts';
import type { Reader } from '../../../src/runtime/store.ts';

const config = {
  namespace: 'fleetwright-system',
  gatewayPodLabels: { 'app.kubernetes.io/instance': 'fw', 'app.kubernetes.io/component': 'gateway' },
  controllerPodLabels: { 'app.kubernetes.io/instance': 'fw', 'app.kubernetes.io/component': 'controller' },
};
const owner = (kind: string, name: string) => ({
  namespace: 'ci',
  name,
  owner: { apiVersion: 'fleetwright.dev/v1alpha1', kind, name, uid: `uid-${name}`, controller: true, blockOwnerDeletion: true },
});

describe('NetworkPolicies of browser pods', () => {
  it('lets the gateway reach a pool\'s browsers on 3000 and the controller on 3001, from the release namespace', () => {
    const policy = poolPolicy(owner('BrowserPool', 'chromium'), config);
    const inRelease = { matchLabels: { 'kubernetes.io/metadata.name': 'fleetwright-system' } };
    expect(policy.metadata).toMatchObject({
      name: 'fleetwright-pool-chromium',
      namespace: 'ci',
      ownerReferences: [{ kind: 'BrowserPool', name: 'chromium', uid: 'uid-chromium', controller: true }],
    });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'fleetwright.dev/pool': 'chromium' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: inRelease, podSelector: { matchLabels: config.gatewayPodLabels } }],
          ports: [{ protocol: 'TCP', port: 3000 }],
        },
        {
          from: [{ namespaceSelector: inRelease, podSelector: { matchLabels: config.controllerPodLabels } }],
          ports: [{ protocol: 'TCP', port: 3001 }],
        },
      ],
    });
  });

  it('lets only a run\'s own runners reach the browsers leased to it, on 3000', () => {
    const policy = runPolicy(owner('TestRun', 'checkout'));
    expect(policy.metadata).toMatchObject({ name: 'fleetwright-run-checkout', namespace: 'ci' });
    expect(policy.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'TestRun', uid: 'uid-checkout' });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'fleetwright.dev/leased-to': 'checkout' } },
      policyTypes: ['Ingress'],
      ingress: [{
        from: [{ podSelector: { matchLabels: { 'fleetwright.dev/testrun': 'checkout' } } }],
        ports: [{ protocol: 'TCP', port: 3000 }],
      }],
    });
  });

  it('writes a policy only when the stored one is missing or differs', async () => {
    const desired = runPolicy(owner('TestRun', 'checkout'));
    const applied: KubeObject[] = [];
    const apply = (_p: string, body: KubeObject) => (applied.push(body), Promise.resolve(body));
    const rest = { apply } as unknown as RestClient;
    const cacheOf = (stored?: KubeObject) => ({ get: () => stored }) as unknown as Reader;
    const stored: KubeObject = { ...desired, metadata: { ...desired.metadata, resourceVersion: '5', uid: 'u' } };
    expect(await ensurePolicy(rest, cacheOf(stored), desired)).toBe(false);
    expect(applied).toHaveLength(0);
    expect(await ensurePolicy(rest, cacheOf(undefined), desired)).toBe(true);
    const edited = { ...stored, spec: { ...(stored.spec as object), ingress: [] } };
    expect(policyMatches(edited, desired)).toBe(false);
    const otherOwner = runPolicy({ ...owner('TestRun', 'checkout'), owner: { ...owner('TestRun', 'x').owner, name: 'checkout' } });
    expect(policyMatches(stored, otherOwner)).toBe(false);
    expect(applied).toEqual([desired]);
  });

  it('is on only with --network-policy-namespace, and then needs both pod label flags', () => {
    expect(parseControllerArgs([]).networkPolicy).toBeUndefined();
    expect(parseControllerArgs([
      '--network-policy-namespace=fleetwright-system',
      '--gateway-pod-labels=app.kubernetes.io/instance=fw,app.kubernetes.io/component=gateway',
      '--controller-pod-labels=app.kubernetes.io/instance=fw,app.kubernetes.io/component=controller',
    ]).networkPolicy).toEqual(config);
    expect(() => parseControllerArgs(['--network-policy-namespace=x', '--gateway-pod-labels=a=b']))
      .toThrow(/--controller-pod-labels=: expected labels/);
    expect(() => parseControllerArgs(['--network-policy-namespace=x', '--gateway-pod-labels=a', '--controller-pod-labels=a=b']))
      .toThrow(/--gateway-pod-labels=a: expected labels/);
    expect(() => parseControllerArgs(['--gateway-pod-labels=a=b'])).toThrow(/need --network-policy-namespace/);
  });
});
