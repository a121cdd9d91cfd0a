import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { anchors } from '../docs/markdown.ts';
import { metricNames, namesByJob, PROMETHEUS_NAMES, selectors } from './metric-names.ts';

const rulesFile = join(repoRoot, 'charts', 'fleetwright', 'files', 'alerts.yaml');
/** Where every alert's runbook_url leads: a section of docs/runbooks.md as the repository's web view shows it. */
const RUNBOOKS_URL = 'https://github.com/fleetwright/fleetwright/blob/main/docs/runbooks.md';

interface Rule { alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }
const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const rule = (name: string) => {
  const found = rules.find((r) => r.alert === name);
  if (!found) throw new Error(`no alert ${name} in ${rulesFile}`);
  return found;
};

const work = mkdtempSync(join(tmpdir(), 'fleetwright-alerts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function promtool(args: string[]) {
  const result = spawnSync('promtool', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`promtool: ${result.error.message} (Debian package prometheus; hack/setup.sh installs it)`);
  return result;
}

/**
 * An alert as Prometheus renders it: the rule's annotations with its labels
 * and `values` (the text each `{{ $value | ... }}` renders to) filled in.
 * promtool compares them, so a template that does not render as meant fails.
 */
function firing(name: string, labels: Record<string, string>, values: Record<string, string> = {}) {
  const r = rule(name);
  const all = { ...labels, ...r.labels };
  const render = (text: string) => text.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    if (expr.startsWith('$labels.')) return all[expr.slice('$labels.'.length)] ?? '<no value>';
    const value = values[expr];
    if (value === undefined) throw new Error(`${name}: the test gives no rendering of {{ ${expr} }}`);
    return value;
  });
  return {
    exp_labels: all,
    exp_annotations: Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, render(v)])),
  };
}

type Series = { series: string; values: string };
interface Case {
  name: string;
  series: Series[];
  expect: { at: string; alert: string; firing: ReturnType<typeof firing>[] }[];
}

/** The labels a series scraped from the controller carries (honor_labels keeps its own `namespace`). */
const C = 'job="fleetwright-controller",instance="10.244.0.5:8080"';
/** The same for the gateway: its Tunnel series carry the Tunnel's namespace. */
const G = 'job="fleetwright-gateway",instance="10.244.0.6:9090"';

