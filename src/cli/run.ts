// `fleetwright run <dir> --pool <name>`: a local Playwright project, run on
// the cluster's pooled browsers without writing YAML. The folder goes into a
// ConfigMap owned by the TestRun (deleting the run deletes it), and with
// --follow the command stays until the run ends and exits as the tests did.
// With --git instead of a folder, the run points at a repository and the
// controller pins the revision's commit.
import { randomBytes } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { CONFIG_MAP } from '../api/builtin.ts';
import { API_VERSION } from '../api/kind.ts';
import type { TestRunObject } from '../api/objects.ts';
import { BROWSER_POOL, TEST_RUN } from '../api/resources.ts';
import { carriesCredentials, isGitUrl, isSshGitUrl } from '../api/v1alpha1/testrun.ts';
import { collectionPath, objectPath } from '../runtime/resource.ts';
import { statusCode } from '../runtime/rest.ts';
import { UsageError } from '../runtime/usage.ts';
import { type CommandHelp, type FlagValues, helpText, intFlag, kubeFlagsOf, parseFlags, stringFlag } from './flags.ts';
import { followRun, REPORT_WAIT_MS, waitForReport } from './follow.ts';
import { Cluster, loadTarget } from './kube.ts';
import { formatBytes, packFolder, type PackedFolder } from './pack.ts';
import { awaitsReport, exitCodeOf, finalReport, reportLines } from './render.ts';

const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'fleetwright-cli' };
/** The TestRun's longest name (its CRD's maxNameLength). */
const MAX_NAME = 50;

export const help: CommandHelp = {
  synopsis: '<dir> | --git <url> [--revision r] [--path p] [--secret name]  --pool <name> [--shards n] [--follow] ' +
    '[-- <playwright test args>]',
  description: [
    'Packs the spec files and config of a local Playwright project into a ConfigMap and runs them as a TestRun on',
    'the browsers of a BrowserPool. Arguments after -- go to `playwright test` in every shard (--grep, --project…).',
    'Left out: node_modules, test-results, playwright-report, blob-report and hidden files (.git, .env) but .npmrc; the',
    'runner brings @playwright/test itself and installs other packages from the lockfile (package-lock.json), which',
    'must be there. A registry token goes in a Secret (--npmrc-secret), never in the folder\'s .npmrc. A project over',
    '1 MiB belongs in an image: spec.source.image with spec.runner.image.',
    'With --git instead of a folder, the TestRun runs a repository (spec.source.git, https or ssh): the controller pins',
    '--revision (default: the remote\'s HEAD) to one commit that every shard fetches; --secret names a Secret of the',
    'namespace with its credentials (key token, or username and password; for ssh, identity and known_hosts).',
    'With --follow: exit 0 when every test passed, 1 when tests failed or the run timed out, 3 when the run could',
    'not be carried out; Ctrl-C stops following (the run goes on). A wrong command line exits 2 and creates nothing.',
    'When the cluster has a report store, it then waits (up to 60 s) for the merged Playwright HTML report of all',
    'shards and prints its URL and how to open it.',
  ].join('\n'),
  flags: {
    'pool': { type: 'string', value: 'name', help: 'BrowserPool whose browsers run the tests (required)' },
    'shards': { type: 'string', value: 'n', help: 'split the suite into n shards, each on its own browser (default 1)' },
    'follow': { type: 'boolean', short: 'f', help: 'show progress per shard until the run ends; exit as the tests did' },
    'name': { type: 'string', value: 'name', help: 'name of the TestRun (default: the folder\'s name and a suffix)' },
    'timeout': { type: 'string', value: 'seconds', help: 'fail the run after this long (default 3600)' },
    'ttl': { type: 'string', value: 'seconds', help: 'delete the run and its ConfigMap this long after it ends' },
    'npmrc-secret': {
      type: 'string',
      value: 'name',
      help: 'a Secret whose .npmrc key has the registry and its token for installing the suite\'s packages',
    },
    'git': { type: 'string', value: 'url', help: 'run the tests of this repository (https or ssh) instead of a folder' },
    'revision': { type: 'string', value: 'rev', help: 'with --git: branch, tag or commit SHA (default: the remote\'s HEAD)' },
    'path': { type: 'string', value: 'dir', help: 'with --git: the Playwright project\'s folder in the repository' },
    'secret': { type: 'string', value: 'name', help: 'with --git: the Secret with the repository\'s credentials' },
  },
  examples: [
    'fleetwright run ./e2e --pool chromium --shards 4 --follow',
    'fleetwright run . --pool chromium -n team-a --follow -- --grep @smoke',
    'fleetwright run --git https://git.example.com/team/app.git --revision main --path e2e --secret git --pool chromium',
  ],
};

