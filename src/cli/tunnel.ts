// `fleetwright tunnel <name>`: a Playwright snippet, ready to paste, that
// connects through the Tunnel. The token stays in an environment variable;
// --print-token prints it alone, for `export FLEETWRIGHT_TOKEN=$(…)`.
import { SECRET, type SecretObject, secretValue } from '../api/builtin.ts';
import { type Tunnel, tunnelPath } from '../api/v1alpha1/index.ts';
import { TUNNEL } from '../api/resources.ts';
import { objectPath } from '../runtime/resource.ts';
import { statusCode } from '../runtime/rest.ts';
import { UsageError } from '../runtime/usage.ts';
import { type CommandHelp, helpText, kubeFlagsOf, parseFlags } from './flags.ts';
import { Cluster, loadTarget } from './kube.ts';

export const TOKEN_VARIABLE = 'FLEETWRIGHT_TOKEN';

export const help: CommandHelp = {
  synopsis: '<tunnel> [--print-token]',
  description: [
    'Prints a Playwright snippet that connects through the Tunnel, and how Puppeteer, connectOverCDP and',
    '@playwright/mcp connect to its CDP endpoint: its status.url, with the token read from',
    `$${TOKEN_VARIABLE}. The token itself is printed only with --print-token, alone on its line.`,
  ].join('\n'),
  flags: {
    'print-token': { type: 'boolean', help: 'print the Tunnel\'s token (from its Secret) and nothing else' },
  },
  examples: ['fleetwright tunnel dev', `export ${TOKEN_VARIABLE}=$(fleetwright tunnel dev --print-token)`],
};

/** The snippet (stdout) and the warnings (stderr) for a Tunnel. */
export function tunnelSnippet(tunnel: Tunnel, namespaceFlag: string): { snippet: string[]; warnings: string[] } {
  const { name, namespace } = tunnel.metadata;
  const warnings: string[] = [];
  const ready = tunnel.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    warnings.push(`Tunnel ${namespace}/${name} is not Ready${ready ? ` (${ready.reason}): ${ready.message}` : ' yet'}`);
  }
  let url = tunnel.status?.url ?? tunnelPath(tunnel);
  if (url.startsWith('/')) {
    warnings.push('its status.url is a path only: the controller runs without --gateway-url, so put the gateway\'s ' +
      'address in front of it');
    url = `wss://<gateway address>${url}`;
  }
  const pools = tunnel.spec.poolRefs.map((p) => p.name).join(', ');
  const versions = tunnel.status?.versions ?? [];
  const either = versions.length > 1 ? `${versions.slice(0, -1).join(', ')} or ${versions.at(-1)}` : versions[0];
  const client = versions.length > 0 ? `; use a Playwright ${either} client` : '';
  const expose = tunnel.spec.allowExposeNetwork
    ? '  // exposeNetwork: \'<loopback>\', // lets the browser open pages this machine serves on localhost'
    : '  // (this Tunnel refuses exposeNetwork: allowExposeNetwork is false)';
  const snippet = [
    `// Tunnel ${namespace}/${name}: browsers of BrowserPool ${pools}${client}.`,
    `// First: export ${TOKEN_VARIABLE}=$(fleetwright tunnel ${name} ${namespaceFlag} --print-token)`,
    'import { chromium } from \'playwright\';',
    '',
    `const browser = await chromium.connect('${url}', {`,
    `  headers: ${auth(TOKEN_VARIABLE)},`,
    expose,
    '});',
    'const page = await browser.newPage();',
    '// … drive the page …',
    'await browser.close();',
    '',
    '// Or for a whole suite, in playwright.config.ts:',
    `//   use: { connectOptions: { wsEndpoint: '${url}', headers: ${auth(TOKEN_VARIABLE)} } }`,
    '',
    ...cdpSnippet(tunnel, url),
  ];
  return { snippet, warnings };
}

/** How CDP clients connect, at <url>/cdp; a line saying they are refused when allowCDP is false. */
function cdpSnippet(tunnel: Tunnel, url: string): string[] {
  if (!tunnel.spec.allowCDP) return ['// (this Tunnel refuses Chrome DevTools Protocol clients: allowCDP is false)'];
  const ws = `${url}/cdp`;
  const http = ws.replace(/^ws/, 'http');
  return [
    '// Chrome DevTools Protocol clients (Chromium pools; each session gets a browser of its own):',
    `//   puppeteer.connect({ browserWSEndpoint: \`${ws}?token=\${process.env.${TOKEN_VARIABLE}}\` })`,
    `//   chromium.connectOverCDP('${http}', { headers: ${auth(TOKEN_VARIABLE)} })`,
    `//   npx @playwright/mcp --cdp-endpoint ${http} --cdp-header "Authorization: Bearer $${TOKEN_VARIABLE}"`,
  ];
}

/** The Authorization header, as JavaScript, with the token read from the environment variable. */
const auth = (variable: string) => `{ Authorization: \`Bearer \${process.env.${variable}}\` }`;

export function getTunnel(cluster: Cluster, name: string): Promise<Tunnel> {
  return cluster.getOrList<Tunnel>(TUNNEL, name, (names) =>
    `Tunnel ${name} not found in namespace ${cluster.namespace}` + (names.length > 0
      ? `; Tunnels there: ${names.join(', ')}`
      : ': it has no Tunnels; pass -n for the namespace of the Tunnel, or create one (config/samples/tunnel.yaml)'));
}

async function readToken(cluster: Cluster, tunnel: Tunnel): Promise<string> {
  const { name, key } = tunnel.spec.auth.secretRef;
  const where = `Secret ${name} (namespace ${cluster.namespace})`;
  let secret: SecretObject;
  try {
    secret = await cluster.get(objectPath(SECRET, { namespace: cluster.namespace, name }));
  } catch (err) {
    if (statusCode(err) === 404) throw new Error(`${where}, which the Tunnel names, does not exist: create it`, { cause: err });
    throw err;
  }
  const value = secretValue(secret, key);
  if (value === undefined) throw new Error(`${where} has no key ${key}, which the Tunnel names in spec.auth.secretRef.key`);
  return value;
}

export async function tunnelCommand(
  args: string[],
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env?: NodeJS.ProcessEnv },
) {
  const { values, positionals } = parseFlags('tunnel', args, help.flags);
  if (values.help) {
    io.out.write(`usage: fleetwright tunnel ${help.synopsis}\n\n${helpText(help)}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected the name of one Tunnel (see fleetwright tunnel --help)');
  const cluster = new Cluster(loadTarget(kubeFlagsOf(values), io.env));
  const tunnel = await getTunnel(cluster, positionals[0] as string);
  if (values['print-token']) {
    io.out.write(`${await readToken(cluster, tunnel)}\n`);
    return 0;
  }
  const { snippet, warnings } = tunnelSnippet(tunnel, `-n ${cluster.namespace}`);
  for (const warning of warnings) io.err.write(`warning: ${warning}\n`);
  io.out.write(`${snippet.join('\n')}\n`);
  return 0;
}
