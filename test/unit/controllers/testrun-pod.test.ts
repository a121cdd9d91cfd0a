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
  containers: { securityContext: Record<string, unknown>; env: { name: string; value?: string }[] }[];
}

/** The runner pod of shard 1, attempt 1, of `spec` on a leased Chromium browser. */
const podOf = (spec: Record<string, unknown>, pinned?: { revision: string; commit: string }) =>
  runnerPod({
    run: { namespace: 'team-a', name: 'checkout', owner },
    spec: TestRunSpec.parse({ poolRef: { name: 'chromium' }, ...spec }),
    image: 'fleetwright:dev',
    index: 1,
    attempt: 1,
    endpoint: 'ws://10.244.0.9:3000/pw',
    browser: 'chromium',
    sessions: 1,
    deadlineSeconds: 600,
    ...(pinned ? { pinned } : {}),
  });

const specOf = (spec: Record<string, unknown>) =>
  podOf({ source: { configMap: { name: 'suite' } }, shards: 2, ...spec }).spec as Spec;

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

  it('tells the runner its pool\'s browser, so that it runs only the suite\'s projects of it', () => {
    expect(specOf({}).containers[0]?.env).toContainEqual({ name: 'FLEETWRIGHT_POOL_BROWSER', value: 'chromium' });
    expect(specOf({}).containers[0]?.env).toContainEqual({ name: 'FLEETWRIGHT_POOL_SESSIONS', value: '1' });
  });
});

interface Container {
  image: string;
  env: { name: string; value?: string }[];
  volumeMounts: unknown[];
}
interface GitPodSpec {
  initContainers: Container[];
  containers: Container[];
  volumes: unknown[];
  securityContext: Record<string, unknown>;
}

describe('runnerPod of a git source', () => {
  const commit = 'a'.repeat(40);
  const gitPod = (git: Record<string, unknown>, runner?: Record<string, unknown>) =>
    podOf({ source: { git }, ...(runner ? { runner } : {}) }, { revision: 'refs/heads/main', commit }).spec as GitPodSpec;

  it('fetches the pinned commit in an init container of the controller\'s image, even under a user\'s runner image', () => {
    const pod = gitPod({ url: 'https://git.example.com/e2e.git', revision: 'main', path: 'apps/e2e' }, { image: 'suite:1' });
    expect(pod.initContainers).toEqual([{
      name: 'fetch-source',
      image: 'fleetwright:dev',
      imagePullPolicy: 'IfNotPresent',
      args: ['fetch-source'],
      env: [
        { name: 'FLEETWRIGHT_GIT_URL', value: 'https://git.example.com/e2e.git' },
        { name: 'FLEETWRIGHT_GIT_COMMIT', value: commit },
        { name: 'FLEETWRIGHT_GIT_REVISION', value: 'main' },
        { name: 'FLEETWRIGHT_GIT_PATH', value: 'apps/e2e' },
      ],
      volumeMounts: [{ name: 'source', mountPath: '/var/run/fleetwright/source' }],
      terminationMessagePolicy: 'FallbackToLogsOnError',
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    }]);
    expect(pod.volumes).toEqual([{ name: 'source', emptyDir: {} }]);
    const runner = pod.containers[0];
    expect(runner?.image).toBe('suite:1');
    expect(runner?.volumeMounts).toEqual([{ name: 'source', mountPath: '/var/run/fleetwright/source', readOnly: true }]);
    expect(runner?.env).toContainEqual({ name: 'FLEETWRIGHT_SOURCE_DIR', value: '/var/run/fleetwright/source/tree/apps/e2e' });
  });

  it('mounts the credentials Secret for the init container alone, readable by the runner\'s group, never as an env value', () => {
    const pod = gitPod({ url: 'https://git.example.com/e2e.git', secretRef: { name: 'git' } });
    expect(pod.volumes).toContainEqual({ name: 'git-credentials', secret: { secretName: 'git', optional: true, defaultMode: 0o440 } });
    expect(pod.securityContext.fsGroup).toBe(10001);
    const init = pod.initContainers[0];
    expect(init?.volumeMounts).toContainEqual({ name: 'git-credentials', mountPath: '/var/run/fleetwright/git', readOnly: true });
    expect(init?.env).toContainEqual({ name: 'FLEETWRIGHT_GIT_SECRET', value: 'git' });
    expect(init?.env.find((e) => e.name === 'FLEETWRIGHT_GIT_REVISION')?.value).toBe('refs/heads/main');
    expect(pod.containers[0]?.volumeMounts).not.toContainEqual(expect.objectContaining({ name: 'git-credentials' }));
    expect(pod.containers[0]?.env).toContainEqual({ name: 'FLEETWRIGHT_SOURCE_DIR', value: '/var/run/fleetwright/source/tree' });
  });
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
