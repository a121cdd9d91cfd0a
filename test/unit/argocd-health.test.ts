// The chart's Argo CD health checks on objects saved from the real cluster by
// test/node/argocd.test.ts (regenerate them with
// `FLEETWRIGHT_WRITE_ARGOCD_FIXTURES=1 npm run test:node -- test/node/argocd.test.ts`),
// plus the cases a live run does not reach on its own.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';
import { argoHealth, type Health, type Kind, toLua } from '../argocd/health.ts';

const dir = join(repoRoot, 'test', 'fixtures', 'argocd');
interface Fixture {
  kind: Kind;
  expected: Health;
  object: { metadata: Record<string, unknown>; status?: Record<string, unknown> };
}
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture) }));

describe('the Argo CD health checks on objects from the real cluster', () => {
  it.each(fixtures.map((f) => [f.file, f] as const))('%s', (_, f) => {
    expect(argoHealth(f.kind, f.object)).toEqual(f.expected);
  });

  it('cover Progressing, Healthy and Degraded for each kind', () => {
    for (const kind of ['BrowserPool', 'TestRun', 'Tunnel'] as const) {
      const seen = new Set(fixtures.filter((f) => f.kind === kind).map((f) => f.expected.status));
      expect([...seen].sort(), kind).toEqual(['Degraded', 'Healthy', 'Progressing']);
    }
  });
});

describe('the Argo CD health checks on what a live run does not show', () => {
  const fixture = (name: string) => {
    const found = fixtures.find((f) => f.file === `${name}.json`);
    if (!found) throw new Error(`no fixture ${name}.json in ${dir}`);
    return structuredClone(found.object);
  };

  it('wait for the controller to see a new generation before trusting the conditions', () => {
    const pool = fixture('browserpool-ready');
    pool.metadata.generation = Number(pool.metadata.generation) + 1;
    expect(argoHealth('BrowserPool', pool)).toEqual({
      status: 'Progressing',
      message: `Waiting for the Fleetwright controller to observe generation ${pool.metadata.generation}`,
    });
    const tunnel = fixture('tunnel-ready');
    tunnel.metadata.generation = Number(tunnel.metadata.generation) + 1;
    expect(argoHealth('Tunnel', tunnel).status).toBe('Progressing');
  });

  it('show a pool being deleted as Progressing, with what it waits for', () => {
    const pool = fixture('browserpool-all-busy');
    pool.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(argoHealth('BrowserPool', pool)).toEqual({ status: 'Progressing', message: 'Deleting: leased browsers are drained first' });
  });

  it('show a run that ended in Error (infrastructure) as Degraded, as a failed one', () => {
    const run = fixture('testrun-failed');
    const status = run.status as { phase: string; conditions: { type: string; reason: string; message: string }[] };
    status.phase = 'Error';
    const failed = status.conditions.find((c) => c.type === 'Failed');
    if (!failed) throw new Error('testrun-failed.json has no Failed condition');
    failed.reason = 'InfrastructureError';
    failed.message = '0 passed, 0 failed, 0 flaky, 0 skipped; 1 shard(s) could not run';
    expect(argoHealth('TestRun', run)).toEqual({
      status: 'Degraded',
      message: 'Error (InfrastructureError): 0 passed, 0 failed, 0 flaky, 0 skipped; 1 shard(s) could not run',
    });
  });

  it('show a spec the schema refuses as Degraded: it will not heal by waiting', () => {
    const run = fixture('testrun-pool-not-found');
    const scheduled = (run.status as { conditions: { type: string; reason: string }[] }).conditions
      .find((c) => c.type === 'Scheduled');
    if (!scheduled) throw new Error('testrun-pool-not-found.json has no Scheduled condition');
    scheduled.reason = 'InvalidSpec';
    expect(argoHealth('TestRun', run).status).toBe('Degraded');
  });
});

describe('toLua', () => {
  it('writes JSON as a Lua table constructor, null left out', () => {
    expect(toLua({ 'a': 'say "hi"\n\\', 'b': [1, 2.5, true], 'c': null, 'd-e': {} }))
      .toBe('{["a"] = "say \\"hi\\"\\010\\\\", ["b"] = {1, 2.5, true}, ["d-e"] = {}}');
  });
});
