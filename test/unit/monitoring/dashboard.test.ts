import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { metricNames, namesByJob, PROMETHEUS_NAMES, selectors } from './metric-names.ts';

const file = join(repoRoot, 'charts', 'fleetwright', 'files', 'dashboard.json');

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; legendFormat?: string; datasource?: { uid?: string } }[];
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

  it('covers pools, TestRuns, the gateway, the report store, the controller and the processes', () => {
    const read = new Set(queries(dashboard()).flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'fleetwright_pool_browsers', 'fleetwright_pool_waiting', 'fleetwright_testruns', 'fleetwright_testruns_finished_total',
      'fleetwright_testrun_duration_seconds_bucket', 'fleetwright_tests_total', 'fleetwright_testrun_queue_seconds_bucket',
      'fleetwright_tunnel_connections_active', 'fleetwright_tunnel_connections_total', 'fleetwright_tunnel_bytes_total',
      'fleetwright_browser_acquire_seconds_bucket', 'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total', 'workqueue_depth', 'process_resident_memory_bytes',
      'fleetwright_report_bytes_total', 'fleetwright_report_upload_failures_total', 'fleetwright_report_merge_seconds_bucket',
    ]) expect(read, name).toContain(name);
  });

  it('keeps same-named pools and Tunnels of two namespaces apart: namespace goes with pool and tunnel everywhere', () => {
    const panels = dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, ...t })));
    for (const { title, expr, legendFormat } of panels) {
      for (const [, labels = ''] of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        if (/\b(pool|tunnel)\b/.test(labels)) expect(labels, `${title}: by (${labels})`).toMatch(/\bnamespace\b/);
      }
      for (const [, matchers = ''] of expr.matchAll(/\{([^}]*)\}/g)) {
        if (/\bpool\s*=/.test(matchers)) expect(matchers, `${title}: {${matchers}}`).toMatch(/\bnamespace\s*=/);
      }
      if (/\{\{(pool|tunnel)\}\}/.test(legendFormat ?? '')) expect(legendFormat, title).toContain('{{namespace}}/');
      // A panel of Tunnel series shows the namespaces the dashboard's variable selects, as the pool panels do.
      if (/fleetwright_(tunnel_|browser_acquire)/.test(expr)) expect(expr, title).toContain('namespace=~"$namespace"');
    }
  });

  it('queries only metrics that the controller, the gateway and the report store export, each from the job that exports it', async () => {
    const jobs = await namesByJob();
    const all = new Set([...Object.values(jobs).flatMap((names) => [...names]), ...PROMETHEUS_NAMES]);
    for (const { where, expr } of queries(dashboard())) {
      expect(metricNames(expr).filter((n) => !all.has(n)), where).toEqual([]);
      for (const { name, job } of selectors(expr)) {
        if (job && jobs[job]) expect(jobs[job].has(name), `${where}: ${name} from ${job}`).toBe(true);
      }
      // Several jobs at once (a regex): only what each of them exports, the process metrics.
      const regex = /\bjob\s*=~\s*"([^"]*)"/.exec(expr)?.[1];
      for (const job of regex?.split('|') ?? []) {
        for (const { name } of selectors(expr)) expect(jobs[job]?.has(name), `${where}: ${name} from ${job}`).toBe(true);
      }
    }
  });
});