const cases: Case[] = [
  {
    name: 'a pool with queued requests and no idle browser for 5 minutes is exhausted; one with idle browsers is not',
    series: [
      { series: `fleetwright_pool_waiting{${C},namespace="team-a",pool="chromium"}`, values: '0 2x15' },
      { series: `fleetwright_pool_browsers{${C},namespace="team-a",pool="chromium",state="idle"}`, values: '1 0x15' },
      { series: `fleetwright_pool_waiting{${C},namespace="team-b",pool="chromium"}`, values: '3x15' },
      { series: `fleetwright_pool_browsers{${C},namespace="team-b",pool="chromium",state="idle"}`, values: '1x15' },
    ],
    expect: [
      { at: '4m', alert: 'FleetwrightPoolExhausted', firing: [] },
      { at: '7m', alert: 'FleetwrightPoolExhausted', firing: [firing('FleetwrightPoolExhausted', { namespace: 'team-a', pool: 'chromium' }, { $value: '2' })] },
    ],
  },
  {
    name: 'most runs of a namespace failing is alerted; a few failures, or a handful of runs, are not',
    series: [
      { series: 'fleetwright_testruns_finished_total{namespace="team-a",result="Failed"}', values: '0+1x120' },
      { series: 'fleetwright_testruns_finished_total{namespace="team-a",result="Succeeded"}', values: '0x120' },
      { series: 'fleetwright_testruns_finished_total{namespace="team-b",result="Failed"}', values: '0+1x120' },
      { series: 'fleetwright_testruns_finished_total{namespace="team-b",result="Succeeded"}', values: '0+3x120' },
      { series: 'fleetwright_testruns_finished_total{namespace="team-c",result="Error"}', values: '0 1 2 3 3x116' },
    ],
    expect: [
      { at: '10m', alert: 'FleetwrightTestRunFailureRatioHigh', firing: [] },
      {
        at: '90m',
        alert: 'FleetwrightTestRunFailureRatioHigh',
        firing: [firing('FleetwrightTestRunFailureRatioHigh', { namespace: 'team-a' }, { '$value | humanizePercentage': '100%' })],
      },
      {
        at: '30m',
        alert: 'FleetwrightTestRunInfrastructureErrors',
        firing: [firing('FleetwrightTestRunInfrastructureErrors', { namespace: 'team-c' }, { '$value | humanize': '3' })],
      },
    ],
  },
  {
    name: 'reconcile errors of our controller for 15 minutes are alerted; another operator\'s are not',
    series: [
      { series: `controller_runtime_reconcile_errors_total{${C},namespace="fleetwright",controller="testrun"}`, values: '0+6x30' },
      { series: 'controller_runtime_reconcile_errors_total{job="other-operator",instance="x",controller="other"}', values: '0+60x30' },
    ],
    expect: [
      { at: '10m', alert: 'FleetwrightReconcileErrors', firing: [] },
      {
        at: '25m',
        alert: 'FleetwrightReconcileErrors',
        firing: [firing('FleetwrightReconcileErrors', { controller: 'testrun' }, { '$value | printf "%.0f"': '30' })],
      },
    ],
  },
  {
    name: 'controller replicas up but none leading is alerted',
    series: [
      { series: 'fleetwright_leader{job="fleetwright-controller",instance="a:8080"}', values: '0x10' },
      { series: 'fleetwright_leader{job="fleetwright-controller",instance="b:8080"}', values: '0x10' },
      { series: 'up{job="fleetwright-controller",instance="a:8080"}', values: '1x10' },
      { series: 'up{job="fleetwright-controller",instance="b:8080"}', values: '1x10' },
      { series: 'up{job="fleetwright-gateway",instance="g:9090"}', values: '1x10' },
    ],
    expect: [
      { at: '7m', alert: 'FleetwrightLeaderMissing', firing: [firing('FleetwrightLeaderMissing', {})] },
      { at: '7m', alert: 'FleetwrightControllerDown', firing: [] },
      { at: '7m', alert: 'FleetwrightGatewayDown', firing: [] },
    ],
  },
  {
    name: 'one leader is fine; a replica down is a warning, all of a component down or unscraped is critical',
    series: [
      { series: 'fleetwright_leader{job="fleetwright-controller",instance="a:8080"}', values: '1x15' },
      { series: 'up{job="fleetwright-controller",instance="a:8080",namespace="fleetwright"}', values: '1x15' },
      { series: 'up{job="fleetwright-controller",instance="b:8080",namespace="fleetwright"}', values: '0x15' },
    ],
    expect: [
      { at: '12m', alert: 'FleetwrightLeaderMissing', firing: [] },
      { at: '12m', alert: 'FleetwrightControllerDown', firing: [] },
      { at: '12m', alert: 'FleetwrightGatewayDown', firing: [firing('FleetwrightGatewayDown', {})] },
      {
        at: '12m',
        alert: 'FleetwrightTargetDown',
        firing: [firing('FleetwrightTargetDown', { job: 'fleetwright-controller', instance: 'b:8080', namespace: 'fleetwright' })],
      },
    ],
  },
  {
    name: 'a Tunnel answering 10% of its clients with 5xx is alerted; refusals of bad clients are not errors',
    series: [
      // Tunnels named alike in two namespaces stay apart: team-b's clean ci does not dilute team-a's.
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-a",tunnel="ci",result="ok"}`, values: '0+9x30' },
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-a",tunnel="ci",result="queue_timeout"}`, values: '0+1x30' },
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-b",tunnel="ci",result="ok"}`, values: '0+90x30' },
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-b",tunnel="ci",result="unauthorized"}`, values: '0+5x30' },
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-c",tunnel="rare",result="ok"}`, values: '0+0.2x30' },
      { series: `fleetwright_tunnel_connections_total{${G},namespace="team-c",tunnel="rare",result="upstream_error"}`, values: '0+0.2x30' },
    ],
    expect: [
      {
        at: '20m',
        alert: 'FleetwrightGatewayErrors',
        firing: [firing('FleetwrightGatewayErrors', { namespace: 'team-a', tunnel: 'ci' }, { '$value | humanizePercentage': '10%' })],
      },
    ],
  },
];

