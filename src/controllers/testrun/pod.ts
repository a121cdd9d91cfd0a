import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import type { TestRunSpec, TestRunStatus } from '../../api/v1alpha1/index.ts';
import {
  FETCH_SOURCE_CONTAINER,
  GIT_COMMIT_ENV,
  GIT_CREDENTIALS_DIR,
  GIT_PATH_ENV,
  GIT_REVISION_ENV,
  GIT_SECRET_ENV,
  GIT_SOURCE_ROOT,
  GIT_TREE_DIR,
  GIT_URL_ENV,
} from '../../contracts/git-source.ts';
import { PROGRESS_PORT } from '../../contracts/ports.ts';
import { PROGRESS_PORT_ENV, PROGRESS_PORT_NAME } from '../../contracts/progress.ts';
import { DEFAULT_SOURCE_DIR, POOL_BROWSER_ENV, POOL_SESSIONS_ENV, SOURCE_DIR_ENV } from '../../contracts/runner.ts';
import {
  DEPENDENCY_CACHE_URL_ENV,
  REPORT_TOKEN_DIR,
  REPORT_TOKEN_FILE_ENV,
  REPORT_TOKEN_KEY,
  REPORT_UPLOAD_URL_ENV,
} from '../../contracts/report-store.ts';
import { podResources } from '../quantities.ts';

export const TESTRUN_LABEL = 'fleetwright.dev/testrun';
export const SHARD_LABEL = 'fleetwright.dev/shard';
export const ATTEMPT_LABEL = 'fleetwright.dev/attempt';

/** Where spec.dependencies.npmrcSecretRef is mounted; its file is npm's user config. */
export const NPMRC_DIR = '/var/run/fleetwright/npmrc';
const NPMRC_FILE = '.npmrc';

/** The runner's user and group; the report token's file is readable by this group. */
const RUNNER_ID = 10001;

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
  /** The engine of the pool the browser comes from: the runner runs only the suite's projects of it. */
  browser: string;
  /** Clients that browser serves at once: the runner runs no more workers than this. */
  sessions: number;
  /** Seconds left until the run's deadline: the pod's activeDeadlineSeconds, so nothing outlives the run. */
  deadlineSeconds: number;
  /**
   * Where the shard's blob report goes, where the namespace's dependency cache
   * is, and the Secret with the upload token for both; unset: neither.
   */
  report?: { uploadUrl: string; cacheUrl: string; secret: string };
  /** The commit a git source is pinned to (status.source); required with spec.source.git. */
  pinned?: NonNullable<TestRunStatus['source']>;
}

const RESTRICTED = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

/**
 * A runner pod: `fleetwright runner --shard=i/n` (or the user's command) with
 * the leased browser in PW_TEST_CONNECT_WS_ENDPOINT, the suite mounted at
 * /source from its ConfigMap or fetched at its pinned commit by the
 * fetch-source init container, under the restricted Pod Security Standard.
 */
