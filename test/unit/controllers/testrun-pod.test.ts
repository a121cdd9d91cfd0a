// A runner pod runs the user's suite, so it gets no way to the API server and no root.
import { describe, expect, it } from 'vitest';
import { TestRunSpec } from '../../../src/api/v1alpha1/index.ts';
import { npmrcSecretProblem, runnerPod } from '../../../src/controllers/testrun/pod.ts';

const owner = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'TestRun', name: 'checkout', uid: 'uid-1', controller: true, blockOwnerDeletion: true };

interface Spec {
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  hostNetwork?: boolean;
  securityContext: Record<string, unknown>;
  volumes?: { name: string; projected?: unknown }[];
  containers: { securityContext: Record<string, unknown> }[];
}

const specOf = (spec: Record<string, unknown>) =>
  runnerPod({
    run: { namespace: 'team-a', name: 'checkout', owner },
    spec: TestRunSpec.parse({ poolRef: { name: 'chromium' }, source: { configMap: { name: 'suite' } }, shards: 2, ...spec }),
    image: 'fleetwright:dev',
    index: 1,
    attempt: 1,
    endpoint: 'ws://10.244.0.9:3000/pw',
    deadlineSeconds: 600,
  }).spec as Spec;

describe('runnerPod', () => {
  // The user's command and image among them: nothing in spec.runner reaches the security context.
  const variants = { 'the default runner': {}, 'a user command in a user image': { runner: { image: 'suite:1', command: ['sh'] } } };

  for (const [what, spec] of Object.entries(variants)) {
    it(`gets no API token for ${what}: the namespace's default account, with its token not mounted`, () => {
      const pod = specOf(spec);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.serviceAccountName).toBeUndefined();
      expect(pod.volumes?.filter((v) => v.projected)).toEqual([]);
    });

    it(`runs ${what} as a non-root user under the restricted standard`, () => {
      const pod = specOf(spec);
      expect(pod.hostNetwork).toBeUndefined();
      expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers).toHaveLength(1);
      expect(pod.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    });
  }
});

describe('a runner pod of a run with spec.dependencies.npmrcSecretRef', () => {
  type Full = Spec & {
    volumes: { name: string; secret?: unknown }[];
    containers: { env: { name: string; value: string }[]; volumeMounts?: unknown[] }[];
  };
  const pod = specOf({ dependencies: { npmrcSecretRef: { name: 'registry' } } }) as Full;

  it('mounts the Secret\'s .npmrc read-only, for the runner\'s group only, as npm\'s user config', () => {
    expect(pod.volumes).toContainEqual({
      name: 'npmrc',
      secret: { secretName: 'registry', items: [{ key: '.npmrc', path: '.npmrc' }], defaultMode: 0o440 },
    });
    expect(pod.containers[0]?.volumeMounts).toContainEqual({ name: 'npmrc', mountPath: '/var/run/fleetwright/npmrc', readOnly: true });
    expect(pod.containers[0]?.env).toContainEqual({ name: 'NPM_CONFIG_USERCONFIG', value: '/var/run/fleetwright/npmrc/.npmrc' });
    expect(pod.securityContext.fsGroup).toBe(10001);
  });
});

describe('npmrcSecretProblem', () => {
  const ref = { name: 'registry', key: '.npmrc' };

  it('names a missing Secret or key and the fix, and nothing when the key is there', () => {
    expect(npmrcSecretProblem(ref, 'team-a', undefined)).toBe('Secret registry does not exist in namespace team-a: create it ' +
      '(kubectl create secret generic registry --from-file=.npmrc=<your .npmrc>) or fix spec.dependencies.npmrcSecretRef');
    expect(npmrcSecretProblem(ref, 'team-a', { data: { token: 'eA==' } })).toMatch(/^Secret registry has no key .npmrc in namespace team-a/);
    expect(npmrcSecretProblem(ref, 'team-a', { data: { '.npmrc': 'eA==' } })).toBeUndefined();
  });
});
