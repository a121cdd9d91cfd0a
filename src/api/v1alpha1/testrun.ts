import { z } from 'zod';
import type { KindDefinition } from '../kind.ts';
import { withRules } from '../rules.ts';
import {
  Args,
  Conditions,
  count,
  EnvList,
  image,
  LocalObjectReference,
  objectName,
  observedGeneration,
  ResourceRequirements,
  seconds,
  secretKey,
} from './common.ts';

const ConfigMapSource = LocalObjectReference('ConfigMap').describe(
  'A ConfigMap whose keys are the files of a Playwright project (spec files and playwright.config); ' +
  'mounted into the default runner image.',
);

const ImageSource = z
  .object({
    workingDir: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^\//, 'must be an absolute path')
      .default('/tests')
      .describe('Directory inside runner.image that holds the Playwright project.'),
  })
  .describe('Tests baked into runner.image.');

// The same test as src/contracts/suite-layout.ts's isContainedPath, which the API may not import: a relative
// path of non-empty segments, none of them `.` or `..`.
const CONTAINED_PATH = '^[^/\\\\\\x00]+(/[^/\\\\\\x00]+)*$';
const DOT_SEGMENT = '(^|/)[.][.]?(/|$)';

// git's URL forms the runner fetches, as RE2 patterns for CEL and JavaScript
// alike: http(s), ssh:// and scp-like `[user@]host:path` (git-clone(1)).
const SSH_URL = '^ssh://[^/?#]+|^([^@/:]+@)?[^@/:]+:([^/]|/[^/])';
const GIT_URL = `^https?://[^/?#]+|${SSH_URL}`;
/** User info in an http(s) URL, or a password in an ssh one (its user name is no secret). */
const URL_CREDENTIALS = '^https?://[^/?#]*@|^ssh://[^/?#@]*:[^/?#@]*@';

export const isGitUrl = (url: string) => new RegExp(GIT_URL).test(url);
export const isSshGitUrl = (url: string) => new RegExp(SSH_URL).test(url);
export const carriesCredentials = (url: string) => new RegExp(URL_CREDENTIALS).test(url);

