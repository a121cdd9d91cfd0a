// The TestRun controller's reconcile of a git-sourced run, with its caches and API writes in memory and the
// repository on the real git server of hack/ (127.0.0.1): what it writes, and what it does not create.
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitRepository, type GitServer, startGitServer } from '../../../hack/lib/gitserver.ts';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import {
  LEASE_ANNOTATION,
  LEASED_TO_LABEL,
  POOL_LABEL,
  STATE_LABEL,
  WS_PATH_ANNOTATION,
} from '../../../src/contracts/browser-lease.ts';
import { testRunController } from '../../../src/controllers/testrun/index.ts';
import type { ReconcileContext } from '../../../src/runtime/controller.ts';
import type { EventRecorder } from '../../../src/runtime/events.ts';
import { ApiError, type RestClient } from '../../../src/runtime/rest.ts';
import { Store } from '../../../src/runtime/store.ts';

const NS = 'team-a';
const UID = 'run-uid-1';
let server: GitServer;
let repo: GitRepository;

beforeAll(async () => {
  server = await startGitServer({ host: '127.0.0.1', token: 'tok-5be2d' });
  repo = server.createRepository('e2e', { protected: true });
});
afterAll(() => server.stop());

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type Status = Record<string, unknown> & { conditions?: Condition[] };

/** One reconcile with the given objects in the caches; returns what it wrote, created and said. */
async function reconcile(objects: KubeObject[], run: KubeObject, signal = new AbortController().signal) {
  const stores = new Map<string, Store>();
  const cache = (type: ResourceType) => {
    if (!stores.has(type.kind)) stores.set(type.kind, new Store());
    return stores.get(type.kind) as Store;
  };
  for (const obj of [...objects, run]) cache({ kind: obj.kind ?? '' } as ResourceType).upsert(obj);
  let stored = run as KubeObject & { status?: Status };
  const statuses: Status[] = [];
  const created: KubeObject[] = [];
  const rest = {
    apply: (_path: string, body: { status: Status }) => {
      statuses.push(body.status);
      stored = { ...stored, status: body.status };
      return Promise.resolve(stored);
    },
    mergePatch: (_path: string, patch: { metadata: { finalizers: string[] } }) => {
      stored = { ...stored, metadata: { ...stored.metadata, finalizers: patch.metadata.finalizers } };
      return Promise.resolve(stored);
    },
    create: (_path: string, body: KubeObject) => {
      created.push(body);
      return Promise.resolve(body);
    },
    delete: () => Promise.resolve({}),
    // Only browsers are read (to hand them back): say each is gone, which ends the give-back.
    get: (path: string) => Promise.reject(new ApiError('GET', path, 404, { reason: 'NotFound' })),
  } as unknown as RestClient;
  const events: string[] = [];
  const ctx = {
    log: pino({ level: 'silent' }),
    reconcileID: 'r1',
    signal,
    cache,
    rest,
    events: { emit: (_obj: KubeObject, e: { reason: string; note: string }) => events.push(`${e.reason}: ${e.note}`) } as unknown as EventRecorder,
  } as unknown as ReconcileContext;
  const controller = testRunController({ image: 'fleetwright:dev', registry: new Registry(), now: () => new Date('2026-12-06T10:00:00Z') });
  let result: unknown;
  let error: unknown;
  try {
    result = await controller.reconcile({ namespace: NS, name: 'e2e' }, ctx);
  } catch (err) {
    error = err;
  }
  return { result, error, statuses, created, events, last: statuses.at(-1) };
}

const testRun = (git: Record<string, unknown>, status?: Status): KubeObject => ({
  apiVersion: 'fleetwright.dev/v1alpha1',
  kind: 'TestRun',
  metadata: { name: 'e2e', namespace: NS, uid: UID, generation: 1, resourceVersion: '1', creationTimestamp: '2026-12-06T09:59:00Z' },
  spec: { poolRef: { name: 'chromium' }, source: { git } },
  ...(status ? { status } : {}),
} as KubeObject);
const pool: KubeObject = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', metadata: { name: 'chromium', namespace: NS }, spec: { replicas: 1 } } as KubeObject;
const secret = (data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git', namespace: NS },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
} as KubeObject);
/** A browser of the pool leased to attempt `attempt` of shard 1, labelled as a lease labels it. */
const browser = (attempt: number) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name: 'chromium-x', namespace: NS,
    labels: { [POOL_LABEL]: 'chromium', [STATE_LABEL]: 'leased', [LEASED_TO_LABEL]: 'e2e' },
    annotations: {
      [LEASE_ANNOTATION]: JSON.stringify({ holder: `${UID}/1/${attempt}`, kind: 'TestRun', ref: `${NS}/e2e`, since: '2026-12-06T09:59:30Z' }),
      [WS_PATH_ANNOTATION]: '/pw-x',
    },
  },
  status: { phase: 'Running', podIP: '10.244.0.9' },
} as KubeObject);
const scheduled = (status: Status | undefined) => status?.conditions?.find((c) => c.type === 'Scheduled');

