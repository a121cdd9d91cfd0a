// The chart's ServiceAccounts and RBAC on the test cluster, and kubeconfigs
// that act as them (Impersonate-User), so that tests run the real controller
// and gateway with exactly the rights a Helm install gives them.
//
// To see which test needs a rule, drop it: FLEETWRIGHT_RBAC_DROP=controller:5
// removes that rule (0-based) of the controller's ClusterRole before it is
// applied, controller:5:delete only that verb of it (gateway:…,
// report-store:…, and controller-leader-election:… for the Role, likewise).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { repoRoot } from '../hack/lib/paths.ts';
import { ensureTool } from '../hack/lib/tools.ts';

const chart = join(repoRoot, 'charts', 'fleetwright');

export type Component = 'controller' | 'gateway' | 'report-store';

/** Where the chart's RBAC goes: the release namespace and the release's full name. */
export interface Release { namespace: string; fullname: string }

export const serviceAccount = (release: Release, component: Component) =>
  `system:serviceaccount:${release.namespace}:${release.fullname}-${component}`;

function run(tool: 'helm' | 'kubectl', args: string[], input?: string) {
  const result = spawnSync(ensureTool(tool), args, { encoding: 'utf8', input });
  if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The chart's ServiceAccounts and RBAC, with a rule dropped when FLEETWRIGHT_RBAC_DROP says so. */
export function renderChartRbac(release: Release): string {
  const rendered = run('helm', [
    'template', 'rbac', chart, '--namespace', release.namespace, '--set', `fullnameOverride=${release.fullname}`,
    '--set', 'rbac.aggregateToDefaultRoles=false',
    '--show-only', 'templates/rbac-controller.yaml', '--show-only', 'templates/rbac-gateway.yaml',
    '--show-only', 'templates/rbac-report-store.yaml',
  ]);
  const drop = /^(controller|gateway|report-store|controller-leader-election):(\d+)(?::([a-z]+))?$/
    .exec(process.env.FLEETWRIGHT_RBAC_DROP ?? '');
  if (!drop) return rendered;
  const [, role, index, verb] = drop;
  return parseAllDocuments(rendered).map((doc) => {
    const obj = doc.toJS() as { kind: string; metadata: { name: string }; rules?: { verbs: string[] }[] };
    const rules = obj?.rules ?? [];
    const rule = rules[Number(index)];
    if (obj?.metadata.name === `${release.fullname}-${role}` && rule) {
      if (verb && !rule.verbs.includes(verb)) throw new Error(`FLEETWRIGHT_RBAC_DROP: the rule has no verb ${verb}`);
      if (verb) rule.verbs.splice(rule.verbs.indexOf(verb), 1);
      // A rule without verbs is invalid: dropping its only verb drops the rule.
      if (!verb || rule.verbs.length === 0) rules.splice(Number(index), 1);
      console.warn(`FLEETWRIGHT_RBAC_DROP=${drop[0]}: ${obj.kind} ${obj.metadata.name} rules ${JSON.stringify(rules)}`);
    }
    return stringify(obj);
  }).join('---\n');
}

/** Whose role `name` is: <fullname>-<component>, or the controller's leader election Role. */
const componentOf = (release: Release, name: string): Component =>
  (['gateway', 'report-store'] as const).find((c) => name === `${release.fullname}-${c}`) ?? 'controller';

/**
 * Waits until the API server's authorizer has the new bindings (its RBAC cache
 * follows a watch): a process started before that meets a 403 on its first list.
 */
async function waitForBindings(kubeconfig: string, release: Release, manifest: string): Promise<void> {
  type Role = { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[] };
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const roles = parseAllDocuments(manifest).map((d) => d.toJS() as Role).filter((o) => o?.rules?.length);
  for (const role of roles) {
    const rule = role.rules?.[0] as Rule;
    const [resource = '', subresource] = (rule.resources[0] ?? '').split('/');
    const group = rule.apiGroups[0] ? `.${rule.apiGroups[0]}` : '';
    const name = rule.resourceNames?.[0] ? `/${rule.resourceNames[0]}` : '';
    const args = [
      `--kubeconfig=${kubeconfig}`, 'auth', 'can-i', rule.verbs[0] ?? '', `${resource}${group}${name}`,
      ...(subresource ? [`--subresource=${subresource}`] : []),
      ...(role.kind === 'Role' ? ['-n', role.metadata.namespace ?? ''] : ['--all-namespaces']),
      `--as=${serviceAccount(release, componentOf(release, role.metadata.name))}`,
    ];
    const deadline = Date.now() + 20_000;
    while (spawnSync(ensureTool('kubectl'), args, { encoding: 'utf8' }).stdout.trim() !== 'yes') {
      if (Date.now() > deadline) throw new Error(`kubectl ${args.join(' ')} still says no after 20 s`);
      await sleep(100);
    }
  }
}

/** Applies the chart's RBAC for `release` and waits until the API server authorizes by it; returns what it applied. */
export async function applyChartRbac(kubeconfig: string, release: Release): Promise<string> {
  const manifest = renderChartRbac(release);
  // Server-side, as test/integration/chart.test.ts dry-runs the chart and config/default: a client-side
  // apply's last-applied annotation would make each of its dry runs warn about these objects.
  const apply = [`--kubeconfig=${kubeconfig}`, 'apply', '--server-side', '--force-conflicts', '-f', '-'];
  run('kubectl', apply, `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${release.namespace} }\n`);
  run('kubectl', apply, manifest);
  await waitForBindings(kubeconfig, release, manifest);
  return manifest;
}

/** Writes `kubeconfig` acting as the chart's ServiceAccount of `component` into `path`. */
export function writeKubeconfigAs(kubeconfig: string, release: Release, component: Component, path: string): string {
  const config = parseYaml(readFileSync(kubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
  for (const { user } of config.users) user.as = serviceAccount(release, component);
  writeFileSync(path, JSON.stringify(config));
  return path;
}
