// What exposeNetwork costs a TestRun per test: the same 16-test suite
// (bench/fixtures/pages: each test loads a page with its script and stylesheet
// and reads it) run through one-shard TestRuns in two modes, in one run:
//
//   loopback: spec.exposeNetwork '<loopback>', the pages served by the suite's
//             webServer on the runner's own 127.0.0.1; the browser (launched
//             for each connection) reaches them through the Playwright
//             connection;
//   cluster:  spec.exposeNetwork '', the same pages served by a pod of the
//             project's image, passed as BASE_URL (spec.runner.env); the warm
//             browser loads them straight from that pod.
//
//   npm run bench:exposenetwork [-- --repeats=5]
//
// Per mode: the shard's duration (Playwright's own, from the runner pod's
// status, which status.summary carries rounded to 0.1 s) divided by the tests,
// and each test's own duration (the suite's durations.ts reporter prints it
// into the runner's log), which leaves out what a shard pays once (webServer,
// worker start, the browsers launched per worker). The modes alternate in
// order per repeat. Prints one JSON object. A benchmark, not a test: nothing
// here asserts a time.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { kubectl } from '../hack/lib/crds.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import { POD } from '../src/api/builtin.ts';
import type { KubeObject } from '../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN } from '../src/api/resources.ts';
import { parseShardSummary } from '../src/contracts/shard-summary.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, removeNamespace, rest, startController } from './cluster.ts';

const { values: flags } = parseArgs({ options: { repeats: { type: 'string', default: '5' } } });
const repeats = Number(flags.repeats);

const MODES = ['loopback', 'cluster'] as const;
type Mode = (typeof MODES)[number];
const PAGES_PORT = 8080;

type Run = KubeObject & {
  status?: {
    phase?: string;
    shards?: { runnerPod?: string; message?: string }[];
    summary?: { durationSeconds?: number };
  };
};
type Pod = KubeObject & {
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { terminated?: { message?: string } } }[];
  };
};

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};
const finished = (r: Run) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '');

/** The suite's pages in a pod of the project's image, from the suite's own server.mjs; its URL once Ready. */
async function servePagesInCluster(namespace: string, image: string): Promise<string> {
  await rest().create(collectionPath(POD, namespace), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pages' },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // node as PID 1 does not stop on SIGTERM; nothing to drain.
      terminationGracePeriodSeconds: 0,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'pages',
        image,
        imagePullPolicy: 'IfNotPresent',
        command: ['node', '/pages/server.mjs'],
        env: [{ name: 'HOST', value: '0.0.0.0' }, { name: 'SUITE_PORT', value: String(PAGES_PORT) }],
        ports: [{ containerPort: PAGES_PORT }],
        readinessProbe: { httpGet: { path: '/health', port: PAGES_PORT }, periodSeconds: 1 },
        volumeMounts: [{ name: 'pages', mountPath: '/pages', readOnly: true }],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      }],
      volumes: [{ name: 'pages', configMap: { name: 'pages' } }],
    },
  });
  const pod = await until('the pages pod to be ready', async () => {
    const p = await rest().get<Pod>(objectPath(POD, { namespace, name: 'pages' }));
    return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  }, 120_000);
  return `http://${pod.status?.podIP}:${PAGES_PORT}`;
}