export function runnerPod(input: RunnerPodInput): KubeObject {
  const { run, spec, index, attempt } = input;
  const runner = spec.runner ?? {};
  const configMap = spec.source.configMap;
  const git = spec.source.git && gitParts(spec.source.git, input);
  const shardArg = `--shard=${index}/${spec.shards}`;
  // The default image's entrypoint is `fleetwright`; a user's command takes the shard argument last.
  const args = runner.command ? [...(runner.args ?? []), shardArg] : ['runner', shardArg, ...(runner.args ?? [])];
  const sourceDir = spec.source.image?.workingDir ?? git?.sourceDir ?? DEFAULT_SOURCE_DIR;
  const { report } = input;
  const npmrc = spec.dependencies?.npmrcSecretRef;
  const volumes = [
    ...(configMap ? [{ name: 'source', configMap: { name: configMap.name } }] : []),
    ...(git?.volumes ?? []),
    ...(report
      ? [{
          name: 'report-token',
          // Readable by the runner's group only (fsGroup below), as the restricted standard runs it.
          secret: {
            secretName: report.secret,
            items: [{ key: REPORT_TOKEN_KEY, path: REPORT_TOKEN_KEY }],
            defaultMode: 0o440,
          },
        }]
      : []),
    ...(npmrc
      ? [{
          name: 'npmrc',
          secret: { secretName: npmrc.name, items: [{ key: npmrc.key, path: NPMRC_FILE }], defaultMode: 0o440 },
        }]
      : []),
  ];
  const mounts = [
    ...(configMap ? [{ name: 'source', mountPath: DEFAULT_SOURCE_DIR, readOnly: true }] : []),
    ...(git ? [{ name: 'source', mountPath: GIT_SOURCE_ROOT, readOnly: true }] : []),
    ...(report ? [{ name: 'report-token', mountPath: REPORT_TOKEN_DIR, readOnly: true }] : []),
    ...(npmrc ? [{ name: 'npmrc', mountPath: NPMRC_DIR, readOnly: true }] : []),
  ];
  // Secret volumes' files belong to root; fsGroup gives their group to the runner.
  const secretFiles = report !== undefined || npmrc !== undefined || git?.credentials !== undefined;
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
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUNNER_ID,
        runAsGroup: RUNNER_ID,
        ...(secretFiles ? { fsGroup: RUNNER_ID } : {}),
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(git ? { initContainers: [git.container] } : {}),
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
            { name: SOURCE_DIR_ENV, value: sourceDir },
            { name: POOL_BROWSER_ENV, value: input.browser },
            { name: POOL_SESSIONS_ENV, value: String(input.sessions) },
            { name: 'CI', value: 'true' },
            // The runner serves the shard's running counts there; the controller polls them into status.
            { name: PROGRESS_PORT_ENV, value: String(PROGRESS_PORT) },
            ...(report
              ? [
                  { name: REPORT_UPLOAD_URL_ENV, value: report.uploadUrl },
                  { name: REPORT_TOKEN_FILE_ENV, value: `${REPORT_TOKEN_DIR}/${REPORT_TOKEN_KEY}` },
                  { name: DEPENDENCY_CACHE_URL_ENV, value: report.cacheUrl },
                ]
              : []),
            ...(npmrc ? [{ name: 'NPM_CONFIG_USERCONFIG', value: `${NPMRC_DIR}/${NPMRC_FILE}` }] : []),
            // Last, so that a user's value wins (FLEETWRIGHT_REPORT_UPLOAD_URL='' turns the upload off).
            ...(runner.env ?? []),
          ],
          ports: [{ name: PROGRESS_PORT_NAME, containerPort: PROGRESS_PORT, protocol: 'TCP' }],
          // The reporter's summary, or else the runner's last output for the shard's message.
          terminationMessagePolicy: 'FallbackToLogsOnError',
          ...(runner.resources ? { resources: podResources(runner.resources) } : {}),
          ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
          securityContext: RESTRICTED,
        },
      ],
      ...(volumes.length > 0 ? { volumes } : {}),
    },
  };
}

/**
 * The fetch-source init container of a git source, of the controller's image
 * (a user's runner image need not have fleetwright in it): it checks the
 * pinned commit out into an emptyDir the runner reads, with the credentials
 * of the mounted Secret, never in an environment value.
 */
function gitParts(git: NonNullable<TestRunSpec['source']['git']>, input: RunnerPodInput) {
  if (!input.pinned) throw new Error('a git source\'s runner pod needs the pinned commit (status.source)');
  const secret = git.secretRef?.name;
  const credentials = secret
    ? {
        name: 'git-credentials',
        // Optional: a missing Secret or key is said by fetch-source in the shard's message, instead of a
        // pod that never starts. Readable by the runner's group only (fsGroup).
        secret: { secretName: secret, optional: true, defaultMode: 0o440 },
      }
    : undefined;
  const container = {
    name: FETCH_SOURCE_CONTAINER,
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['fetch-source'],
    env: [
      { name: GIT_URL_ENV, value: git.url },
      { name: GIT_COMMIT_ENV, value: input.pinned.commit },
      { name: GIT_REVISION_ENV, value: git.revision ?? input.pinned.revision },
      ...(git.path ? [{ name: GIT_PATH_ENV, value: git.path }] : []),
      ...(secret ? [{ name: GIT_SECRET_ENV, value: secret }] : []),
    ],
    volumeMounts: [
      { name: 'source', mountPath: GIT_SOURCE_ROOT },
      ...(credentials ? [{ name: credentials.name, mountPath: GIT_CREDENTIALS_DIR, readOnly: true }] : []),
    ],
    // fetch-source writes why it failed; the controller makes it the shard's message.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: RESTRICTED,
  };
  return {
    container,
    credentials,
    volumes: [{ name: 'source', emptyDir: {} }, ...(credentials ? [credentials] : [])],
    sourceDir: git.path ? `${GIT_TREE_DIR}/${git.path}` : GIT_TREE_DIR,
  };
}

/**
 * Why spec.dependencies.npmrcSecretRef cannot be mounted, naming the fix;
 * undefined when the Secret has the key. Only key names are read, never values.
 */
export function npmrcSecretProblem(
  ref: { name: string; key: string },
  namespace: string,
  secret: { data?: Record<string, string> } | undefined,
): string | undefined {
  if (secret?.data?.[ref.key] !== undefined) return undefined;
  const what = secret ? `has no key ${ref.key}` : 'does not exist';
  return `Secret ${ref.name} ${what} in namespace ${namespace}: create it ` +
    `(kubectl create secret generic ${ref.name} --from-file=${ref.key}=<your .npmrc>) or fix spec.dependencies.npmrcSecretRef`;
}
