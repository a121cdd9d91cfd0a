// `fleetwright sessions <tunnel>`: a Tunnel's recent sessions as the report
// store lists them (status.sessionsURL, read with the namespace's read token
// from Secret REPORT_READER_SECRET), with the URLs of their recordings and
// live views; --live <id> prints one session's live view. What is printed is
// sessions-render.ts's.
import { SECRET, type SecretObject, secretValue } from '../api/builtin.ts';
import type { Tunnel } from '../api/v1alpha1/index.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY } from '../contracts/report-store.ts';
import { SESSION_ID, SessionListing } from '../contracts/tunnel-session.ts';
import { objectPath } from '../runtime/resource.ts';
import { statusCode } from '../runtime/rest.ts';
import { UsageError } from '../runtime/usage.ts';
import { type CommandHelp, helpText, intFlag, kubeFlagsOf, parseFlags, stringFlag } from './flags.ts';
import { Cluster, loadTarget } from './kube.ts';
import { inClusterService } from './render.ts';
import { liveLines, sessionsText } from './sessions-render.ts';
import { getTunnel } from './tunnel.ts';

const STORE_TIMEOUT_MS = 20_000;

export const help: CommandHelp = {
  synopsis: '<tunnel> [--limit <n>] [-o json] | <tunnel> --live <id> [--takeover]',
  description: [
    'Lists the recent sessions of a Tunnel as the report store keeps them: client, start, duration, bytes each way,',
    'how each ended, and the URLs of its recordings and, while it runs, of its live view. The URLs open with the',
    `namespace's read token (Secret ${REPORT_READER_SECRET}); the command that prints it is shown, never the token.`,
  ].join('\n'),
  flags: {
    limit: { type: 'string', value: 'n', help: 'list at most this many sessions, newest first (default 50, at most 500)' },
    output: { type: 'string', short: 'o', value: 'format', help: 'json: the store\'s listing as it is' },
    live: { type: 'string', value: 'id', help: 'print the live view\'s URL of session <id> instead' },
    takeover: { type: 'boolean', help: 'with --live: the URL that may also click and type (spec.liveView.takeover)' },
  },
  examples: ['fleetwright sessions dev', 'fleetwright sessions dev -o json --limit 5', 'fleetwright sessions dev --live 0a1b2c3d4e5f'],
};

async function readToken(cluster: Cluster): Promise<string> {
  const where = `Secret ${REPORT_READER_SECRET} in namespace ${cluster.namespace}`;
  let secret: SecretObject;
  try {
    secret = await cluster.get(objectPath(SECRET, { namespace: cluster.namespace, name: REPORT_READER_SECRET }));
  } catch (err) {
    if (statusCode(err) === 404) {
      throw new Error(`${where} does not exist: the controller makes it when it runs with --report-store-url; or create it ` +
        `with the read token under key ${REPORT_TOKEN_KEY}`, { cause: err });
    }
    throw err;
  }
  const token = secretValue(secret, REPORT_TOKEN_KEY);
  if (!token) throw new Error(`${where} has no key ${REPORT_TOKEN_KEY}: delete it, and the controller makes it again`);
  return token;
}

/** Where to reach a store whose URL is a Service's inside the cluster, for the error when it cannot be reached. */
function portForwardHint(url: URL): string {
  const service = inClusterService(url);
  if (!service) return '';
  return `; from outside the cluster: kubectl port-forward -n ${service.namespace} service/${service.service} ` +
    `8082:${service.port}, then fetch http://localhost:8082${url.pathname} with the read token`;
}

async function fetchListing(tunnel: Tunnel, url: string, token: string, limit: number | undefined): Promise<unknown> {
  const target = new URL(url);
  if (limit !== undefined) target.searchParams.set('limit', String(limit));
  let response: Response;
  try {
    response = await fetch(target, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(STORE_TIMEOUT_MS) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot reach the report store at ${target.origin} (${cause})${portForwardHint(target)}`, { cause: err });
  }
  const ref = `Tunnel ${tunnel.metadata.namespace}/${tunnel.metadata.name}`;
  if (response.status === 401) {
    throw new Error(`the report store refused the read token of Secret ${REPORT_READER_SECRET} (401): it was changed or ` +
      'deleted and made again after the store last saw it, or the store watches another namespace; try again in a moment');
  }
  if (response.status === 404) throw new Error(`the report store does not know ${ref} (404): it serves another cluster or namespace`);
  if (!response.ok) throw new Error(`the report store answered ${response.status}: ${(await response.text()).trim()}`);
  return response.json();
}

export async function sessionsCommand(
  args: string[],
  io: { out: NodeJS.WritableStream; env?: NodeJS.ProcessEnv; now?: number },
) {
  const { values, positionals } = parseFlags('sessions', args, help.flags);
  if (values.help) {
    io.out.write(`usage: fleetwright sessions ${help.synopsis}\n\n${helpText(help)}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected the name of one Tunnel (see fleetwright sessions --help)');
  const output = stringFlag(values, 'output');
  if (output !== undefined && output !== 'json') throw new UsageError(`-o ${output}: the one format is json`);
  const live = stringFlag(values, 'live');
  if (live !== undefined && !SESSION_ID.test(live)) throw new UsageError(`--live ${live}: a session id is 12 hex digits, as listed`);
  if (values.takeover && live === undefined) throw new UsageError('--takeover goes with --live <id>');
  const limit = intFlag(stringFlag(values, 'limit'), 'limit', 1, 500);

  const cluster = new Cluster(loadTarget(kubeFlagsOf(values), io.env));
  const tunnel = await getTunnel(cluster, positionals[0] as string);
  if (live !== undefined) {
    const { lines, error } = liveLines(tunnel, live, values.takeover === true);
    if (error) throw new Error(error);
    io.out.write(`${lines.join('\n')}\n`);
    return 0;
  }
  const url = tunnel.status?.sessionsURL;
  if (!url) {
    throw new Error(`Tunnel ${cluster.namespace}/${tunnel.metadata.name} has no status.sessionsURL: no report store keeps its ` +
      'sessions. Run one (the chart: reportStore.enabled=true) and give the controller --report-store-url');
  }
  const json = await fetchListing(tunnel, url, await readToken(cluster), limit);
  const listing = SessionListing.safeParse(json);
  if (!listing.success) throw new Error(`the report store at ${url} answered with no session listing: ${listing.error.message}`);
  if (output === 'json') {
    io.out.write(`${JSON.stringify(listing.data, null, 2)}\n`);
    return 0;
  }
  io.out.write(`${sessionsText(tunnel, listing.data, io.now ?? Date.now()).join('\n')}\n`);
  return 0;
}
