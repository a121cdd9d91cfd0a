// What a BrowserPool aims for, as a user reads it: status.desiredReplicas and
// the Desired column of `kubectl get bp`, which an autoscaled pool fills from
// demand rather than from spec.replicas; and what it says when `kubectl scale`
// asks an autoscaled pool for a size. No node runs here: browser pods stay
// Pending, so the pool's size is the planner's alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL } from '../../src/api/resources.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, rest } from './runtime/support.ts';

const ns = useNamespace('desired');
let controller: ControllerProcess;

type Pool = KubeObject & {
  spec: { replicas: number; autoscaling?: object };
  status?: { replicas?: number; desiredReplicas?: number; observedGeneration?: number; conditions?: Condition[] };
};

const getPool = (name: string) => rest().get<Pool>(objectPath(BROWSER_POOL, { namespace: ns.name, name }));
const createPool = (name: string, spec: object) => rest().create(collectionPath(BROWSER_POOL, ns.name), {
  apiVersion: BROWSER_POOL.apiVersion, kind: BROWSER_POOL.kind, metadata: { name }, spec,
});
const scaleIgnored = (pool: Pool) => pool.status?.conditions?.find((c) => c.type === 'ScaleIgnored');

/** The pool once the controller has acted on its latest spec and its pods match what it aims for. */
const settled = (name: string, done: (pool: Pool) => boolean = () => true) => eventually(`pool ${name} to settle`, async () => {
  const pool = await getPool(name);
  const s = pool.status;
  return s?.observedGeneration === pool.metadata.generation && s?.replicas === s?.desiredReplicas && done(pool)
    ? pool
    : undefined;
}, 30_000);

/** The Desired column of `kubectl get bp <name>`. */
function desiredColumn(name: string): string {
  const table = kubectl(['get', 'bp', name, '-n', ns.name]);
  expect(table.status, table.stderr).toBe(0);
  const [header = '', row = ''] = table.stdout.trim().split('\n');
  return row.split(/\s+/)[header.split(/\s+/).indexOf('DESIRED')] ?? '';
}

async function scaleEvents(name: string): Promise<string[]> {
  const events = await rest().get<{ items: { reason?: string; note?: string; regarding?: { name?: string } }[] }>(
    `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`,
  );
  return events.items.filter((e) => e.reason === 'ScaleIgnored' && e.regarding?.name === name).map((e) => e.note ?? '');
}

beforeAll(() => {
  controller = new ControllerProcess([
    `--watch-namespace=${ns.name}`, '--metrics-bind-address=0', '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
});

afterAll(async () => {
  await controller.kill('SIGTERM');
});

describe('an autoscaled BrowserPool', () => {
  it('shows what it aims for as status.desiredReplicas and Desired, not the spec.replicas it ignores', async () => {
    await createPool('auto', { autoscaling: { minReplicas: 2, maxReplicas: 4, idleBuffer: 1 } });
    const pool = await settled('auto', (p) => p.status?.desiredReplicas === 2);
    expect(pool.spec.replicas).toBe(1);
    expect(pool.status?.replicas).toBe(2);
    expect(desiredColumn('auto')).toBe('2');
    // spec.replicas is the default it never asked for: nothing to say.
    expect(scaleIgnored(pool)).toBeUndefined();
  });

  it('says on the pool, in a condition and an Event, that kubectl scale is ignored and how to change its size', async () => {
    const scaled = kubectl(['scale', '-n', ns.name, 'bp/auto', '--replicas=5']);
    expect(scaled.status, scaled.stderr).toBe(0);
    const pool = await settled('auto', (p) => scaleIgnored(p)?.message.startsWith('spec.replicas 5 ') === true);
    expect(scaleIgnored(pool)).toMatchObject({
      status: 'True',
      reason: 'AutoscalingEnabled',
      observedGeneration: pool.metadata.generation,
    });
    expect(scaleIgnored(pool)?.message).toContain('Change autoscaling.minReplicas or maxReplicas, or remove spec.autoscaling');
    // Still what demand asks for: 2 pods, Desired 2.
    expect(pool.status).toMatchObject({ desiredReplicas: 2, replicas: 2 });
    expect(desiredColumn('auto')).toBe('2');
    const message = scaleIgnored(pool)?.message;
    await eventually('the ScaleIgnored Event, with the condition\'s text', async () =>
      (await scaleEvents('auto')).includes(message ?? ''));

    // Another size asked for: said again.
    expect(kubectl(['scale', '-n', ns.name, 'bp/auto', '--replicas=3']).status).toBe(0);
    await settled('auto', (p) => scaleIgnored(p)?.message.startsWith('spec.replicas 3 ') === true);
    await eventually('a ScaleIgnored Event for the new size', async () =>
      (await scaleEvents('auto')).some((note) => note.startsWith('spec.replicas 3 ')));
  });

  it('takes spec.replicas again once autoscaling is removed, and the condition goes', async () => {
    await rest().mergePatch(objectPath(BROWSER_POOL, { namespace: ns.name, name: 'auto' }), { spec: { autoscaling: null } });
    const pool = await settled('auto', (p) => p.status?.desiredReplicas === 3);
    expect(pool.status?.replicas).toBe(3);
    expect(scaleIgnored(pool)).toBeUndefined();
    expect(desiredColumn('auto')).toBe('3');
    const sizes = (await scaleEvents('auto')).map((note) => note.split(' ')[1]);
    expect(new Set(sizes)).toEqual(new Set(['5', '3']));
  });
});

describe('a BrowserPool without autoscaling', () => {
  it('aims for spec.replicas, follows kubectl scale, and says nothing of it', async () => {
    await createPool('fixed', { replicas: 3 });
    await settled('fixed', (p) => p.status?.desiredReplicas === 3);
    expect(desiredColumn('fixed')).toBe('3');
    expect(kubectl(['scale', '-n', ns.name, 'bp/fixed', '--replicas=1']).status).toBe(0);
    const pool = await settled('fixed', (p) => p.status?.desiredReplicas === 1);
    expect(desiredColumn('fixed')).toBe('1');
    expect(scaleIgnored(pool)).toBeUndefined();
    expect(await scaleEvents('fixed')).toEqual([]);
  });
});
