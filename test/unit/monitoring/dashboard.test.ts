import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { exportedNames, metricNames, PROMETHEUS_NAMES, selectors } from './metric-names.ts';

const file = join(repoRoot, 'charts', 'fleetwright', 'files', 'dashboard.json');

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; datasource?: { uid?: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = () => JSON.parse(readFileSync(file, 'utf8')) as Dashboard;

/** Every PromQL query of the dashboard: its panels' targets and its query variables (label_values(<series>, label)). */
function queries(d: Dashboard): { where: string; expr: string }[] {
  const panels = d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  const variables = d.templating.list.filter((v) => v.type === 'query').map((v) => {
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    return { where: `variable ${v.name}`, expr: /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query };
  });
  return [...panels, ...variables];
}

describe('the Grafana dashboard (charts/fleetwright/files/dashboard.json)', () => {
  it('parses, and every panel has a unique id, a place on the grid and the data source variable', () => {
    const d = dashboard();
    expect(d.uid).toBe('fleetwright');
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('covers pools, TestRuns, the gateway, the controller and the processes', () => {
    const read = new Set(queries(dashboard()).flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'fleetwright_pool_browsers', 'fleetwright_pool_waiting', 'fleetwright_testruns', 'fleetwright_testruns_finished_total',
      'fleetwright_testrun_duration_seconds_bucket', 'fleetwright_tests_total', 'fleetwright_testrun_queue_seconds_bucket',
      'fleetwright_tunnel_connections_active', 'fleetwright_tunnel_connections_total', 'fleetwright_tunnel_bytes_total',
      'fleetwright_browser_acquire_seconds_bucket', 'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total', 'workqueue_depth', 'process_resident_memory_bytes',
    ]) expect(read, name).toContain(name);
  });

  it('queries only metrics that the controller and the gateway export, each from the job that exports it', async () => {
    const exported = await exportedNames();
    const jobs: Record<string, Set<string>> = { 'fleetwright-controller': exported.controller, 'fleetwright-gateway': exported.gateway };
    const all = new Set([...exported.controller, ...exported.gateway, ...PROMETHEUS_NAMES]);
    const both = new Set([...exported.controller].filter((n) => exported.gateway.has(n)));
    for (const { where, expr } of queries(dashboard())) {
      expect(metricNames(expr).filter((n) => !all.has(n)), where).toEqual([]);
      for (const { name, job } of selectors(expr)) {
        if (job && jobs[job]) expect(jobs[job].has(name), `${where}: ${name} from ${job}`).toBe(true);
        // Both jobs at once (a regex): only what both export, the process metrics.
        if (/\bjob\s*=~/.test(expr) && !job) expect(both.has(name), `${where}: ${name} from both jobs`).toBe(true);
      }
    }
  });
});