const GitSource = withRules(
  z
    .object({
      url: z
        .string()
        .min(1)
        .max(2048)
        .describe(
          'The repository\'s URL, as for git clone: https://, http://, ssh://[user@]host[:port]/path or ' +
          '[user@]host:path (ssh logs in as `git` unless the URL names a user). Credentials go in secretRef, never ' +
          'in the URL.',
        ),
      revision: z
        .string()
        .min(1)
        .max(255)
        .regex(/^[^\t\n\v\f\r ~^:?*[\\]+$/, 'must be a branch, tag or commit SHA')
        .optional()
        .describe(
          'Branch, tag or full 40-hex commit SHA to run. Unset: the remote\'s HEAD (its default branch). The ' +
          'controller resolves it to one commit before any shard starts (status.source.commit) and every shard ' +
          'runs that commit, even if the branch moves during the run.',
        ),
      path: z
        .string()
        .max(1024)
        .regex(new RegExp(CONTAINED_PATH), 'must be a relative path inside the repository')
        .optional()
        .describe('Folder of the Playwright project inside the repository, relative, without `..`. Unset: its root.'),
      secretRef: LocalObjectReference('Secret')
        .optional()
        .describe(
          'A Secret in the run\'s namespace with the credentials. For http(s): key `token` (sent as the ' +
          'basic-auth password, with `username` if the Secret has one, else x-access-token, as GitHub, GitLab and ' +
          'Gitea accept), or `username` and `password`; unset, the repository is fetched without credentials. ' +
          'For ssh (required): `identity` (the private key), `known_hosts` (the server\'s host keys, as ' +
          'ssh-keyscan prints them; there is no trust on first use) and `password` if the key is encrypted: the ' +
          'keys Flux uses.',
        ),
    })
    .describe('Tests in a git repository, fetched by the runner pods at the commit the controller pinned.'),
  [
    {
      cel: `self.url.matches('${GIT_URL}')`,
      holds: (g) => isGitUrl(g.url),
      message: 'url must be an https://, http:// or ssh:// URL, or [user@]host:path',
      fieldPath: '.url',
    },
    {
      cel: `!self.url.matches('${URL_CREDENTIALS}')`,
      holds: (g) => !carriesCredentials(g.url),
      message: 'url must not carry credentials: put them in a Secret and name it in secretRef',
      fieldPath: '.url',
    },
    {
      cel: `!self.url.matches('${SSH_URL}') || has(self.secretRef)`,
      holds: (g) => !isSshGitUrl(g.url) || g.secretRef !== undefined,
      message: 'an ssh url needs secretRef: a Secret with keys identity (the private key) and known_hosts',
      fieldPath: '.secretRef',
    },
    {
      cel: '!has(self.path) || !self.path.matches(\'' + DOT_SEGMENT + '\')',
      holds: (g) => g.path === undefined || !new RegExp(DOT_SEGMENT).test(g.path),
      message: 'path must stay inside the repository: no `.` or `..` segments',
      fieldPath: '.path',
    },
  ],
);

const Source = withRules(
  z
    .object({
      configMap: ConfigMapSource.optional(),
      image: ImageSource.optional(),
      git: GitSource.optional(),
    })
    .describe('Where the tests come from: exactly one of configMap, image or git.'),
  [
    {
      cel: '[has(self.configMap), has(self.image), has(self.git)].filter(x, x).size() == 1',
      holds: (s) => [s.configMap, s.image, s.git].filter((x) => x !== undefined).length === 1,
      message: 'source must set exactly one of configMap, image or git',
    },
  ],
);

const Runner = z
  .object({
    image: image(
      'Runner container image; defaults to the operator\'s runner image, which runs `npx playwright test`.',
    ).optional(),
    command: Args('Entrypoint of the runner container, replacing the image default.').optional(),
    args: Args('Extra arguments after the runner command, for example --grep or --project.').optional(),
    env: EnvList('Environment variables of the runner container.').optional(),
    resources: ResourceRequirements.optional(),
  })
  .describe('The container that runs one shard of the suite.');

const Dependencies = z
  .object({
    npmrcSecretRef: z
      .object({
        name: objectName('Secret'),
        key: secretKey.default('.npmrc').describe('Key in the Secret whose value is the .npmrc.'),
      })
      .optional()
      .describe(
        'A Secret holding an .npmrc (registry=, //host/:_authToken=) for installing the suite\'s dependencies: ' +
        'mounted into the runner as npm\'s user config (NPM_CONFIG_USERCONFIG), below the suite\'s own .npmrc. ' +
        'Its token never appears in logs, status or Events.',
      ),
  })
  .describe(
    'The suite\'s own packages: a suite whose package.json asks for more than @playwright/test is installed ' +
    'from its lockfile (npm ci) before the tests, and cached in the report store by the lockfile\'s hash.',
  );

export const TestRunSpec = withRules(
  z
    .object({
      poolRef: LocalObjectReference('BrowserPool').describe('The BrowserPool whose browsers run the tests.'),
      source: Source,
      runner: Runner.optional(),
      dependencies: Dependencies.optional(),
      shards: z
        .int()
        .min(1)
        .max(100)
        .default(1)
        .describe('Number of shards; shard i of n runs with --shard=i/n on its own leased browser.'),
      retries: z
        .int()
        .min(0)
        .max(10)
        .default(2)
        .describe(
          'Retries of a shard after an infrastructure failure (browser lost, runner evicted). ' +
          'Failed tests are not retried by the operator; use Playwright\'s own --retries for that.',
        ),
      timeoutSeconds: seconds(
        'Deadline for the whole run; then it fails and its pods stop.',
        1,
        604_800,
      ).default(3600),
      exposeNetwork: z
        .string()
        .max(1024)
        .default('<loopback>')
        .describe(
          'Hosts of the runner\'s network the browser may reach through its connection, as Playwright\'s ' +
          'exposeNetwork (PW_TEST_CONNECT_EXPOSE_NETWORK): with the default <loopback>, a suite whose ' +
          'webServer runs on the runner\'s localhost works unchanged. Each shard then gets a browser ' +
          'launched for it instead of the warm one. Empty turns it off.',
        ),
      priority: z
        .int()
        .min(-1000)
        .max(1000)
        .default(0)
        .describe(
          'Runs with higher priority get browsers first; equal priorities are first come, first served.',
        ),
      ttlSecondsAfterFinished: seconds(
        'Delete the run this long after it finishes. Unset: keep it.',
        0,
        31_536_000,
      ).optional(),
      cleanupPolicy: z
        .enum(['Always', 'OnSuccess'])
        .default('Always')
        .describe(
          'With ttlSecondsAfterFinished: delete every finished run (Always) or keep failed ones (OnSuccess).',
        ),
    })
    .describe('A Playwright suite to run on pooled browsers.'),
  [
    {
      cel: '!has(self.source.image) || (has(self.runner) && has(self.runner.image))',
      holds: (s) => s.source.image === undefined || s.runner?.image !== undefined,
      message: 'source.image needs runner.image: the tests are baked into the runner image',
      fieldPath: '.runner',
    },
  ],
);

export const TestRunPhase = z
  .enum(['Pending', 'Queued', 'Running', 'Succeeded', 'Failed', 'Error'])
  .describe(
    'Pending: not yet validated; Queued: waiting for browsers; Running; Succeeded: all tests passed; ' +
    'Failed: some tests failed or the run timed out; Error: the run could not be carried out.',
  );

const TestCounts = {
  passed: count('Tests that passed.').optional(),
  failed: count('Tests that failed.').optional(),
  flaky: count('Tests that failed and then passed on a Playwright retry.').optional(),
  skipped: count('Tests that were skipped.').optional(),
};

const ShardStatus = z
  .object({
    index: z.int().min(1).max(100).describe('Shard number, 1-based as in --shard=i/n.'),
    phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Error']).describe('Phase of this shard.'),
    browserPod: z.string().max(253).optional().describe('Browser pod leased for the current attempt.'),
    runnerPod: z.string().max(253).optional().describe('Runner pod of the current attempt.'),
    attempts: count('Attempts started, including infrastructure retries.').optional(),
    ...TestCounts,
    progress: z
      .object({
        passed: count('Tests that passed so far.'),
        failed: count('Tests that failed so far (after their Playwright retries).'),
        flaky: count('Tests that failed and then passed on a retry so far.'),
        skipped: count('Tests skipped so far.'),
        total: count('Tests in this shard; 0 until Playwright has loaded the suite.'),
      })
      .optional()
      .describe(
        'While the shard runs: the tests finished so far, as its runner reports them (polled every few ' +
        'seconds). Gone once the shard ends, when the counts above are its result.',
      ),
    message: z.string().max(4096).optional().describe('Why the shard failed, or its first failed tests.'),
    report: z
      .enum(['Uploaded', 'Failed'])
      .optional()
      .describe(
        'Whether the runner uploaded the shard\'s Playwright blob report to the report store (unset when the ' +
        'controller has no report store). A failed upload leaves the shard\'s counts as they are.',
      ),
  })
  .describe('Progress of one shard.');

export const TestRunStatus = z
  .object({
    phase: TestRunPhase.optional(),
    shards: z
      .array(ShardStatus)
      .max(100)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['index'] })
      .optional()
      .describe('One entry per shard.'),
    summary: z
      .object({
        ...TestCounts,
        durationSeconds: z.number().min(0).optional().describe('Wall-clock time of the longest shard.'),
      })
      .optional()
      .describe(
        'Test counts over all shards: the finished shards\' results plus, while shards run, their progress; ' +
        'once the run is finished, the results alone.',
      ),
    duration: z
      .string()
      .max(64)
      .optional()
      .describe('Time from start to completion, for display (for example 1m23s).'),
    startTime: z.iso.datetime().optional().describe('When the first shard started.'),
    completionTime: z.iso.datetime().optional().describe('When the run reached Succeeded, Failed or Error.'),
    queuePosition: count('Place in its pool\'s queue while Queued; 1 is next.').optional(),
    projectsNotRun: z
      .array(
        z.object({
          name: z.string().max(256).describe('The Playwright project\'s name.'),
          browser: z.string().max(64).describe('The browser the project uses.'),
        }),
      )
      .max(10)
      .optional()
      .describe(
        'Projects of the suite that did not run because they use another browser than the pool\'s: a pool ' +
        'serves one browser, and a test of another would pass or fail falsely. Condition ProjectsNotRun says so.',
      ),
    reportURL: z
      .string()
      .max(2048)
      .optional()
      .describe(
        'The merged Playwright HTML report of all shards, with their traces, screenshots and videos. Set by ' +
        'the report store once the run has finished and the shards\' uploaded reports are merged.',
      ),
    source: z
      .object({
        revision: z
          .string()
          .max(512)
          .describe('The ref spec.source.git.revision resolved to (refs/heads/main), or the commit SHA it named.'),
        commit: z
          .string()
          .regex(/^[0-9a-f]{40}$/, 'must be a 40-hex commit SHA')
          .describe('The commit every shard runs, pinned before the first shard started.'),
      })
      .optional()
      .describe('For a git source: the commit the run is pinned to.'),
    observedGeneration: observedGeneration.optional(),
    conditions: Conditions.optional(),
  })
  .describe('Observed state of the run.');

