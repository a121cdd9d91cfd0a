import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectionPath, objectPath, type Request } from '../../../src/runtime/resource.ts';
import { configMaps, secrets, toyController } from '../../fixtures/runtime/toy.ts';
import { useNamespace } from '../helpers.ts';
import { eventually, rest, startManager } from './support.ts';

const ns = useNamespace('rt-retries');

describe('failures and conflicts', () => {
  const passes = new Map<string, number[]>();
  let env: Awaited<ReturnType<typeof startManager>>;

  beforeAll(async () => {
    const observer = {
      reconciling: (r: Request, at: number) => passes.set(r.name, [...(passes.get(r.name) ?? []), at]),
    };
    env = await startManager([toyController(observer)], ns.name);
  });
  afterAll(async () => {
    await env.stop();
  });

  const linesFor = (name: string) => env.lines.filter((l) => l.name === name);

  it('retries a reconciler that fails N times with growing delays, then succeeds', async () => {
    const api = rest();
    await api.create(collectionPath(configMaps, ns.name), {
      metadata: { name: 'flaky', labels: { toy: 'source' }, annotations: { 'toy/fail-times': '6' } },
      data: { a: '1' },
    });
    await eventually('the Secret after the failures', () => api.get(objectPath(secrets, { namespace: ns.name, name: 'flaky' })));

    // 6 failures and the success; the new Secret's event brings one more (no-op) pass.
    const times = (passes.get('flaky') ?? []).slice(0, 7);
    expect(times).toHaveLength(7);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // 5 ms doubling per failure. Lower bounds only: a timer never fires early (1 ms for clock
    // rounding), but a busy machine may run it late, so upper bounds would be a timed test.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(5 * 2 ** i - 1));

    const errors = linesFor('flaky').filter((l) => l.level === 'error');
    expect(errors.map((l) => l.retries)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(errors[0]).toMatchObject({ controller: 'toy', namespace: ns.name, name: 'flaky' });
    expect(errors[0]?.msg).toContain(`reconcile ${ns.name}/flaky failed: ConfigMap ${ns.name}/flaky: failing on purpose`);
    expect(typeof errors[0]?.reconcileID).toBe('string');
    const text = await env.metrics.registry.metrics();
    expect(text).toMatch(/^controller_runtime_reconcile_errors_total\{controller="toy"\} 6$/m);
  });

  it('retries a 409 conflict without logging an error', async () => {
    const api = rest();
    await api.create(collectionPath(configMaps, ns.name), {
      metadata: { name: 'contended', labels: { toy: 'source' }, annotations: { 'toy/conflict-once': '' } },
      data: { a: '1' },
    });
    await eventually('the Secret after the conflict', () =>
      api.get(objectPath(secrets, { namespace: ns.name, name: 'contended' })));
    const lines = linesFor('contended');
    expect(lines.filter((l) => l.msg.startsWith('conflict (409)'))).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    expect(passes.get('contended')?.length).toBeGreaterThanOrEqual(2);
    const text = await env.metrics.registry.metrics();
    expect(text).toMatch(/^controller_runtime_reconcile_total\{controller="toy",result="requeue"\} [1-9]/m);
    expect(text).toMatch(/^controller_runtime_reconcile_errors_total\{controller="toy"\} 6$/m);
  });

  it('looks at an object again after the requeueAfter its reconcile returned', async () => {
    await rest().create(collectionPath(configMaps, ns.name), {
      metadata: { name: 'periodic', labels: { toy: 'source' }, annotations: { 'toy/requeue-after': '300' } },
      data: { a: '1' },
    });
    const times = await eventually('four passes', () => {
      const t = passes.get('periodic') ?? [];
      return t.length >= 4 && t;
    }, 5_000);
    // The first passes come from events (create, the new Secret); later ones from the requeue.
    const last = times.slice(-2);
    expect((last[1] as number) - (last[0] as number)).toBeGreaterThanOrEqual(299);
    expect(await env.metrics.registry.metrics())
      .toMatch(/^controller_runtime_reconcile_total\{controller="toy",result="requeue_after"\} [1-9]/m);
  });
});
