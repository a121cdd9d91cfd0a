// An npm registry mirror for the local cluster: verdaccio on the host, bound
// to the address pods reach (the bridge, 10.244.0.1) or loopback, proxying the
// registry this machine's npm uses, with npm's proxy and CA settings, so that
// runner pods install a suite's dependencies from it and a second install is
// served from its storage.
//
// Verdaccio is installed into the shared cache folder, not the project:
// 6.8.0 brings a few hundred packages (express, its UI, its plugins) that the
// product never runs and every `npm ci` of the project would fetch. 6.8.0,
// the last release that runs on Node 20 and later (6.10 wants Node 22).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, stateDir } from './paths.ts';
import { onFreePort } from './ports.ts';
import { logFile, type Managed, runningPid, sleep, startDetached, stopManaged } from './processes.ts';

export const VERDACCIO_VERSION = '6.8.0';

export interface NpmMirrorOptions {
  host: string;
  /** Unset: a free one, and another when it is taken before verdaccio listens (it cannot listen on 0 and say). */
  port?: number;
  /** Where it keeps its config, storage and pid file (default <state>/npm-mirror). */
  dir?: string;
  log?: (line: string) => void;
}

/** What this machine's npm uses to reach its registry, as verdaccio's uplink needs it. */
export interface Upstream {
  registry: string;
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** A CA bundle to trust besides Node's own (a TLS-intercepting proxy's). */
  caFile?: string;
}

const npmConfig = (key: string): string | undefined => {
  const value = execFileSync('npm', ['config', 'get', key], { encoding: 'utf8' }).trim();
  return value === '' || value === 'null' || value === 'undefined' ? undefined : value;
};

/** `npm config get` first, then the environment npm itself falls back to. */
export function upstreamOfNpm(env: NodeJS.ProcessEnv = process.env): Upstream {
  const caFile = npmConfig('cafile') ?? env.NODE_EXTRA_CA_CERTS;
  return {
    registry: npmConfig('registry') ?? 'https://registry.npmjs.org/',
    httpProxy: npmConfig('proxy') ?? env.HTTP_PROXY ?? env.http_proxy,
    httpsProxy: npmConfig('https-proxy') ?? env.HTTPS_PROXY ?? env.https_proxy,
    noProxy: env.NO_PROXY ?? env.no_proxy,
    ...(caFile && existsSync(caFile) ? { caFile } : {}),
  };
}

/** verdaccio's config: everything through the one uplink, kept in `storage`; no sign-ups, no web UI. */
export function verdaccioConfig(upstream: Upstream, storage: string): string {
  const proxies = [
    upstream.httpProxy ? `http_proxy: ${JSON.stringify(upstream.httpProxy)}` : undefined,
    upstream.httpsProxy ? `https_proxy: ${JSON.stringify(upstream.httpsProxy)}` : undefined,
    upstream.noProxy ? `no_proxy: ${JSON.stringify(upstream.noProxy)}` : undefined,
  ].filter((line) => line !== undefined);
  return [
    `storage: ${JSON.stringify(storage)}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(join(storage, '..', 'htpasswd'))}`,
    '    max_users: -1',
    'uplinks:',
    '  upstream:',
    `    url: ${JSON.stringify(upstream.registry)}`,
    '    timeout: 60s',
    '    max_fails: 5',
    ...proxies,
    'packages:',
    '  \'**\':',
    '    access: $all',
    '    publish: $authenticated',
    '    proxy: upstream',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n');
}

/** verdaccio's entry point, installed once per version into the shared cache with `npm install --prefix`. */
export function ensureVerdaccio(log: (line: string) => void = () => undefined): string {
  const dir = join(cacheDir, 'tools', `verdaccio-${VERDACCIO_VERSION}`);
  const bin = join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  if (existsSync(bin)) return bin;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  log(`installing verdaccio ${VERDACCIO_VERSION} into ${dir}`);
  execFileSync('npm', ['install', '--prefix', partial, '--no-audit', '--no-fund', '--save-exact', `verdaccio@${VERDACCIO_VERSION}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return bin;
}

const managedOf = (dir: string): Managed => ({ name: 'npm-mirror', runDir: dir });
const dirOf = (options: { dir?: string }) => options.dir ?? join(stateDir, 'npm-mirror');

/** The mirror's URL once it answers /-/ping; starts it unless it already runs. */
export async function startNpmMirror(options: NpmMirrorOptions, upstream: Upstream = upstreamOfNpm()): Promise<string> {
  const dir = dirOf(options);
  const managed = managedOf(dir);
  // One left running (hack/npm-mirror.ts up, or a run that was killed) serves where it was started.
  const urlFile = join(dir, 'url');
  if (runningPid(managed) !== undefined) {
    if (existsSync(urlFile)) return answering(readFileSync(urlFile, 'utf8').trim(), managed);
    await stopManaged(managed, 5_000);
  }
  const bin = ensureVerdaccio(options.log);
  const storage = join(dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(config, verdaccioConfig(upstream, storage));
  // Node's TLS reads NODE_EXTRA_CA_CERTS once at start, for every agent verdaccio makes.
  const env = upstream.caFile ? { NODE_EXTRA_CA_CERTS: upstream.caFile } : {};
  const start = async (port: number) => {
    const url = `http://${options.host}:${port}/`;
    startDetached(managed, process.execPath, [bin, '--config', config, '--listen', `${options.host}:${port}`], env);
    writeFileSync(urlFile, url);
    return answering(url, managed);
  };
  return options.port === undefined ? onFreePort(options.host, start) : start(options.port);
}

/** `url` once the mirror answers /-/ping; fails with its log's last lines (EADDRINUSE among them) when it stopped. */
async function answering(url: string, managed: Managed): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}-/ping`).then((r) => r.ok, () => false);
    if (ok) return url;
    if (runningPid(managed) === undefined) break;
    await sleep(200);
  }
  const tail = existsSync(logFile(managed)) ? readFileSync(logFile(managed), 'utf8').split('\n').slice(-10).join('\n') : '';
  throw new Error(`the npm mirror did not answer at ${url}-/ping within 30 s; see ${logFile(managed)}:\n${tail}`);
}

export async function stopNpmMirror(options: { dir?: string } = {}): Promise<void> {
  await stopManaged(managedOf(dirOf(options)), 5_000);
  rmSync(join(dirOf(options), 'url'), { force: true });
}
