// What a TestRun pass reads before it acts: the spec, the pool, the tests
// (a ConfigMap, or a git revision pinned to a commit), the registry Secret.
// A run that cannot be scheduled stops here, before the frame adds the
// finalizer: Pending, with a condition and an Event that say what to fix.
import { CONFIG_MAP, SECRET, type SecretObject } from '../../api/builtin.ts';
import { type BrowserPoolObject, isFinished, type TestRunObject } from '../../api/objects.ts';
import { BROWSER_POOL } from '../../api/resources.ts';
import { type TestRun, TestRunResource } from '../../api/v1alpha1/index.ts';
import { parseResource } from '../../api/validate.ts';
import type { ObjectPass, Observation, Outcome } from '../../runtime/reconciler.ts';
import { keyOf } from '../../runtime/resource.ts';
import { npmrcSecretProblem } from './pod.ts';
import { type PinnedSource, planSource, sourceRetryAfterMs } from './source.ts';
import { notScheduled } from './status.ts';

/** How long a reconcile waits for a git remote to list its refs. */
const RESOLVE_TIMEOUT_MS = 15_000;

/** What the run's pool offers its shards. */
export interface PoolFacts {
  /** The engine of the pool: runners run only the suite's projects of it. */
  browser: string;
  /** Clients each browser of the pool serves at once: the most workers a runner may start. */
  sessions: number;
  /** How many browsers the pool can ever run at once. */
  capacity: number;
}

/** What a pass acts on: a finished run (leftovers, its TTL), or one that can be scheduled. */
export type Observed = { finished: true; spec: TestRun } | Scheduled;

/** A run that can be scheduled, with what its pool offers and the commit a git source runs. */
export interface Scheduled {
  finished: false;
  spec: TestRun;
  pool: PoolFacts;
  pinned?: PinnedSource;
}

/** A git source's commit (none for other sources), or `wait`: the run cannot start yet. */
type SourceOutcome = { pinned?: PinnedSource } | { wait: Outcome };

export async function observeRun(cached: TestRunObject, pass: ObjectPass): Promise<Observation<Observed>> {
  const { request } = pass;
  let run = cached;
  const parsed = parseResource(TestRunResource, run);
  if (!parsed.ok) return { stop: notScheduled(run, 'InvalidSpec', parsed.message, pass) };
  const spec = parsed.value;
  if (isFinished(run)) return { act: { finished: true, spec } };

  const poolKey = keyOf({ namespace: request.namespace, name: spec.spec.poolRef.name });
  const pool = pass.cache<BrowserPoolObject>(BROWSER_POOL).get(poolKey);
  if (!pool) {
    return { stop: notScheduled(run, 'PoolNotFound',
      `BrowserPool ${spec.spec.poolRef.name} does not exist in namespace ${request.namespace}: create it or fix spec.poolRef`, pass) };
  }
  const configMap = spec.spec.source.configMap;
  if (configMap && !pass.cache(CONFIG_MAP).get(keyOf({ namespace: request.namespace, name: configMap.name }))) {
    return { stop: notScheduled(run, 'SourceNotFound',
      `ConfigMap ${configMap.name} with the tests does not exist in namespace ${request.namespace}: ` +
      'create it (fleetwright run packs a folder into one) or fix spec.source.configMap', pass) };
  }
  const npmrc = spec.spec.dependencies?.npmrcSecretRef;
  const npmrcProblem = npmrc && npmrcSecretProblem(npmrc, request.namespace,
    pass.cache<SecretObject>(SECRET).get(keyOf({ namespace: request.namespace, name: npmrc.name })));
  // Else the runner pods would wait in ContainerCreating for a volume that cannot be mounted.
  if (npmrcProblem) return { stop: notScheduled(run, 'NpmrcSecretNotFound', npmrcProblem, pass) };
  const source = await pinSource(run, spec, pass);
  if ('wait' in source) return { stop: source.wait };
  if (source.pinned) run = { ...run, status: { ...run.status, source: source.pinned } };
  const capacity = pool.spec?.autoscaling?.maxReplicas ?? pool.spec?.replicas ?? 0;
  if (capacity === 0) {
    return { stop: notScheduled(run, 'PoolHasNoCapacity',
      `BrowserPool ${spec.spec.poolRef.name} may run no browsers (replicas or autoscaling.maxReplicas is 0): scale it up`, pass) };
  }
  // The API server defaults spec.browser.
  const facts = { browser: pool.spec?.browser ?? 'chromium', sessions: pool.spec?.sessionsPerBrowser ?? 1, capacity };
  return { act: { finished: false, spec, pool: facts, ...(source.pinned ? { pinned: source.pinned } : {}) } };
}

/**
 * A git source's commit: the one pinned, or else the one its revision names now, written into
 * status.source before any shard starts. `wait`: the run cannot start yet (Scheduled=False says why).
 */
async function pinSource(run: TestRunObject, spec: TestRun, pass: ObjectPass): Promise<SourceOutcome> {
  const { request } = pass;
  const secretName = spec.spec.source.git?.secretRef?.name;
  const secret = secretName
    ? pass.cache<SecretObject>(SECRET).get(keyOf({ namespace: request.namespace, name: secretName }))
    : undefined;
  const plan = planSource(request.namespace, spec.spec, run.status?.source, secret);
  switch (plan.type) {
    case 'none':
      return {};
    case 'pinned':
      return { pinned: plan.source };
    case 'unavailable':
      return { wait: notScheduled(run, plan.reason, plan.message, pass, sourceRetryMs(run, plan.reason, pass.now)) };
    case 'resolve': {
      let pinned: PinnedSource;
      try {
        // Loaded on the first git source: isomorphic-git and ssh2 are memory a controller without one never needs.
        const { resolveRevision } = await import('../../git/remote.ts');
        pinned = await resolveRevision(plan.remote, plan.revision, RESOLVE_TIMEOUT_MS, pass.signal);
      } catch (err) {
        // Stopped, not failed: this replica writes nothing more.
        if (pass.signal.aborted) throw err;
        // resolveRevision's errors name the repository without credentials and never quote them.
        const message = err instanceof Error ? err.message : String(err);
        const retryMs = sourceRetryMs(run, 'SourceUnavailable', pass.now);
        return { wait: notScheduled(run, 'SourceUnavailable', message, pass, retryMs) };
      }
      // Stored before the pass goes on: every shard, started by this pass or a later one, runs this commit.
      await pass.writeStatusNow({ ...run.status, source: pinned, observedGeneration: run.metadata.generation });
      const note = `pinned revision ${plan.revision ?? 'HEAD'} (${pinned.revision}) to commit ${pinned.commit}: every shard runs it`;
      pass.log.info({ commit: pinned.commit, revision: pinned.revision }, note);
      await pass.events.emit(run, { type: 'Normal', reason: 'SourcePinned', action: 'Schedule', note });
      return { pinned };
    }
  }
}

/** Secrets are watched: a missing one is waited for. An unavailable remote is asked again with backoff. */
function sourceRetryMs(run: TestRunObject, reason: string, now: Date): number {
  if (reason !== 'SourceUnavailable') return 30_000;
  const scheduled = run.status?.conditions?.find((c) => c.type === 'Scheduled');
  const failingSince = scheduled?.status === 'False' && scheduled.reason === reason ? scheduled.lastTransitionTime : undefined;
  return sourceRetryAfterMs(failingSince, now);
}