/** A repository to run instead of a folder (spec.source.git). */
export interface GitRequest {
  url: string;
  revision?: string;
  path?: string;
  secret?: string;
}

export interface RunRequest {
  /** The folder to pack; unset with `git`. */
  dir?: string;
  git?: GitRequest;
  pool: string;
  shards: number;
  follow: boolean;
  name?: string;
  timeoutSeconds?: number;
  ttlSeconds?: number;
  npmrcSecret?: string;
  playwrightArgs: string[];
}

/** Parses the command line; throws a UsageError naming what is wrong. Returns undefined for --help. */
export function parseRunArgs(args: string[]): { request: RunRequest; values: FlagValues } | undefined {
  const split = args.indexOf('--');
  const own = split < 0 ? args : args.slice(0, split);
  const playwrightArgs = split < 0 ? [] : args.slice(split + 1);
  const { values, positionals } = parseFlags('run', own, help.flags);
  if (values.help) return undefined;
  const git = gitRequestOf(values, positionals);
  if (!git && positionals.length !== 1) {
    throw new UsageError(`expected one folder, the Playwright project to run; got ${positionals.length === 0
      ? 'none'
      : positionals.join(' ')} (see fleetwright run --help)`);
  }
  const pool = stringFlag(values, 'pool');
  if (!pool) throw new UsageError('--pool is required: the BrowserPool to run on (fleetwright status lists them)');
  const name = stringFlag(values, 'name');
  if (name !== undefined && (name.length > MAX_NAME || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))) {
    throw new UsageError(`--name=${name}: expected at most ${MAX_NAME} lowercase letters, digits and '-', ` +
      'starting and ending with a letter or digit');
  }
  const request: RunRequest = {
    ...(git ? { git } : { dir: positionals[0] as string }),
    pool,
    shards: intFlag(stringFlag(values, 'shards'), 'shards', 1, 100) ?? 1,
    follow: values.follow === true,
    ...(name ? { name } : {}),
    timeoutSeconds: intFlag(stringFlag(values, 'timeout'), 'timeout', 1, 604_800),
    ttlSeconds: intFlag(stringFlag(values, 'ttl'), 'ttl', 0, 31_536_000),
    npmrcSecret: stringFlag(values, 'npmrc-secret'),
    playwrightArgs,
  };
  return { request, values };
}

/** --git and its flags; undefined without --git. */
function gitRequestOf(values: FlagValues, positionals: string[]): GitRequest | undefined {
  const url = stringFlag(values, 'git');
  const options = { revision: stringFlag(values, 'revision'), path: stringFlag(values, 'path'), secret: stringFlag(values, 'secret') };
  if (url === undefined) {
    const stray = Object.entries(options).find(([, value]) => value !== undefined);
    if (stray) throw new UsageError(`--${stray[0]} goes with --git: it says which part of the repository to run`);
    return undefined;
  }
  if (positionals.length > 0) {
    throw new UsageError(`--git runs a repository, not a folder: drop ${positionals.join(' ')}, or drop --git`);
  }
  if (!isGitUrl(url)) {
    throw new UsageError(`--git=${url}: expected an https://, http:// or ssh:// repository URL, or [user@]host:path`);
  }
  if (carriesCredentials(url)) {
    throw new UsageError('--git: the URL must not carry credentials: put them in a Secret and pass --secret');
  }
  if (isSshGitUrl(url) && options.secret === undefined) {
    throw new UsageError(`--git=${url}: an ssh URL needs --secret, a Secret with keys identity (the private key) and ` +
      'known_hosts (ssh-keyscan\'s output)');
  }
  const set = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  return { url, ...set };
}

