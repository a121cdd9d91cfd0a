// How long the controller runtime takes to converge on 2,000 objects, and its memory.
//
//   npm run bench:controller [-- --objects=2000 --workers=2]
//
// Against the real API server of hack/ (started when it is not running). Two runs,
// each a fresh controller process with a no-op reconciler over ConfigMaps in a
// namespace of their own:
//   watch:      the controller runs first, then the objects are created (20 at a time):
//               how long until its cache holds them all and each key was reconciled;
//   cold start: the objects exist, then the controller starts: time to list them into
//               the cache (caches synced) and to reconcile every key.
// Prints one JSON object. A benchmark, not a test: nothing here asserts a time.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { up } from '../hack/controlplane.ts';
import { kubeconfigPath } from '../hack/lib/paths.ts';
import type { ResourceType } from '../src/api/meta.ts';
import { Manager } from '../src/runtime/manager.ts';
import { Metrics } from '../src/runtime/metrics.ts';
import { collectionPath, objectPath } from '../src/runtime/resource.ts';
import { RestClient } from '../src/runtime/rest.ts';

const configMaps: ResourceType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };

interface Progress {
  synced: boolean;
  cached: number;
  reconciled: number;
  rssBytes: number;
  maxRssBytes: number;
}

const kubeConfig = () => {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
};

/** The controller process: a no-op reconciler; reports its progress to the parent every 10 ms. */
async function controller(namespace: string, workers: number): Promise<void> {
  const seen = new Set<string>();
  const manager = new Manager({
    kubeConfig: kubeConfig(),
    log: pino({ level: 'warn' }),
    metrics: new Metrics(),
    namespace,
    controllers: [{
      name: 'noop',
      for: configMaps,
      maxConcurrentReconciles: workers,
      reconcile: async (r) => {
        seen.add(r.name);
      },
    }],
  });
  const report = setInterval(() => {
    const progress: Progress = {
      synced: manager.ready,
      cached: manager.informer(configMaps).store.size,
      reconciled: seen.size,
      rssBytes: process.memoryUsage.rss(),
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    process.send?.(progress);
  }, 10);
  process.once('disconnect', () => {
    clearInterval(report);
    void manager.shutdown(1000).then(() => process.exit(0));
  });
  await manager.start();
}

/** A controller child process, and the moments its reports reach a state. */
function startController(namespace: string, workers: number) {
  const child = fork(import.meta.filename, ['--controller', namespace, `--workers=${workers}`]);
  let last: Progress = { synced: false, cached: 0, reconciled: 0, rssBytes: 0, maxRssBytes: 0 };
  const waiters: { reached: (p: Progress) => boolean; resolve: (t: number) => void }[] = [];
  // Resolves with the time (performance.now()) of the first report that satisfies `reached`.
  child.on('message', (p: Progress) => {
    last = p;
    for (const w of [...waiters]) {
      if (w.reached(p)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(performance.now());
      }
    }
  });
  return {
    latest: () => last,
    when: (reached: (p: Progress) => boolean) => new Promise<number>((resolve) => waiters.push({ reached, resolve })),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
      return last;
    },
  };
}

async function createAll(rest: RestClient, namespace: string, count: number): Promise<void> {
  const names = Array.from({ length: count }, (_, i) => `obj-${i}`);
  await Promise.all(Array.from({ length: 20 }, async () => {
    for (let name = names.shift(); name; name = names.shift()) {
      await rest.create(collectionPath(configMaps, namespace), { metadata: { name }, data: { i: name } });
    }
  }));
}

const ms = (t: number) => Math.round(t);
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { objects: { type: 'string', default: '2000' }, workers: { type: 'string', default: '2' } } });
  const objects = Number(values.objects);
  const workers = Number(values.workers);
  await up(() => undefined);
  const rest = new RestClient(kubeConfig());
  const namespace = `bench-${randomBytes(3).toString('hex')}`;
  await rest.create('/api/v1/namespaces', { metadata: { name: namespace } });
  try {
    const live = startController(namespace, workers);
    await live.when((p) => p.synced);
    const idleRss = live.latest().rssBytes;
    const t0 = performance.now();
    const cachedAll = live.when((p) => p.cached === objects);
    const reconciledAll = live.when((p) => p.reconciled === objects);
    await createAll(rest, namespace, objects);
    const created = performance.now();
    const watch = {
      controllerRssBeforeMiB: mib(idleRss),
      createMs: ms(created - t0),
      cacheConvergedMs: ms((await cachedAll) - t0),
      reconciledAllMs: ms((await reconciledAll) - t0),
      controllerPeakRssMiB: mib((await live.stop()).maxRssBytes),
    };

    const t1 = performance.now();
    const cold = startController(namespace, workers);
    const synced = cold.when((p) => p.synced && p.cached === objects);
    const reconciled = cold.when((p) => p.reconciled === objects);
    const coldStart = {
      cacheSyncedMs: ms((await synced) - t1),
      reconciledAllMs: ms((await reconciled) - t1),
      controllerPeakRssMiB: mib((await cold.stop()).maxRssBytes),
    };
    console.log(JSON.stringify({
      benchmark: 'controller-convergence',
      objects,
      workers,
      watch,
      coldStart,
      node: process.version,
      cpus: cpus().length,
    }, null, 2));
  } finally {
    await rest.delete(objectPath({ ...configMaps, plural: 'namespaces', namespaced: false }, { name: namespace }));
  }
}

const args = process.argv.slice(2);
if (args[0] === '--controller') {
  await controller(args[1] as string, Number(/--workers=(\d+)/.exec(args.join(' '))?.[1] ?? 2));
} else {
  await main();
}
