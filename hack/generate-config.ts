// Writes the kustomize tree config/ from the Helm chart, so that the two
// install paths cannot drift: config/default is `helm template` of the chart's
// defaults, config/prometheus the monitoring objects the chart renders when
// they are enabled, config/crd the generated CRDs. With --check, fails when
// config/ differs from what it would write. config/samples is hand-written
// and left alone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { type Document, parseAllDocuments } from 'yaml';
import { repoRoot } from './lib/paths.ts';
import { ensureTool } from './lib/tools.ts';

export const RELEASE = 'fleetwright';
export const NAMESPACE = 'fleetwright-system';
const chart = join(repoRoot, 'charts', 'fleetwright');
const config = join(repoRoot, 'config');
/** The folders this script owns entirely (a stale file in them is drift too). */
const generatedDirs = ['crd', 'rbac', 'manager', 'gateway', 'report-store', 'prometheus', 'default'];
const header = '# Generated from charts/fleetwright by hack/generate-config.ts (npm run generate): edit the chart.\n';

/** Every optional monitoring object of the chart, on. */
export const monitoringOn = [
  'monitoring.serviceMonitor.enabled=true',
  'monitoring.podMonitor.enabled=true',
  'monitoring.prometheusRule.enabled=true',
  'monitoring.dashboard.enabled=true',
];

/** `helm template` of the chart as release fleetwright in fleetwright-system, with `--set` values. */
export function helmTemplate(set: string[] = []): string {
  const args = ['template', RELEASE, chart, '--namespace', NAMESPACE, ...set.flatMap((s) => ['--set', s])];
  return execFileSync(ensureTool('helm'), args, { encoding: 'utf8' });
}

interface Rendered {
  doc: Document;
  kind: string;
  name: string;
  component: string;
}

function parse(text: string): Rendered[] {
  return parseAllDocuments(text)
    .filter((doc) => doc.contents !== null)
    .map((doc) => {
      const obj = doc.toJS() as { kind: string; metadata: { name: string; labels?: Record<string, string> } };
      return {
        doc,
        kind: obj.kind,
        name: obj.metadata.name,
        component: obj.metadata.labels?.['app.kubernetes.io/component'] ?? '',
      };
    });
}

/** Helm's own marks off, kustomize's on; the chart's comments (why each RBAC rule) stay. */
function forKustomize({ doc }: Rendered): string {
  for (const labels of [['metadata', 'labels'], ['spec', 'template', 'metadata', 'labels']]) {
    if (!doc.hasIn(labels)) continue;
    doc.deleteIn([...labels, 'helm.sh/chart']);
    doc.setIn([...labels, 'app.kubernetes.io/managed-by'], 'kustomize');
  }
  const comment = doc.contents?.commentBefore;
  if (doc.contents && comment) {
    const kept = comment.split('\n').filter((line) => !line.startsWith(' Source: '));
    doc.contents.commentBefore = kept.length > 0 ? kept.join('\n') : undefined;
  }
  return doc.toString({ lineWidth: 0 }).replace(/^---\n/, '');
}

const rbacKinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** Which file of config/ an object of the chart's defaults goes to. */
function fileOf(r: Rendered): string {
  if (rbacKinds.has(r.kind)) return join('rbac', `${r.component || 'user-roles'}.yaml`);
  if (r.component === 'controller') return join('manager', 'controller.yaml');
  if (r.component === 'gateway') return join('gateway', 'gateway.yaml');
  if (r.component === 'report-store') return join('report-store', 'report-store.yaml');
  throw new Error(`${r.kind} ${r.name}: no folder of config/ for it; teach hack/generate-config.ts where it goes`);
}

const monitoringFiles: Record<string, string> = {
  ServiceMonitor: 'servicemonitor.yaml',
  PodMonitor: 'podmonitor.yaml',
  PrometheusRule: 'rules.yaml',
  ConfigMap: 'dashboard.yaml',
};

function kustomization(resources: string[], comment = '', extra = ''): string {
  const lines = resources.length > 0 ? `\n${resources.map((r) => `  - ${r}\n`).join('')}` : ' []\n';
  return `${header}${comment}apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${extra}resources:${lines}`;
}