/** A repository's name from its URL: https://host/team/My-App.git -> My-App. */
export const repositoryName = (url: string) =>
  new URL(url).pathname.replace(/\/+$/, '').split('/').pop()?.replace(/\.git$/, '') ?? '';

/** The folder's name as the start of a TestRun name: `My E2E_tests` -> `my-e2e-tests`. */
export function defaultName(dir: string, suffix = randomBytes(3).toString('hex').slice(0, 5)): string {
  const base = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  return `${base.slice(0, MAX_NAME - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;
}

/** The TestRun `fleetwright run` creates: of the packed folder's ConfigMap, or of the repository. */
export function testRunManifest(request: RunRequest, name: string, configMap?: string) {
  const { git } = request;
  const source = git
    ? {
        git: {
          url: git.url,
          ...(git.revision ? { revision: git.revision } : {}),
          ...(git.path ? { path: git.path } : {}),
          ...(git.secret ? { secretRef: { name: git.secret } } : {}),
        },
      }
    : { configMap: { name: configMap } };
  return {
    apiVersion: API_VERSION,
    kind: 'TestRun',
    metadata: { name, labels: MANAGED_BY },
    spec: {
      poolRef: { name: request.pool },
      source,
      shards: request.shards,
      ...(request.playwrightArgs.length > 0 ? { runner: { args: request.playwrightArgs } } : {}),
      ...(request.timeoutSeconds !== undefined ? { timeoutSeconds: request.timeoutSeconds } : {}),
      ...(request.ttlSeconds !== undefined ? { ttlSecondsAfterFinished: request.ttlSeconds } : {}),
      ...(request.npmrcSecret ? { dependencies: { npmrcSecretRef: { name: request.npmrcSecret } } } : {}),
    },
  };
}

/** The pool must exist: otherwise the run would wait, Pending, for a pool nobody creates. */
async function checkPool(cluster: Cluster, pool: string): Promise<void> {
  const { namespace } = cluster;
  await cluster.getOrList(BROWSER_POOL, pool, (names) => names.length > 0
    ? `BrowserPool ${pool} not found in namespace ${namespace}; pools there: ${names.join(', ')}. ` +
    'Pass one of them with --pool, or -n for another namespace'
    : `no BrowserPool in namespace ${namespace}, so no pool ${pool}: create one ` +
      '(kubectl apply -f config/samples/browserpool.yaml), or pass -n for the namespace that has it');
}

/** The TestRun of a repository: nothing to pack, the controller pins the revision. */
async function createGitRun(cluster: Cluster, request: RunRequest, git: GitRequest): Promise<TestRunObject> {
  const { namespace } = cluster;
  const name = request.name ?? defaultName(repositoryName(git.url));
  try {
    return await cluster.create(collectionPath(TEST_RUN, namespace), testRunManifest(request, name));
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    throw new Error(`TestRun ${name} already exists in namespace ${namespace}: pass another --name, or delete it ` +
      `(kubectl delete testrun ${name})`, { cause: err });
  }
}

async function create(
  cluster: Cluster,
  request: RunRequest,
  dir: string,
  packed: PackedFolder,
): Promise<TestRunObject> {
  const { namespace } = cluster;
  const name = request.name ?? defaultName(dir);
  const configMap = `${name}-tests`;
  const exists = (what: string) => new Error(`${what} already exists in namespace ${namespace}: ` +
    `pass another --name, or delete it (kubectl delete testrun ${name})`);
  try {
    await cluster.create(collectionPath(CONFIG_MAP, namespace), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: configMap, labels: MANAGED_BY },
      data: packed.data,
      binaryData: packed.binaryData,
    });
  } catch (err) {
    throw statusCode(err) === 409 ? exists(`ConfigMap ${configMap}`) : err;
  }
  let run: TestRunObject & { metadata: { uid?: string } };
  try {
    run = await cluster.create(collectionPath(TEST_RUN, namespace), testRunManifest(request, name, configMap));
  } catch (err) {
    await cluster.delete(objectPath(CONFIG_MAP, { namespace, name: configMap })).catch(() => undefined);
    throw statusCode(err) === 409 ? exists(`TestRun ${name}`) : err;
  }
  // Owned by the run: deleting it (by hand or by ttlSecondsAfterFinished) deletes the tests with it.
  const owner = { apiVersion: API_VERSION, kind: 'TestRun', name, uid: run.metadata.uid };
  await cluster.mergePatch(objectPath(CONFIG_MAP, { namespace, name: configMap }), {
    metadata: { ownerReferences: [owner] },
  });
  return run;
}

export interface RunIO {
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  tty: boolean;
  env?: NodeJS.ProcessEnv;
}

/** `fleetwright run`; resolves to the exit code. */
export async function runCommand(args: string[], io: RunIO): Promise<number> {
  const parsed = parseRunArgs(args);
  if (!parsed) {
    io.out.write(`usage: fleetwright run ${help.synopsis}\n\n${helpText(help)}\n`);
    return 0;
  }
  const { request, values } = parsed;
  const { git, dir = '.' } = request;
  // Packed before the cluster is asked anything: a folder too big fails at once.
  const source = git ? { kind: 'git' as const, git } : { kind: 'folder' as const, packed: packFolder(dir) };
  const cluster = new Cluster(loadTarget(kubeFlagsOf(values), io.env));
  await checkPool(cluster, request.pool);
  const run = source.kind === 'git'
    ? await createGitRun(cluster, request, source.git)
    : await create(cluster, request, dir, source.packed);
  const name = run.metadata.name ?? '';
  const ns = cluster.namespace;
  const what = source.kind === 'git'
    ? `repository ${source.git.url} at ${source.git.revision ?? 'its HEAD'}` +
    (source.git.path ? `, folder ${source.git.path}` : '')
    : `${source.packed.files.length} file(s), ${formatBytes(source.packed.bytes)} in configmap/${name}-tests`;
  io.out.write(`testrun/${name} created in namespace ${ns}: ${what}; ${request.shards} shard(s) on BrowserPool ` +
    `${request.pool}\n`);
  if (!request.follow) {
    io.out.write(`Follow it: fleetwright run … --follow next time, or kubectl get testrun ${name} -n ${ns} -w\n`);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    let finished = await followRun(cluster, name, { out: io.out, tty: io.tty, signal: stop.signal });
    io.out.write(`${finalReport(finished).join('\n')}\n`);
    if (awaitsReport(finished)) {
      io.out.write(`Waiting up to ${REPORT_WAIT_MS / 1000} s for the merged report…\n`);
      const read = () => cluster.get<TestRunObject>(objectPath(TEST_RUN, { namespace: ns, name }));
      finished = await waitForReport(finished, read, { signal: stop.signal });
    }
    const report = reportLines(finished);
    if (report.length > 0) io.out.write(`${report.join('\n')}\n`);
    return exitCodeOf(finished);
  } catch (err) {
    if (!stop.signal.aborted) throw err;
    io.out.write(`\nstopped following; TestRun ${ns}/${name} goes on (kubectl delete testrun ${name} -n ${ns} stops it)\n`);
    return 130;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
