// The TestRun controller: queues a run's shards on its pool, starts a runner
// pod per shard on its leased browser, folds the runners' summaries into
// status, retries shards whose infrastructure failed, and cleans up. Every
// decision about a shard is planShard's. A pass reads what it needs
// (observe.ts), acts on the shards (act.ts) and returns the status
// (status.ts); stopping a run is cleanup.ts's. This file says what the
// controller watches and puts the parts into the reconciler frame.
import type { Registry } from 'prom-client';
import { CONFIG_MAP, LEASE, NETWORK_POLICY, NODE, type NodeObject, POD, type PodObject, SECRET } from '../../api/builtin.ts';
import type { KubeObject } from '../../api/meta.ts';
import { isFinished, type TestRunObject } from '../../api/objects.ts';
import { BROWSER_POOL, TEST_RUN } from '../../api/resources.ts';
import { leaseOf } from '../../leasing/lease.ts';
import { nodeLost, nodeReadiness } from '../../leasing/nodes.ts';
import { QueueIndex } from '../../leasing/queue-index.ts';
import { type Controller, generationChanged } from '../../runtime/controller.ts';
import { defineReconciler } from '../../runtime/reconciler.ts';
import type { Request } from '../../runtime/resource.ts';
import type { Reader } from '../../runtime/store.ts';
import type { NetworkPolicyConfig } from '../networkpolicy.ts';
import { type RunDeps, ShardPass } from './act.ts';
import { cleanUp, finishedRun } from './cleanup.ts';
import { TestRunMetrics } from './metrics.ts';
import { type Observed, observeRun } from './observe.ts';
import { TESTRUN_LABEL } from './pod.ts';
import { RunnerProgress } from './progress.ts';
import { queueMoves } from './requeue.ts';

export const CLEANUP_FINALIZER = 'fleetwright.dev/testrun-cleanup';

export interface TestRunOptions {
  /** The default runner image. */
  image: string;
  /** The report store's URL as runner pods reach it; unset: runners upload no report. */
  reportStoreUrl?: string;
  registry: Registry;
  /** Set: each run gets the NetworkPolicy that lets its runners reach its browsers. */
  networkPolicy?: NetworkPolicyConfig;
  now?: () => Date;
}

/** The unfinished runs a pool or ConfigMap event concerns (a finished run no longer looks at either). */
function runsUsing(field: (run: TestRunObject) => string | undefined, runs: () => TestRunObject[]) {
  return (obj: KubeObject): Request[] =>
    runs()
      .filter((run) => run.metadata.namespace === obj.metadata.namespace && field(run) === obj.metadata.name)
      .filter((run) => !isFinished(run))
      .map((run) => ({ namespace: run.metadata.namespace ?? '', name: run.metadata.name ?? '' }));
}

/** The runs with a runner pod on `node`, when it is lost: their shards there are retried at once. */
const runsOnLostNode = (pods: () => PodObject[]) => (node: KubeObject): Request[] => {
  if (!nodeLost(node as NodeObject)) return [];
  const keys = new Map<string, Request>();
  for (const pod of pods()) {
    const run = pod.metadata.labels?.[TESTRUN_LABEL];
    if (!run || pod.spec?.nodeName !== node.metadata.name) continue;
    keys.set(`${pod.metadata.namespace}/${run}`, { namespace: pod.metadata.namespace ?? '', name: run });
  }
  return [...keys.values()];
};

export function testRunController(options: TestRunOptions): Controller {
  // The map functions and the phase gauge read the TestRun and Pod caches, which the frame hands over once at start.
  let runCache: () => Reader<TestRunObject> | undefined = () => undefined;
  const runs = () => runCache()?.list() ?? [];
  let pods: () => PodObject[] = () => [];
  // The pools' queues, kept from the Lease watch: which runs a request's change moved, and each run's place.
  const queue = new QueueIndex();
  const deps: RunDeps = {
    image: options.image,
    reportStoreUrl: options.reportStoreUrl,
    networkPolicy: options.networkPolicy !== undefined,
    metrics: new TestRunMetrics(options.registry, runs),
    progress: new RunnerProgress(),
    queue,
  };
  return defineReconciler<TestRunObject, Observed>({
    name: 'testrun',
    for: TEST_RUN,
    // Secrets: a run's upload token, so that one deleted by hand is made again for the next runner.
    // A run's NetworkPolicy edited or deleted by hand is written again.
    owns: options.networkPolicy ? [POD, SECRET, NETWORK_POLICY] : [POD, SECRET],
    watches: [
      // A run reads the pool's spec, never its status (which moves with every browser and request).
      { type: BROWSER_POOL, map: runsUsing((run) => run.spec?.poolRef?.name, runs), updated: generationChanged },
      { type: CONFIG_MAP, map: runsUsing((run) => run.spec?.source?.configMap?.name, () => runs()) },
      // A git source's credentials created or fixed: a run waiting for them pins its commit at once.
      { type: SECRET, map: runsUsing((run) => run.spec?.source?.git?.secretRef?.name, () => runs()) },
      // A queued run's queuePosition moves when a request of its pool joins, leaves or moves ahead of it.
      { type: LEASE, changes: queueMoves(queue, (key) => runCache()?.get(key)) },
      {
        // Browser pods leased to a run: a lost browser must be noticed at once.
        type: POD,
        map: (pod) => {
          const lease = leaseOf(pod);
          if (lease?.kind !== 'TestRun') return [];
          const [namespace = '', name = ''] = lease.ref.split('/');
          return [{ namespace, name }];
        },
      },
      // A node that goes NotReady wakes the runs with runners on it; a Ready node's updates wake none.
      { type: NODE, map: runsOnLostNode(() => pods()), transform: (node) => nodeReadiness(node as NodeObject) },
    ],
    maxConcurrentReconciles: 4,
    clock: options.now,
    setup: (cache) => {
      const store = cache<TestRunObject>(TEST_RUN);
      runCache = () => store;
      // The Lease watch replays every cached Lease once it is registered.
      queue.clear();
      pods = () => cache<PodObject>(POD).list();
    },
    observe: observeRun,
    reconcile: (run, pass, observed) => observed.finished
      ? finishedRun(pass, run, observed.spec)
      : new ShardPass(pass, run, observed, deps).reconcile(),
    // A run being deleted stops its runners and hands its browsers back first.
    finalizer: { name: CLEANUP_FINALIZER, finalize: cleanUp },
  });
}
