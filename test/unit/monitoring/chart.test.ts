import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { ensureTool } from '../../../hack/lib/tools.ts';
import { labelNames } from './metric-names.ts';

const chart = join(repoRoot, 'charts', 'fleetwright');
const work = mkdtempSync(join(tmpdir(), 'fleetwright-chart-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
type Selector = { matchLabels: Record<string, string> };
type Endpoint = { port: string; honorLabels?: boolean; relabelings: { targetLabel: string; replacement: string }[] };
interface MonitorSpec { selector: Selector; endpoints?: Endpoint[]; podMetricsEndpoints?: Endpoint[] }
interface ServiceSpec { selector: Record<string, string>; ports: { name: string }[] }
interface PodTemplate {
  template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports?: { name: string }[] }[] } };
}

const monitoringOn = ['serviceMonitor', 'podMonitor', 'prometheusRule', 'dashboard']
  .map((m) => `monitoring.${m}.enabled=true`);

function render(set: string[]): Obj[] {
  const args = ['template', 'fw', chart, '--namespace', 'fleetwright-system', ...set.flatMap((s) => ['--set', s])];
  const text = execFileSync(ensureTool('helm'), args, { encoding: 'utf8' });
  return parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

const podTemplate = (deployment: Obj) => (deployment.spec as unknown as PodTemplate).template;
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const alertsFile = join(chart, 'files', 'alerts.yaml');
const groupNames = (groups: { name: string }[]) => groups.map((g) => g.name);

describe('the chart\'s monitoring objects', () => {
  const all = render(monitoringOn);
  const of = (kind: string) => all.filter((o) => o.kind === kind);

  it('render none of them by default', () => {
    const kinds = render([]).map((o) => o.kind);
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) expect(kinds).not.toContain(kind);
    expect(render([]).filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('scrape each component\'s metrics port under the job name the alerts and the dashboard select', () => {
    const services = of('Service');
    const deployments = of('Deployment');
    const labels = labelNames();
    /** Whether the component's own series carry a `namespace` label (their object's), which the scrape must keep. */
    const ownNamespace = (component: string) => [...labels[component === 'report-store' ? 'reportStore' : component as 'controller']
      .values()].some((names) => names.includes('namespace'));
    expect(['controller', 'gateway', 'report-store'].filter(ownNamespace)).toEqual(['controller', 'gateway']);
    for (const component of ['controller', 'gateway', 'report-store']) {
      const job = `fleetwright-${component}`;
      for (const monitor of [...of('ServiceMonitor'), ...of('PodMonitor')].filter((m) => m.metadata.name.endsWith(component))) {
        const spec = monitor.spec as unknown as MonitorSpec;
        const endpoints = spec.endpoints ?? spec.podMetricsEndpoints ?? [];
        expect(endpoints.map((e) => e.port)).toEqual(['metrics']);
        expect(endpoints[0]?.relabelings).toContainEqual({ targetLabel: 'job', replacement: job });
        // The pool, TestRun and Tunnel series carry their object's namespace, which must not become exported_namespace.
        expect(endpoints[0]?.honorLabels ?? false, monitor.metadata.name).toBe(ownNamespace(component));
        if (monitor.kind === 'ServiceMonitor') {
          const selected = services.filter((s) => matches(spec.selector.matchLabels, s.metadata.labels));
          const scraped = selected.filter((s) => (s.spec as unknown as ServiceSpec).ports.some((p) => p.name === 'metrics'));
          expect(scraped.map((s) => s.metadata.name), monitor.metadata.name).toEqual([`fw-fleetwright-${component}-metrics`]);
          const pods = deployments.filter((d) =>
            matches((scraped[0]?.spec as unknown as ServiceSpec).selector, podTemplate(d).metadata.labels));
          expect(pods.map((d) => d.metadata.name)).toEqual([`fw-fleetwright-${component}`]);
        } else {
          const pods = deployments.filter((d) => matches(spec.selector.matchLabels, podTemplate(d).metadata.labels));
          expect(pods.map((d) => d.metadata.name), monitor.metadata.name).toEqual([`fw-fleetwright-${component}`]);
          const ports = pods[0] ? podTemplate(pods[0]).spec.containers.flatMap((c) => c.ports ?? []) : [];
          expect(ports.map((p) => p.name)).toContain('metrics');
        }
      }
    }
    expect(of('ServiceMonitor')).toHaveLength(3);
    expect(of('PodMonitor')).toHaveLength(3);
  });

  it('carry the labels Prometheus and Grafana select them by', () => {
    const labelled = render([...monitoringOn,
      'monitoring.serviceMonitor.labels.release=kube-prometheus-stack',
      'monitoring.podMonitor.labels.release=kube-prometheus-stack',
      'monitoring.prometheusRule.labels.release=kube-prometheus-stack',
      'monitoring.dashboard.annotations.grafana_folder=Platform']);
    for (const o of labelled.filter((x) => ['ServiceMonitor', 'PodMonitor', 'PrometheusRule'].includes(x.kind))) {
      expect(o.metadata.labels?.release, `${o.kind} ${o.metadata.name}`).toBe('kube-prometheus-stack');
    }
    const dashboard = labelled.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fw-fleetwright-dashboard');
    expect(dashboard?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(dashboard?.metadata.annotations?.grafana_folder).toBe('Platform');
  });

  it('ship files/alerts.yaml as the PrometheusRule, which promtool accepts as rendered', () => {
    const [rule] = of('PrometheusRule');
    const groups = (rule?.spec as { groups: { name: string }[] }).groups;
    expect(groups).toEqual((parse(readFileSync(alertsFile, 'utf8')) as { groups: unknown }).groups);
    const file = join(work, 'rendered-rules.yaml');
    writeFileSync(file, stringify({ groups }));
    const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });

  it('leave the gateway\'s alerts and monitors out when the chart runs no gateway', () => {
    const noGateway = render([...monitoringOn, 'gateway.enabled=false']);
    const rule = noGateway.find((o) => o.kind === 'PrometheusRule');
    const all = (parse(readFileSync(alertsFile, 'utf8')) as { groups: { name: string }[] }).groups;
    expect(groupNames((rule?.spec as { groups: { name: string }[] }).groups))
      .toEqual(groupNames(all).filter((n) => n !== 'fleetwright.gateway'));
    const monitors = noGateway.filter((o) => o.kind.endsWith('Monitor')).map((o) => o.metadata.name);
    expect(monitors).toEqual(['fw-fleetwright-controller', 'fw-fleetwright-report-store', 'fw-fleetwright-controller', 'fw-fleetwright-report-store']);
  });

  it('leave the report store\'s alerts and monitors out when the chart runs none', () => {
    const noStore = render([...monitoringOn, 'reportStore.enabled=false']);
    const monitors = noStore.filter((o) => o.kind.endsWith('Monitor'));
    expect(monitors.map((o) => o.metadata.name)).toEqual(expect.not.arrayContaining(['fw-fleetwright-report-store']));
    expect(monitors).toHaveLength(4);
    const rule = noStore.find((o) => o.kind === 'PrometheusRule');
    const all = (parse(readFileSync(alertsFile, 'utf8')) as { groups: { name: string }[] }).groups;
    expect(groupNames((rule?.spec as { groups: { name: string }[] }).groups))
      .toEqual(groupNames(all).filter((n) => n !== 'fleetwright.reports'));
  });

  it('ship files/dashboard.json as it is, for the Grafana sidecar', () => {
    const dashboard = of('ConfigMap').find((o) => o.metadata.name === 'fw-fleetwright-dashboard');
    expect(dashboard?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard?.data?.['fleetwright.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(join(chart, 'files', 'dashboard.json'), 'utf8')));
  });
});
