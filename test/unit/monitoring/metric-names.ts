// Which metric names a PromQL expression reads, and which names the
// controller, gateway and report store processes export: what the alerts and
// the dashboard may mention.
import type { Registry } from 'prom-client';
import { parseControllerArgs } from '../../../src/controllers/config.ts';
import { GatewayMetrics } from '../../../src/gateway/metrics.ts';
import { controllers } from '../../../src/controllers/process.ts';
import { ReportMetrics } from '../../../src/reports/metrics.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';

/** Binary operators and modifiers: words in PromQL that are not metric names. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'inf', 'nan', 'start', 'end']);

/**
 * The metric names an expression selects. Strings, label matchers, ranges,
 * label lists (by, on, ...) and Grafana variables are dropped first; what is
 * left is function and aggregation names (followed by a parenthesis),
 * keywords, numbers and durations, and the names.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = bare[m.index - 1] ?? ' ';
    const after = bare.slice(m.index + m[0].length).trimStart();
    if (/[0-9.]/.test(before) || after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** The sample names of every metric in a registry: a histogram's _bucket, _sum and _count. */
async function sampleNames(registry: Registry): Promise<string[]> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.flatMap((m) => {
    const type = String(m.type);
    if (type === 'histogram') return [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`];
    if (type === 'summary') return [m.name, `${m.name}_sum`, `${m.name}_count`];
    return [m.name];
  });
}

type Component = 'controller' | 'gateway' | 'reportStore';

/**
 * The registries of `fleetwright controller` (the runtime's metrics and those
 * of the controllers main.ts runs), `fleetwright gateway` and `fleetwright
 * report-store`.
 */
function registries(): Record<Component, Registry> {
  const metrics = new Metrics();
  controllers(parseControllerArgs([]))(metrics.registry);
  return {
    controller: metrics.registry,
    gateway: new GatewayMetrics().registry,
    reportStore: new ReportMetrics().registry,
  };
}

/** What each process exports, by job. */
export async function exportedNames(): Promise<Record<Component, Set<string>>> {
  const all = registries();
  return {
    controller: new Set(await sampleNames(all.controller)),
    gateway: new Set(await sampleNames(all.gateway)),
    reportStore: new Set(await sampleNames(all.reportStore)),
  };
}

/** The label names of each metric each process exports (prom-client keeps them on the metric). */
export function labelNames(): Record<Component, Map<string, readonly string[]>> {
  const of = (registry: Registry) => new Map(registry.getMetricsAsArray()
    .map((m) => [m.name, (m as unknown as { labelNames?: readonly string[] }).labelNames ?? []] as const));
  const all = registries();
  return { controller: of(all.controller), gateway: of(all.gateway), reportStore: of(all.reportStore) };
}

/** The metric names each job exports, by the job label the chart's monitors give it. */
export async function namesByJob(): Promise<Record<string, Set<string>>> {
  const exported = await exportedNames();
  return {
    'fleetwright-controller': exported.controller,
    'fleetwright-gateway': exported.gateway,
    'fleetwright-report-store': exported.reportStore,
  };
}

/** Prometheus' own series: `up` of every target, and the alerts it keeps. */
export const PROMETHEUS_NAMES = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE']);

/** Each `name{...}` selector of an expression, with the job its matchers name, if one. */
export function selectors(expr: string): { name: string; job?: string }[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => {
    const job = /\bjob\s*=\s*"([^"]*)"/.exec(m[2] ?? '')?.[1];
    return { name: m[1] ?? '', ...(job ? { job } : {}) };
  });
}