/** The labels a series scraped from the report store carries. */
const R = 'job="fleetwright-report-store",instance="10.244.0.7:9091"';

cases.push(
  {
    name: 'report uploads the store loses or refuses as too large are alerted; a wrong token is the client\'s business',
    series: [
      { series: `fleetwright_report_upload_failures_total{${R},reason="storage_error"}`, values: '0+1x40' },
      { series: `fleetwright_report_upload_failures_total{${R},reason="unauthorized"}`, values: '0+5x40' },
      { series: `fleetwright_report_upload_failures_total{${R},reason="too_large"}`, values: '0x40' },
    ],
    expect: [
      {
        at: '35m',
        alert: 'FleetwrightReportUploadsLost',
        firing: [firing('FleetwrightReportUploadsLost', { reason: 'storage_error' }, { '$value | humanize': '15' })],
      },
    ],
  },
  {
    name: 'merges that all fail are alerted; a store that also merges some is not',
    series: [
      { series: `fleetwright_report_merge_seconds_count{${R},result="error"}`, values: '0+1x60' },
      { series: `fleetwright_report_merge_seconds_count{${R},result="ok"}`, values: '0x60' },
    ],
    expect: [{ at: '50m', alert: 'FleetwrightReportMergesFailing', firing: [firing('FleetwrightReportMergesFailing', {}, { '$value | humanize': '15' })] }],
  },
  {
    name: 'merges that sometimes fail are not alerted',
    series: [
      { series: `fleetwright_report_merge_seconds_count{${R},result="error"}`, values: '0+1x60' },
      { series: `fleetwright_report_merge_seconds_count{${R},result="ok"}`, values: '0+1x60' },
    ],
    expect: [{ at: '50m', alert: 'FleetwrightReportMergesFailing', firing: [] }],
  },
  {
    name: 'a report store that is not scraped is alerted',
    series: [{ series: 'up{job="fleetwright-controller",instance="a:8080"}', values: '1x20' }],
    expect: [{ at: '15m', alert: 'FleetwrightReportStoreDown', firing: [firing('FleetwrightReportStoreDown', {})] }],
  },
);

describe('the alert rules (charts/fleetwright/files/alerts.yaml)', () => {
  it('pass promtool check rules', () => {
    const result = promtool(['check', 'rules', rulesFile]);
    expect(result.stderr + result.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  it('give every alert a severity, a summary and a description', () => {
    for (const r of rules) {
      expect(['warning', 'critical'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
    }
  });

  it('link every alert to its own section of docs/runbooks.md (runbook_url)', () => {
    const sections = anchors(join(repoRoot, 'docs', 'runbooks.md'));
    for (const r of rules) {
      const url = r.annotations.runbook_url ?? '';
      expect(url, r.alert).toBe(`${RUNBOOKS_URL}#${r.alert.toLowerCase()}`);
      expect(sections.has(r.alert.toLowerCase()), `docs/runbooks.md has no section ${r.alert}`).toBe(true);
    }
  });

  it('fire as meant on recorded series (promtool test rules)', () => {
    const file = join(work, 'alerts.test.yaml');
    const tests = cases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: c.series,
      alert_rule_test: c.expect.map((e) => ({ eval_time: e.at, alertname: e.alert, exp_alerts: e.firing })),
    }));
    writeFileSync(file, stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests }));
    const result = promtool(['test', 'rules', file]);
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('read only metrics that the controller, the gateway and the report store export, each from the job that exports it', async () => {
    const jobs = await namesByJob();
    const all = new Set([...Object.values(jobs).flatMap((names) => [...names]), ...PROMETHEUS_NAMES]);
    for (const r of rules) {
      expect(metricNames(r.expr).filter((n) => !all.has(n)), r.alert).toEqual([]);
      for (const { name, job } of selectors(r.expr)) {
        if (job && jobs[job] && name !== 'up') expect(jobs[job].has(name), `${r.alert}: ${name} from ${job}`).toBe(true);
      }
    }
  });
});
