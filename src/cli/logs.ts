// `fleetwright logs <testrun> [--shard i]`: the logs of a run's runner pods
// (the current attempt of each shard), read through the API server as
// `kubectl logs` reads them.
import type { TestRunObject } from '../api/objects.ts';
import { TEST_RUN } from '../api/resources.ts';
import { statusCode } from '../runtime/rest.ts';
import { UsageError } from '../runtime/usage.ts';
import { type CommandHelp, helpText, intFlag, kubeFlagsOf, parseFlags, stringFlag } from './flags.ts';
import { Cluster, loadTarget } from './kube.ts';

export const help: CommandHelp = {
  synopsis: '<testrun> [--shard i] [-f]',
  description: [
    'Prints the logs of a TestRun\'s runner pods: Playwright\'s own output of each shard (its current attempt;',
    'an earlier attempt\'s pod is <testrun>-<shard>-<attempt> for kubectl logs).',
  ].join('\n'),
  flags: {
    shard: { type: 'string', value: 'i', help: 'only shard i (1-based, as in --shard=i/n)' },
    follow: { type: 'boolean', short: 'f', help: 'keep streaming the log of a running shard (needs --shard with >1 shard)' },
  },
  examples: ['fleetwright logs checkout-1a2b3', 'fleetwright logs checkout-1a2b3 --shard 2 -f'],
};

/** Reads a TestRun, or says which runs the namespace has. */
export function getRun(cluster: Cluster, name: string): Promise<TestRunObject> {
  return cluster.getOrList<TestRunObject>(TEST_RUN, name, (names) =>
    `TestRun ${name} not found in namespace ${cluster.namespace}` + (names.length > 0
      ? `; runs there: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''} (fleetwright status lists them)`
      : ': it has no TestRuns; pass -n for the namespace of the run'));
}

export async function logsCommand(args: string[], io: { out: NodeJS.WritableStream; env?: NodeJS.ProcessEnv }) {
  const { values, positionals } = parseFlags('logs', args, help.flags);
  if (values.help) {
    io.out.write(`usage: fleetwright logs ${help.synopsis}\n\n${helpText(help)}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected the name of one TestRun (see fleetwright logs --help)');
  const name = positionals[0] as string;
  const cluster = new Cluster(loadTarget(kubeFlagsOf(values), io.env));
  const run = await getRun(cluster, name);
  const shards = run.spec?.shards ?? 1;
  const only = intFlag(stringFlag(values, 'shard'), 'shard', 1, 100);
  if (only !== undefined && only > shards) {
    throw new UsageError(`--shard=${only}: TestRun ${name} has ${shards} shard(s)`);
  }
  const follow = values.follow === true;
  if (follow && only === undefined && shards > 1) {
    throw new UsageError(`-f follows one shard: pass --shard (1 to ${shards})`);
  }
  const indexes = only !== undefined ? [only] : Array.from({ length: shards }, (_, i) => i + 1);
  for (const index of indexes) {
    const shard = run.status?.shards?.find((s) => s.index === index);
    const title = `shard ${index}/${shards}`;
    if (!shard?.runnerPod) {
      io.out.write(`==> ${title}: no runner pod yet (${shard?.phase ?? 'Pending'}: waiting for a browser) <==\n`);
      continue;
    }
    if (indexes.length > 1) {
      io.out.write(`==> ${title}: pod ${shard.runnerPod} (attempt ${shard.attempts ?? 1}, ${shard.phase}) <==\n`);
    }
    const path = `/api/v1/namespaces/${encodeURIComponent(cluster.namespace)}/pods/${shard.runnerPod}/log`;
    try {
      await cluster.stream(path, { container: 'runner', ...(follow ? { follow: true } : {}) }, io.out, follow);
    } catch (err) {
      if (statusCode(err) === 404) {
        io.out.write(`runner pod ${shard.runnerPod} is gone: its log went with it\n`);
      } else if (statusCode(err) === 400) {
        // The pod exists but its container has not started: the API server says so.
        io.out.write(`${String(err instanceof Error ? err.message : err).replace(/^GET \S+: 400 \S* ?/, '')}\n`);
      } else {
        throw err;
      }
    }
  }
  return 0;
}