describe('reconciling a git-sourced TestRun', () => {
  it('waits for a missing Secret, as for a missing ConfigMap, and makes nothing', async () => {
    const { last, created, events, result } = await reconcile([pool], testRun({ url: repo.url, secretRef: { name: 'git' } }));
    expect(last?.phase).toBe('Pending');
    expect(scheduled(last)).toMatchObject({ status: 'False', reason: 'SourceNotFound' });
    expect(events[0]).toMatch(/^SourceNotFound: Secret git with the credentials of repository/);
    expect(created).toEqual([]);
    expect(result).toEqual({ requeueAfter: 30_000 });
  });

  it('stays Pending on refused credentials, with nothing of the token anywhere, and asks again soon', async () => {
    repo.commit({ 'a.spec.ts': 'x' }, 'first');
    const { last, created, events, result } = await reconcile([pool, secret({ token: 'not-the-token' })],
      testRun({ url: repo.url, revision: 'main', secretRef: { name: 'git' } }));
    expect(scheduled(last)).toMatchObject({
      status: 'False',
      reason: 'SourceUnavailable',
      message: `repository ${repo.url} at revision main: the server refused the credentials of Secret git (HTTP 401): ` +
        'fix its token, or its username and password, or give them access to the repository',
    });
    expect(JSON.stringify({ last, events })).not.toMatch(/not-the-token|bm90LXRoZS10b2tlbg/);
    expect(last?.source).toBeUndefined();
    expect(created).toEqual([]);
    expect(result).toEqual({ requeueAfter: 5_000 });
  });

  it('pins the revision to its commit before any shard starts, then queues the shard', async () => {
    const tip = repo.commit({ 'a.spec.ts': 'pinned' }, 'pinned');
    const { statuses, created, events } = await reconcile([pool, secret({ token: server.token })],
      testRun({ url: repo.url, revision: 'main', secretRef: { name: 'git' } }));
    expect(statuses[0]?.source).toEqual({ revision: 'refs/heads/main', commit: tip });
    expect(statuses.at(-1)).toMatchObject({ phase: 'Queued', source: { commit: tip } });
    expect(events[0]).toBe(`SourcePinned: pinned revision main (refs/heads/main) to commit ${tip}: every shard runs it`);
    // The shard's request for a browser: no runner pod until a browser is leased to it.
    expect(created.map((o) => o.kind)).toEqual(['Lease']);
  });

  it('starts a shard on the pinned commit after its branch has moved on, without asking the remote again', async () => {
    const pinned = repo.commit({ 'a.spec.ts': 'pinned' }, 'pinned');
    repo.commit({ 'a.spec.ts': 'moved on' }, 'moved on');
    // No Secret: a pinned run never needs the remote again (its runner pods mount the Secret themselves).
    const { created } = await reconcile([pool, browser(1)], testRun({ url: repo.url, revision: 'main', secretRef: { name: 'git' } }, {
      phase: 'Queued', source: { revision: 'refs/heads/main', commit: pinned },
    }));
    expect(created.map((o) => o.kind)).toEqual(['Pod']);
    const pod = created[0] as unknown as { spec: { initContainers: { env: { name: string; value: string }[] }[] } };
    expect(pod.spec.initContainers[0]?.env).toContainEqual({ name: 'FLEETWRIGHT_GIT_COMMIT', value: pinned });
  });

  it('ends the attempt on fetch-source\'s termination message when the runner pod could not fetch the tests', async () => {
    const commit = 'f'.repeat(40);
    const why = `repository ${repo.url} at revision main: commit ${commit} has no folder e2e: fix spec.source.git.path`;
    const runner = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: 'e2e-1-1', namespace: NS,
        labels: { 'fleetwright.dev/testrun': 'e2e', 'fleetwright.dev/shard': '1', 'fleetwright.dev/attempt': '1' },
        ownerReferences: [{ apiVersion: 'fleetwright.dev/v1alpha1', kind: 'TestRun', name: 'e2e', uid: UID, controller: true }],
      },
      status: {
        phase: 'Failed',
        initContainerStatuses: [{ name: 'fetch-source', state: { terminated: { exitCode: 1, message: why } } }],
        containerStatuses: [{ name: 'runner', state: { waiting: { reason: 'PodInitializing' } } }],
      },
    } as KubeObject;
    const { last } = await reconcile([pool, browser(1), runner], testRun({ url: repo.url, revision: 'main', path: 'e2e' }, {
      phase: 'Running',
      source: { revision: 'refs/heads/main', commit },
      shards: [{ index: 1, phase: 'Running', attempts: 1, runnerPod: 'e2e-1-1', browserPod: 'chromium-x' }],
    }));
    expect((last?.shards as { message?: string }[])[0]?.message)
      .toBe(`attempt 1 failed: runner pod e2e-1-1 could not fetch the tests: ${why}; retrying`);
  });

  it('writes nothing when the controller stops while the remote has not answered', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const { port } = silent.address() as { port: number };
    try {
      const { error, statuses, events, created } =
        await reconcile([pool], testRun({ url: `http://127.0.0.1:${port}/e2e.git` }), AbortSignal.timeout(200));
      expect(error).toBeDefined();
      expect({ statuses, events, created }).toEqual({ statuses: [], events: [], created: [] });
    } finally {
      silent.close();
    }
  });
});
