// An OCI registry next to the local cluster: Debian's docker-registry (the
// CNCF distribution registry 2.8) on the first node's bridge address, where
// the host pushes releases (npm run release) and every node's containerd pulls
// them. Its storage lives in the shared cache, so a warm machine has the
// releases it pushed before; its config and pid file live with the cluster.
//
// Plain HTTP: the registry listens only on the bridge, which nothing off this
// machine reaches (node-network.ts), so TLS would protect nothing here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIRST_NODE } from './node-layout.ts';
import { cacheDir, stateDir } from './paths.ts';
import { accepting } from './ports.ts';
import { commandLine, logFile, type Managed, runningPid, sleep, startDetached, stopManaged } from './processes.ts';

/**
 * Not 5000: Debian's package enables a docker-registry service on :5000 of
 * every address, which machines with systemd start on install.
 */
export const REGISTRY_PORT = 15000;
/** host:port, as image references and `helm push oci://` name it. */
export const REGISTRY_ADDRESS = `${FIRST_NODE.bridgeIp}:${REGISTRY_PORT}`;

const dir = join(stateDir, 'registry');
const storage = join(cacheDir, 'registry');
const managed: Managed = { name: 'registry', runDir: join(stateDir, 'run') };

/** The registry's config: `storage` on disk, served on `address`; only warnings logged, no access log. */
export function registryConfig(address: string, storageDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    'http:',
    `  addr: ${JSON.stringify(address)}`,
    // Signs upload state between requests; one process, nothing to share it with.
    '  secret: fleetwright-local',
    '',
  ].join('\n');
}

/** containerd's hosts.toml for the registry at `address`: pulls over plain HTTP, no pushes. */
export function registryHostsToml(address: string): string {
  return [
    `server = "http://${address}"`,
    '',
    `[host."http://${address}"]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
}

/** Writes <certsDir>/<address>/hosts.toml, the file containerd's config_path looks up for that registry. */
export function writeRegistryHosts(certsDir: string): void {
  const hostDir = join(certsDir, REGISTRY_ADDRESS);
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, 'hosts.toml'), registryHostsToml(REGISTRY_ADDRESS));
}

const answering = () =>
  fetch(`http://${REGISTRY_ADDRESS}/v2/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);

/** Starts the registry on the bridge (which must exist) unless it runs with this config already. */
export async function ensureRegistry(log: (line: string) => void): Promise<void> {
  const config = join(dir, 'config.yml');
  const command = ['docker-registry', 'serve', config];
  const pid = runningPid(managed);
  if (pid !== undefined && commandLine(pid).trim() === command.join(' ') && (await answering())) return;
  await stopManaged(managed, 5_000);
  if (await accepting(FIRST_NODE.bridgeIp, REGISTRY_PORT)) {
    throw new Error(
      `the registry of ${stateDir} cannot start: ${REGISTRY_ADDRESS} is taken by another process (another ` +
      'checkout\'s cluster?). Stop it (npm run controlplane -- down in that checkout).',
    );
  }
  mkdirSync(dir, { recursive: true });
  mkdirSync(storage, { recursive: true });
  writeFileSync(config, registryConfig(REGISTRY_ADDRESS, storage));
  const [binary = 'docker-registry', ...args] = command;
  startDetached(managed, binary, args);
  const deadline = Date.now() + 30_000;
  while (!(await answering())) {
    if (runningPid(managed) === undefined || Date.now() > deadline) {
      const tail = existsSync(logFile(managed)) ? readFileSync(logFile(managed), 'utf8').trim().split('\n').slice(-10).join('\n') : '';
      throw new Error(`the registry did not answer at http://${REGISTRY_ADDRESS}/v2/; see ${logFile(managed)}:\n${tail}`);
    }
    await sleep(100);
  }
  log(`registry at http://${REGISTRY_ADDRESS} (storage ${storage})`);
}

export async function stopRegistry(): Promise<void> {
  await stopManaged(managed, 5_000);
}

export const registryRunning = () => runningPid(managed) !== undefined;
