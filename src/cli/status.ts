// `fleetwright status`: the BrowserPools, TestRuns and Tunnels of a namespace
// (or all), one table each, with what kubectl's columns leave out: a running
// run's progress and a Tunnel's readiness.
import type { KubeObject } from '../api/meta.ts';
import { type BrowserPoolObject, isFinishedPhase, type TestRunObject, type TunnelObject } from '../api/objects.ts';
import { BROWSER_POOL, TEST_RUN, TUNNEL } from '../api/resources.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { collectionPath } from '../runtime/resource.ts';
import { UsageError } from '../runtime/usage.ts';
import { type CommandHelp, helpText, kubeFlagsOf, parseFlags } from './flags.ts';
import { Cluster, loadTarget } from './kube.ts';
import { shardProgress } from './render.ts';
import { age, table } from './table.ts';

export const help: CommandHelp = {
  synopsis: '[-n <namespace> | -A]',
  description: 'Lists the BrowserPools, TestRuns and Tunnels of a namespace, with each run\'s progress.',
  flags: {
    'all-namespaces': { type: 'boolean', short: 'A', help: 'list every namespace' },
  },
  examples: ['fleetwright status', 'fleetwright status -n team-a', 'fleetwright status -A'],
};

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const num = (v: unknown) => (typeof v === 'number' ? String(v) : '0');

/** The pool's default Playwright version, then the major.minor of the others it serves: `1.65.1 +1.66,1.64,1.63`. */
function playwrightColumn(status: { playwrightVersion?: string; playwrightVersions?: string[] }): string {
  const others = (status.playwrightVersions ?? []).slice(1).map((v) => v.split('.').slice(0, 2).join('.'));
  return others.length > 0 ? `${str(status.playwrightVersion)} +${others.join(',')}` : str(status.playwrightVersion);
}

function poolRows(pools: KubeObject[], now: number): string[][] {
  return pools.map((listed) => {
    const p = listed as BrowserPoolObject;
    const s = p.status ?? {};
    // What the pool aims for, as kubectl's Desired column: an autoscaled pool ignores spec.replicas.
    const desired = s.desiredReplicas ?? p.spec?.replicas;
    return [p.metadata.name ?? '', str(p.spec?.browser), num(desired), num(s.readyReplicas), num(s.idle),
      num(s.busy), num(s.waiting), playwrightColumn(s), age(p.metadata.creationTimestamp, now)];
  });
}

function runRows(runs: TestRunObject[], now: number): string[][] {
  return runs.map((r) => {
    const shards = r.spec?.shards ?? 1;
    const list = r.status?.shards ?? [];
    const progress = Array.from({ length: shards }, (_, i) => shardProgress(list.find((s) => s.index === i + 1)));
    const done = progress.reduce((n, p) => n + p.done, 0);
    const known = progress.every((p) => p.total !== undefined);
    const total = progress.reduce((n, p) => n + (p.total ?? 0), 0);
    const s = r.status?.summary;
    const finishedShards = list.filter((x) => isFinishedPhase(x.phase)).length;
    return [r.metadata.name ?? '', str(r.status?.phase || 'Pending'), str(r.spec?.poolRef?.name),
      `${finishedShards}/${shards}`, `${done}/${known ? total : '?'}`, num(s?.passed), num(s?.failed), num(s?.flaky),
      num(s?.skipped), str(r.status?.duration), age(r.metadata.creationTimestamp, now)];
  });
}

/** The runs' merged reports (status.reportURL), under the TestRuns table; none when no run has one. */
function reportRows(runs: TestRunObject[], allNamespaces: boolean): string[] {
  const reported = runs.filter((r) => r.status?.reportURL);
  if (reported.length === 0) return [];
  const name = (r: TestRunObject) => (allNamespaces ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name ?? '');
  return [
    '',
    `Reports (add ?token=$(kubectl get secret ${REPORT_READER_SECRET} -o jsonpath='{.data.${REPORT_TOKEN_KEY}}' | base64 -d)):`,
    ...table(['RUN', 'URL'], reported.map((r) => [name(r), r.status?.reportURL ?? ''])),
  ];
}

