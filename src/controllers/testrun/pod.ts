import type { TestRunSpec } from '../../api/v1alpha1/index.ts';
import { PROGRESS_PORT, PROGRESS_PORT_NAME } from '../../reporter/progress.ts';
import type { KubeObject, OwnerReference } from '../../runtime/resource.ts';
import { podResources } from '../quantities.ts';

export const TESTRUN_LABEL = 'fleetwright.dev/testrun';
export const SHARD_LABEL = 'fleetwright.dev/shard';
export const ATTEMPT_LABEL = 'fleetwright.dev/attempt';
/** Where a ConfigMap source is mounted; the runner's default FLEETWRIGHT_SOURCE_DIR. */
export const SOURCE_DIR = '/source';

/** Runner pod of attempt `attempt` of shard `index`: one name per attempt, so no attempt can start twice. */
export const runnerName = (run: string, index: number, attempt: number) => `${run}-${index}-${attempt}`;

export interface RunnerPodInput {
  run: { namespace: string; name: string; owner: OwnerReference };
  spec: TestRunSpec;
  /** The controller's image: the default runner. */
  image: string;
  index: number;
  attempt: number;
  endpoint: string;
  /** Seconds left until the run's deadline: the pod's activeDeadlineSeconds, so nothing outlives the run. */
  deadlineSeconds: number;
}

/**
 * A runner pod: `fleetwright runner --shard=i/n` (or the user's command) with
 * the leased browser in PW_TEST_CONNECT_WS_ENDPOINT, the suite mounted at
 * /source from its ConfigMap, under the restricted Pod Security Standard.
 */
export function runnerPod(input: RunnerPodInput): KubeObject {
  const { run, spec, index, attempt } = input;
  const runner = spec.runner ?? {};
  const configMap = spec.source.configMap;
  const shardArg = `--shard=${index}/${spec.shards}`;
  // The default image's entrypoint is `fleetwright`; a user's command takes the shard argument last.
  const args = runner.command ? [...(runner.args ?? []), shardArg] : ['runner', shardArg, ...(runner.args ?? [])];
  const sourceDir = spec.source.image?.workingDir ?? SOURCE_DIR;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: runnerName(run.name, index, attempt),
      namespace: run.namespace,
      labels: { [TESTRUN_LABEL]: run.name, [SHARD_LABEL]: String(index), [ATTEMPT_LABEL]: String(attempt) },
      ownerReferences: [run.owner],
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: Math.max(1, Math.ceil(input.deadlineSeconds)),
      terminationGracePeriodSeconds: 10,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'runner',
          image: runner.image ?? input.image,
          imagePullPolicy: 'IfNotPresent',
          ...(runner.command ? { command: runner.command } : {}),
          args,
          ...(spec.source.image ? { workingDir: spec.source.image.workingDir } : {}),
          env: [
            { name: 'PW_TEST_CONNECT_WS_ENDPOINT', value: input.endpoint },
            ...(spec.exposeNetwork ? [{ name: 'PW_TEST_CONNECT_EXPOSE_NETWORK', value: spec.exposeNetwork }] : []),
            { name: 'FLEETWRIGHT_SOURCE_DIR', value: sourceDir },
            { name: 'CI', value: 'true' },
            // The runner serves the shard's running counts there; the controller polls them into status.
            { name: 'FLEETWRIGHT_PROGRESS_PORT', value: String(PROGRESS_PORT) },
            ...(runner.env ?? []),
          ],
          ports: [{ name: PROGRESS_PORT_NAME, containerPort: PROGRESS_PORT, protocol: 'TCP' }],
          // The reporter's summary, or else the runner's last output for the shard's message.
          terminationMessagePolicy: 'FallbackToLogsOnError',
          ...(runner.resources ? { resources: podResources(runner.resources) } : {}),
          ...(configMap ? { volumeMounts: [{ name: 'source', mountPath: SOURCE_DIR, readOnly: true }] } : {}),
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
      ...(configMap ? { volumes: [{ name: 'source', configMap: { name: configMap.name } }] } : {}),
    },
  };
}