/** Every file under config/ this script owns, by path relative to config/. */
export function renderConfig(): Map<string, string> {
  const files = new Map<string, string[]>();
  const add = (file: string, content: string) => files.set(file, [...(files.get(file) ?? []), content]);

  const defaults = parse(helmTemplate());
  for (const r of defaults) add(fileOf(r), forKustomize(r));

  const key = (r: Rendered) => `${r.kind}/${r.name}`;
  const inDefaults = new Set(defaults.map(key));
  for (const r of parse(helmTemplate(monitoringOn)).filter((o) => !inDefaults.has(key(o)))) {
    const file = monitoringFiles[r.kind];
    if (!file) throw new Error(`${r.kind} ${r.name} appears only with monitoring on, and config/prometheus has no file for it`);
    add(join('prometheus', file), forKustomize(r));
  }

  const out = new Map<string, string>();
  for (const [file, docs] of files) out.set(file, header + docs.join('---\n'));
  const filesIn = (dir: string) =>
    [...out.keys()].filter((f) => dirname(f) === dir).map((f) => relative(dir, f)).sort();

  const crds = readdirSync(join(chart, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
  for (const crd of crds) out.set(join('crd', crd), readFileSync(join(chart, 'crds', crd), 'utf8'));
  out.set(join('crd', 'kustomization.yaml'), kustomization(crds));
  for (const dir of ['rbac', 'manager', 'gateway', 'report-store']) {
    out.set(join(dir, 'kustomization.yaml'), kustomization(filesIn(dir)));
  }

  const monitoring = filesIn('prometheus');
  const scrape = monitoring.includes('servicemonitor.yaml') ? monitoring.filter((f) => f !== 'podmonitor.yaml') : monitoring;
  out.set(join('prometheus', 'kustomization.yaml'), kustomization(
    scrape,
    '# Optional: the Prometheus Operator objects (and the Grafana dashboard) for an install of config/default.\n' +
    (scrape.length < monitoring.length ? '# podmonitor.yaml scrapes the pods directly: use it instead of servicemonitor.yaml, not with it.\n' : ''),
    `namespace: ${NAMESPACE}\n`,
  ));

  out.set(join('default', 'namespace.yaml'), `${header}apiVersion: v1
kind: Namespace
metadata:
  name: ${NAMESPACE}
  labels:
    # Fleetwright's own pods meet the restricted Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
    app.kubernetes.io/part-of: fleetwright
`);
  out.set(join('default', 'kustomization.yaml'), kustomization(
    ['namespace.yaml', '../crd', '../rbac', '../manager', '../gateway', '../report-store'],
    '# What `helm install fleetwright charts/fleetwright -n fleetwright-system` installs, with its defaults.\n' +
    '# In another namespace, also change the controller\'s --gateway-url and --report-store-url and the report\n' +
    '# store\'s --public-url, which name the namespace\'s Services.\n',
    `namespace: ${NAMESPACE}\n`,
  ));
  return out;
}

function existing(): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of generatedDirs) {
    let names: string[];
    try {
      names = readdirSync(join(config, dir));
    } catch {
      continue;
    }
    for (const name of names) found.set(join(dir, name), readFileSync(join(config, dir, name), 'utf8'));
  }
  return found;
}

/** Files of config/ (relative to it) that differ from what renderConfig writes, are missing, or should not be there. */
export function configDrift(wanted = renderConfig()): string[] {
  const have = existing();
  return [...new Set([...wanted.keys(), ...have.keys()])].filter((f) => wanted.get(f) !== have.get(f)).sort();
}

if (import.meta.main) {
  const wanted = renderConfig();
  if (process.argv.includes('--check')) {
    const differ = configDrift(wanted);
    if (differ.length > 0) {
      console.error(
        `config/ is out of date with charts/fleetwright (differs: ${differ.map((f) => `config/${f}`).join(', ')}).\n` +
        'Run `npm run generate` and commit the result.',
      );
      process.exit(1);
    }
    console.log(`config/ matches charts/fleetwright (${wanted.size} files)`);
  } else {
    for (const dir of generatedDirs) rmSync(join(config, dir), { recursive: true, force: true });
    for (const [file, content] of wanted) {
      mkdirSync(dirname(join(config, file)), { recursive: true });
      writeFileSync(join(config, file), content);
    }
    console.log(`wrote ${wanted.size} files under config/`);
  }
}