export const TestRunKind = {
  kind: 'TestRun',
  plural: 'testruns',
  singular: 'testrun',
  shortNames: ['tr'],
  description: 'A Playwright test suite run on pooled browsers, sharded, with results in status.',
  spec: TestRunSpec,
  status: TestRunStatus,
  maxNameLength: 50,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Phase of the run.' },
    {
      name: 'Pool',
      type: 'string',
      jsonPath: '.spec.poolRef.name',
      description: 'BrowserPool the run uses.',
    },
    { name: 'Shards', type: 'integer', jsonPath: '.spec.shards', description: 'Number of shards.' },
    { name: 'Passed', type: 'integer', jsonPath: '.status.summary.passed', description: 'Tests passed.' },
    { name: 'Failed', type: 'integer', jsonPath: '.status.summary.failed', description: 'Tests failed.' },
    { name: 'Duration', type: 'string', jsonPath: '.status.duration', description: 'Run time.' },
    {
      name: 'Commit',
      type: 'string',
      jsonPath: '.status.source.commit',
      description: 'The commit a git source is pinned to.',
      priority: 1,
    },
    {
      name: 'Expose',
      type: 'string',
      jsonPath: '.spec.exposeNetwork',
      description: 'What of the runner\'s network the browser reaches (exposeNetwork).',
      priority: 1,
    },
    {
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: 'Time since creation.',
    },
  ],
} satisfies KindDefinition<typeof TestRunSpec, typeof TestRunStatus>;

export type TestRunSpec = z.infer<typeof TestRunSpec>;
export type TestRunStatus = z.infer<typeof TestRunStatus>;