interface Measured {
  tests: number;
  shardMs: number;
  summaryDurationSeconds?: number;
  /** Each test's own duration, from the suite's durations.ts reporter. */
  testMs: number[];
  createdToFinishedMs: number;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  const controller = startController(namespace, image);
  try {
    const suiteDir = join(import.meta.dirname, 'fixtures', 'pages');
    const suite = Object.fromEntries(readdirSync(suiteDir).map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')]));
    await rest().create(`/api/v1/namespaces/${namespace}/configmaps`, { metadata: { name: 'pages' }, data: suite });
    // One browser: both modes run on the same pod. Two sessions: the suite's two workers.
    await rest().create(collectionPath(BROWSER_POOL, namespace), {
      apiVersion: BROWSER_POOL.apiVersion,
      kind: BROWSER_POOL.kind,
      metadata: { name: 'bench' },
      spec: { replicas: 1, sessionsPerBrowser: 2 },
    });
    const poolPath = objectPath(BROWSER_POOL, { namespace, name: 'bench' });
    const poolIdle = () => until('the browser to be idle', async () =>
      (await rest().get<{ status?: { idle?: number } }>(poolPath)).status?.idle === 1 ? true : undefined);
    const [baseUrl] = await Promise.all([servePagesInCluster(namespace, image), poolIdle()]);

    const specOf = (mode: Mode) => mode === 'loopback'
      ? { exposeNetwork: '<loopback>' }
      : { exposeNetwork: '', runner: { env: [{ name: 'BASE_URL', value: baseUrl }] } };

    const run = async (name: string, mode: Mode): Promise<Measured> => {
      const started = performance.now();
      await rest().create(collectionPath(TEST_RUN, namespace), {
        apiVersion: TEST_RUN.apiVersion,
        kind: TEST_RUN.kind,
        metadata: { name },
        spec: {
          poolRef: { name: 'bench' },
          source: { configMap: { name: 'pages' } },
          shards: 1,
          timeoutSeconds: 300,
          ...specOf(mode),
        },
      });
      const done = await until(`TestRun ${name} to finish`, async () => {
        const r = await rest().get<Run>(objectPath(TEST_RUN, { namespace, name }));
        return finished(r) ? r : undefined;
      });
      const createdToFinishedMs = Math.round(performance.now() - started);
      const shard = done.status?.shards?.[0];
      const runnerPod = shard?.runnerPod ?? '';
      if (done.status?.phase !== 'Succeeded') {
        throw new Error(`TestRun ${namespace}/${name} (${mode}) ended ${done.status?.phase}: ${shard?.message ?? 'no message'}`);
      }
      // The shard's own summary, in ms.
      const pod = await rest().get<Pod>(objectPath(POD, { namespace, name: runnerPod }));
      const summary = parseShardSummary(pod.status?.containerStatuses?.[0]?.state?.terminated?.message);
      if (!summary.ok) throw new Error(`runner pod ${runnerPod}: ${summary.message}`);
      const { passed, failed, flaky, skipped, durationMs } = summary.value;
      const log = kubectl(kubeconfigPath, 'logs', '-n', namespace, runnerPod);
      const testMs = [...log.matchAll(/^test-duration-ms (\d+) /gm)].map((m) => Number(m[1]));
      await poolIdle();
      return {
        tests: passed + failed + flaky + skipped,
        shardMs: durationMs,
        summaryDurationSeconds: done.status?.summary?.durationSeconds,
        testMs,
        createdToFinishedMs,
      };
    };

    const loadBefore = loadavg()[0] ?? NaN;
    const runs: Record<Mode, Measured[]> = { loopback: [], cluster: [] };
    for (let r = 0; r < repeats; r++) {
      for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) runs[mode].push(await run(`${mode}-${r}`, mode));
    }

    const report = (mode: Mode) => {
      const measured = runs[mode];
      const shardMs = median(measured.map((m) => m.shardMs));
      const tests = measured[0]?.tests ?? NaN;
      const testMeans = measured.map((m) => round(mean(m.testMs), 1));
      return {
        tests,
        shardMs,
        perTestMs: round(shardMs / tests, 1),
        testMeanMs: median(testMeans),
        shardMsByRepeat: measured.map((m) => m.shardMs),
        summaryDurationSecondsByRepeat: measured.map((m) => m.summaryDurationSeconds),
        testMeanMsByRepeat: testMeans,
        createdToFinishedMsByRepeat: measured.map((m) => m.createdToFinishedMs),
      };
    };
    const loopback = report('loopback');
    const cluster = report('cluster');

    console.log(JSON.stringify({
      benchmark: 'exposenetwork',
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0] ?? NaN, 2) },
      },
      what: 'one-shard TestRuns of bench/fixtures/pages (2 workers); shardMs: Playwright\'s duration of the shard ' +
        '(median over repeats); perTestMs: shardMs / tests; testMeanMs: median over repeats of the mean of the ' +
        'tests\' own durations',
      loopback: { exposeNetwork: '<loopback>', pages: 'the suite\'s webServer on the runner\'s 127.0.0.1', ...loopback },
      cluster: { exposeNetwork: '', pages: `a pod of the project's image (BASE_URL ${baseUrl})`, ...cluster },
      loopbackMinusCluster: {
        shardMs: loopback.shardMs - cluster.shardMs,
        perTestMs: round(loopback.perTestMs - cluster.perTestMs, 1),
        testMeanMs: round(loopback.testMeanMs - cluster.testMeanMs, 1),
      },
      settings: { repeats, workers: 2, pool: { replicas: 1, sessionsPerBrowser: 2 } },
    }, null, 2));
  } finally {
    await removeNamespace(namespace, controller);
  }
}

await main();