function tunnelRows(tunnels: TunnelObject[], now: number): string[][] {
  return tunnels.map((t) => {
    const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
    return [t.metadata.name ?? '', (t.spec?.poolRefs ?? []).map((p) => p.name).join(','),
      ready ? (ready.status === 'True' ? 'True' : `False (${ready.reason})`) : 'Unknown', str(t.status?.url),
      num(t.status?.activeConnections), age(t.metadata.creationTimestamp, now)];
  });
}

/** The three tables; with `allNamespaces`, each row starts with its namespace. */
export function statusTables(
  lists: { pools: KubeObject[]; runs: TestRunObject[]; tunnels: TunnelObject[] },
  now: number,
  where: { namespace: string; allNamespaces: boolean },
): string[] {
  const key = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;
  const byName = <T extends { metadata: { namespace?: string; name?: string } }>(items: T[]) =>
    [...items].sort((a, b) => key(a).localeCompare(key(b)));
  const pools = byName(lists.pools);
  const runs = byName(lists.runs);
  const tunnels = byName(lists.tunnels);
  const sections = [
    {
      title: 'BrowserPools',
      headers: ['NAME', 'BROWSER', 'DESIRED', 'READY', 'IDLE', 'BUSY', 'WAITING', 'PLAYWRIGHT', 'AGE'],
      items: pools,
      rows: poolRows(pools, now),
    },
    {
      title: 'TestRuns',
      headers: ['NAME', 'PHASE', 'POOL', 'SHARDS', 'TESTS', 'PASSED', 'FAILED', 'FLAKY', 'SKIPPED', 'DURATION', 'AGE'],
      items: runs,
      rows: runRows(runs, now),
    },
    { title: 'Tunnels', headers: ['NAME', 'POOLS', 'READY', 'URL', 'ACTIVE', 'AGE'], items: tunnels, rows: tunnelRows(tunnels, now) },
  ];
  const place = where.allNamespaces ? 'any namespace' : `namespace ${where.namespace}`;
  if (sections.every((s) => s.items.length === 0)) return [`No BrowserPools, TestRuns or Tunnels in ${place}.`];
  const out: string[] = [];
  for (const { title, headers, items, rows } of sections) {
    if (out.length > 0) out.push('');
    if (items.length === 0) {
      out.push(`${title}: none`);
    } else if (where.allNamespaces) {
      const withNamespace = rows.map((r, i) => [items[i]?.metadata.namespace ?? '', ...r]);
      out.push(`${title}:`, ...table(['NAMESPACE', ...headers], withNamespace));
    } else {
      out.push(`${title}:`, ...table(headers, rows));
    }
    // A URL is too wide for the table: the runs' merged reports go below it.
    if (title === 'TestRuns') out.push(...reportRows(runs, where.allNamespaces));
  }
  return out;
}

export async function statusCommand(args: string[], io: { out: NodeJS.WritableStream; env?: NodeJS.ProcessEnv }) {
  const { values, positionals } = parseFlags('status', args, help.flags);
  if (values.help) {
    io.out.write(`usage: fleetwright status ${help.synopsis}\n\n${helpText(help)}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]} (see fleetwright status --help)`);
  const all = values['all-namespaces'] === true;
  const cluster = new Cluster(loadTarget(kubeFlagsOf(values), io.env));
  const ns = all ? undefined : cluster.namespace;
  const list = <T>(type: typeof BROWSER_POOL) =>
    cluster.get<{ items: T[] }>(collectionPath(type, ns)).then((l) => l.items);
  const [pools, runs, tunnels] = await Promise.all([
    list<BrowserPoolObject>(BROWSER_POOL), list<TestRunObject>(TEST_RUN), list<TunnelObject>(TUNNEL),
  ]);
  const where = { namespace: cluster.namespace, allNamespaces: all };
  const lines = statusTables({ pools, runs, tunnels }, Date.now(), where);
  io.out.write(`${lines.join('\n')}\n`);
  return 0;
}
