// What scheduling a TestRun costs next to the tests themselves, and how many
// queued runs the controller gets through.
//
//   npm run bench:testrun [-- --runs=100 --repeats=3]
//
//   overhead:   a warm pool of 4, a TestRun of 4 shards of test/fixtures/suite:
//               time from creating the run until every shard's runner pod has its
//               leased browser, next to the time the suite's own tests took
//               (status.summary.durationSeconds);
//   throughput: 100 one-shard TestRuns of a one-test suite queued at once on that
//               pool: time until all have finished, and runs per minute.
//
// Against the real API server, node and image of hack/ (started when not running),
// with `fleetwright controller` as its own process. Prints one JSON object. A
// benchmark, not a test: nothing here asserts a time.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { repoRoot } from '../hack/lib/paths.ts';
import { POD } from '../src/api/builtin.ts';
import type { KubeObject } from '../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN } from '../src/api/resources.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { benchCluster, removeNamespace, rest, startController } from './cluster.ts';

const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '100' }, repeats: { type: 'string', default: '3' } },
});
const runCount = Number(flags.runs);
const repeats = Number(flags.repeats);

type Run = KubeObject & { status?: { phase?: string; summary?: { durationSeconds?: number } } };

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 900_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const finished = (r: Run) => ['Succeeded', 'Failed', 'Error'].includes(r.status?.phase ?? '');

async function createRun(namespace: string, name: string, configMap: string, shards: number) {
  await rest().create(collectionPath(TEST_RUN, namespace), {
    apiVersion: TEST_RUN.apiVersion,
    kind: TEST_RUN.kind,
    metadata: { name },
    spec: { poolRef: { name: 'bench' }, source: { configMap: { name: configMap } }, shards },
  });
}

async function main(): Promise<void> {
  const { image, namespace } = await benchCluster();
  const controller = startController(namespace, image);
  try {
    const suiteDir = join(repoRoot, 'test', 'fixtures', 'suite');
    const suite = Object.fromEntries(readdirSync(suiteDir).map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')]));
    await rest().create(`/api/v1/namespaces/${namespace}/configmaps`, { metadata: { name: 'suite' }, data: suite });
    await rest().create(`/api/v1/namespaces/${namespace}/configmaps`, {
      metadata: { name: 'tiny' },
      data: {
        'tiny.spec.ts': 'import { test, expect } from \'@playwright/test\';\n' +
          'test(\'renders\', async ({ page }) => {\n  await page.setContent(\'<h1>ok</h1>\');\n' +
          '  await expect(page.locator(\'h1\')).toHaveText(\'ok\');\n});\n',
      },
    });
    await rest().create(collectionPath(BROWSER_POOL, namespace), {
      apiVersion: BROWSER_POOL.apiVersion,
      kind: BROWSER_POOL.kind,
      metadata: { name: 'bench' },
      spec: { replicas: 4, sessionsPerBrowser: 2 },
    });
    const poolPath = objectPath(BROWSER_POOL, { namespace, name: 'bench' });
    const poolIdle = () => until('4 idle browsers', async () =>
      (await rest().get<{ status?: { idle?: number } }>(poolPath)).status?.idle === 4 ? true : undefined);
    await poolIdle();

    const overhead: { schedulingMs: number; testsSeconds: number }[] = [];
    for (let i = 0; i < repeats; i++) {
      const name = `sharded-${i}`;
      const started = performance.now();
      await createRun(namespace, name, 'suite', 4);
      await until('4 runner pods', async () => {
        const pods = await rest().get<{ items: unknown[] }>(collectionPath(POD, namespace), {
          labelSelector: `fleetwright.dev/testrun=${name}`,
        });
        return pods.items.length === 4 ? true : undefined;
      });
      const schedulingMs = Math.round(performance.now() - started);
      const run = await until('the run to finish', async () => {
        const r = await rest().get<Run>(objectPath(TEST_RUN, { namespace, name }));
        return finished(r) ? r : undefined;
      });
      overhead.push({ schedulingMs, testsSeconds: run.status?.summary?.durationSeconds ?? NaN });
      await poolIdle();
    }

    const started = performance.now();
    await Promise.all(Array.from({ length: runCount }, (_, i) => createRun(namespace, `queued-${i}`, 'tiny', 1)));
    const created = performance.now();
    await until(`${runCount} runs to finish`, async () => {
      const list = await rest().get<{ items: Run[] }>(collectionPath(TEST_RUN, namespace));
      return list.items.filter((r) => r.metadata.name?.startsWith('queued-') && finished(r)).length === runCount ? true : undefined;
    });
    const allDoneMs = performance.now() - started;

    console.log(JSON.stringify({
      benchmark: 'testrun',
      machine: { cpus: cpus().length, node: process.version },
      overhead: {
        what: 'TestRun of 4 shards on a warm pool of 4: creation until every shard has its runner pod on a leased browser',
        runs: overhead,
      },
      throughput: {
        what: `${runCount} one-shard TestRuns of a one-test suite queued at once on a pool of 4 browsers`,
        createMs: Math.round(created - started),
        allFinishedMs: Math.round(allDoneMs),
        runsPerMinute: Math.round((runCount / allDoneMs) * 60_000 * 10) / 10,
      },
    }, null, 2));
  } finally {
    await removeNamespace(namespace, controller);
  }
}

await main();
