import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/meta.ts';
import { BROWSER_POOL, TEST_RUN, TUNNEL } from '../../src/api/resources.ts';
import type { Condition } from '../../src/runtime/conditions.ts';
import { collectionPath, objectPath } from '../../src/runtime/resource.ts';
import { hostileManifests, type Kind, NORMAL, SUPPORT } from '../fixtures/hostile-manifests.ts';
import { kubectl, useNamespace } from './helpers.ts';
import { ControllerProcess, eventually, fleetwrightController, inParallel, listAll, rest } from './runtime/support.ts';

const ns = useNamespace('hostile');
const TYPES = { BrowserPool: BROWSER_POOL, TestRun: TEST_RUN, Tunnel: TUNNEL } as const;
const cases = hostileManifests();
const refused = cases.filter((c) => c.outcome === 'refused');
const accepted = cases.filter((c) => c.outcome === 'accepted');

type Object = KubeObject & { status?: { conditions?: Condition[] } };
let controller: ControllerProcess;

beforeAll(() => {
  controller = new ControllerProcess([
    `--watch-namespace=${ns.name}`,
    '--gateway-url=wss://browsers.example.test',
    '--metrics-bind-address=0',
    '--health-probe-bind-address=0',
  ], {}, fleetwrightController);
  const result = kubectl(['apply', '-n', ns.name, '-f', '-'], `
apiVersion: v1
kind: Secret
metadata: { name: ${SUPPORT.secret} }
stringData: { token: s3cret }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ${SUPPORT.configMap} }
data: { a.spec.ts: "" }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: ${SUPPORT.pool} }
spec: { replicas: 0 }
---
apiVersion: fleetwright.dev/v1alpha1
kind: BrowserPool
metadata: { name: ${SUPPORT.tunnelPool} }
spec: { replicas: 0 }
`);
  if (result.status !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
});

afterAll(async () => {
  await controller.kill('SIGTERM');
});

const conditionOf = (o: Object, type: string) => o.status?.conditions?.find((c) => c.type === type);

describe('hostile manifests', () => {
  it('are derived for every kind, in both outcomes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    expect(new Set(cases.map((c) => c.why)).size).toBe(cases.length);
    for (const kind of Object.keys(TYPES) as Kind[]) {
      expect(refused.filter((c) => c.kind === kind).length).toBeGreaterThan(10);
      expect(accepted.filter((c) => c.kind === kind).length).toBeGreaterThanOrEqual(3);
    }
  });

  it('are refused at admission naming the field, or accepted and brought to their condition', async () => {
    const outcomes = new Map<string, string>();
    await inParallel(8, cases.map((c) => async () => {
      try {
        await rest().create(collectionPath(TYPES[c.kind], ns.name), c.manifest);
        outcomes.set(c.why, 'created');
      } catch (err) {
        outcomes.set(c.why, (err as Error).message);
      }
    }));
    const wrong = cases.flatMap((c) => {
      const got = outcomes.get(c.why) ?? '';
      if (c.outcome === 'accepted') return got === 'created' ? [] : [`${c.why}: refused: ${got.slice(0, 300)}`];
      if (got === 'created') return [`${c.why}: was accepted`];
      return got.includes(' 422 ') && got.includes(c.field) ? [] : [`${c.why}: ${got.slice(0, 300)}`];
    });
    expect(wrong).toEqual([]);

    const names = new Map(accepted.map((c) => [`${c.kind}/${c.manifest.metadata.name}`, c]));
    let pending: string[] = [];
    try {
      await eventually('every accepted case to reach its condition', async () => {
        const all = await Promise.all((Object.keys(TYPES) as Kind[]).map((k) => listAll<Object>(TYPES[k], ns.name)));
        pending = all.flat().flatMap((o) => {
          const c = names.get(`${o.kind}/${o.metadata.name}`);
          if (!c || c.outcome !== 'accepted') return [];
          const got = conditionOf(o, c.condition);
          return got?.reason === c.reason ? [] : [`${c.why}: ${c.condition} is ${got?.reason}: ${got?.message}`];
        });
        return pending.length === 0;
      }, 30_000, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${pending.join('\n')}`, { cause: err });
    }
  }, 60_000);

  it('leave the controller alive, without errors, and reconciling a valid object promptly', async () => {
    expect(controller.child.exitCode).toBeNull();
    const errors = controller.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors.map((l) => `${l.msg} ${String(l.err ?? '')}`)).toEqual([]);
    const started = Date.now();
    await rest().create(collectionPath(BROWSER_POOL, ns.name), {
      apiVersion: 'fleetwright.dev/v1alpha1', kind: 'BrowserPool', metadata: { name: 'last' }, spec: { replicas: 1 },
    });
    await eventually('the last BrowserPool to be reconciled', async () => {
      const pool = await rest().get<Object>(objectPath(BROWSER_POOL, { namespace: ns.name, name: 'last' }));
      return conditionOf(pool, 'Ready')?.reason === NORMAL.BrowserPool.reason;
    }, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
