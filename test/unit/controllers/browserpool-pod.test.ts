import { describe, expect, it } from 'vitest';
import { BrowserPoolSpec } from '../../../src/api/v1alpha1/index.ts';
import { browserPod } from '../../../src/controllers/browserpool/pod.ts';

const pool = { namespace: 'ci', name: 'chromium', uid: 'uid-1' };

describe('browserPod', () => {
  const spec = BrowserPoolSpec.parse({
    sessionsPerBrowser: 2,
    launch: { args: ['--lang=de'], env: [{ name: 'TZ', value: 'Europe/Berlin' }] },
    template: { labels: { team: 'qa' }, resources: { requests: { cpu: '250m', memory: 536870912 } } },
  });
  const pod = browserPod(pool, spec, 'localhost/fleetwright/fleetwright:dev', '/pw-0123');
  const agent = pod.spec?.containers[0];

  it('is owned by its pool, labelled starting, and names its endpoint path', () => {
    expect(pod.metadata).toMatchObject({
      generateName: 'chromium-',
      namespace: 'ci',
      labels: { 'team': 'qa', 'fleetwright.dev/pool': 'chromium', 'fleetwright.dev/state': 'starting' },
      annotations: { 'fleetwright.dev/ws-path': '/pw-0123' },
    });
    expect(pod.metadata?.ownerReferences).toEqual([
      { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', name: 'chromium', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
  });

  it('runs the agent under the restricted Pod Security Standard with no API access', () => {
    expect(agent?.args).toEqual(['agent']);
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(agent?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
  });

  it('shares its process namespace, so that the pause process reaps the browsers\' orphans and not the agent', () => {
    expect(pod.spec?.shareProcessNamespace).toBe(true);
  });

  it('passes the pool\'s browser settings to the agent and probes its health port', () => {
    const env = Object.fromEntries(
      (agent?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(env).toMatchObject({
      POD_IP: 'status.podIP',
      FLEETWRIGHT_BROWSER: 'chromium',
      FLEETWRIGHT_WS_PATH: '/pw-0123',
      FLEETWRIGHT_SESSIONS: '2',
      FLEETWRIGHT_LAUNCH_ARGS: '["--lang=de"]',
      TZ: 'Europe/Berlin',
    });
    expect(agent?.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 3001 });
    expect(agent?.resources).toEqual({ requests: { cpu: '250m', memory: '536870912' }, limits: undefined });
  });

  it('uses spec.image over the operator\'s image', () => {
    const custom = browserPod(pool, BrowserPoolSpec.parse({ image: 'registry.example/browsers:1' }), 'default', '/p');
    expect(custom.spec?.containers[0]?.image).toBe('registry.example/browsers:1');
  });
});

describe('browserPod topology spread', () => {
  const spread = (template?: Record<string, unknown>) =>
    browserPod(pool, BrowserPoolSpec.parse({ template }), 'img', '/pw-1').spec?.topologySpreadConstraints;

  it('spreads a pool\'s browsers over nodes by default, as a preference that never leaves a pod Pending', () => {
    expect(spread()).toEqual([{
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: { 'fleetwright.dev/pool': 'chromium' } },
    }]);
  });

  it('uses the template\'s constraints as given instead, and none when it gives an empty list', () => {
    const zones = [{ maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }];
    expect(spread({ topologySpreadConstraints: zones })).toEqual(zones);
    expect(spread({ topologySpreadConstraints: [] })).toEqual([]);
  });
});
