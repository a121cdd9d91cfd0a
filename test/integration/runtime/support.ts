import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { inject } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { onFreePort } from '../../../hack/lib/ports.ts';
import type { KubeObject, ResourceType } from '../../../src/api/meta.ts';
import type { Controller } from '../../../src/runtime/controller.ts';
import { Manager } from '../../../src/runtime/manager.ts';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { collectionPath } from '../../../src/runtime/resource.ts';
import { RestClient } from '../../../src/runtime/rest.ts';
import { kubeConfig } from '../helpers.ts';

export type LogLine = { level: string; msg: string; time: string; [field: string]: unknown };

/** A pino logger whose lines land in `lines`, parsed. */
export function capturingLogger(level = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (l) => ({ level: l }) } },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

export const rest = () => new RestClient(kubeConfig());

/** A process that ended before it did what it was started for: not worth waiting on. */
class StartFailed extends Error {}

/**
 * Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs` saying `what`;
 * at once when `check` throws a StartFailed.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      if (err instanceof StartFailed) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** A manager in this process, for tests that look inside (cache contents, reconcile calls, log lines). */
export async function startManager(controllers: Controller[], namespace: string) {
  const { log, lines } = capturingLogger();
  const metrics = new Metrics();
  const manager = new Manager({ kubeConfig: kubeConfig(), log, metrics, controllers, namespace });
  await manager.start();
  return { manager, metrics, lines, stop: () => manager.shutdown(5_000) };
}

export async function listAll<T extends KubeObject>(type: ResourceType, namespace: string): Promise<T[]> {
  const list = await rest().get<{ items: T[] }>(collectionPath(type, namespace));
  // List items carry no apiVersion/kind.
  return list.items.map((o) => ({ ...o, apiVersion: type.apiVersion, kind: type.kind }));
}

/** Runs `tasks` with at most `width` in flight. */
export async function inParallel(width: number, tasks: (() => Promise<unknown>)[]): Promise<void> {
  const queue = [...tasks];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) await t();
  }));
}

/**
 * A program to start, and whom it acts as: the chart's ServiceAccount of the
 * controller or the gateway (with only the chart's RBAC), or the cluster admin.
 */
export interface Command { argv: string[]; as: 'controller' | 'gateway' | 'report-store' | 'admin' }

const main = join(repoRoot, 'src', 'main.ts');
/** The toy controller of the runtime tests, which works on ConfigMaps and Secrets the chart does not grant. */
const toyController: Command = { argv: [join(repoRoot, 'test', 'fixtures', 'runtime', 'toy-controller.ts')], as: 'admin' };
/** The real `fleetwright controller`, with every Fleetwright controller. */
export const fleetwrightController: Command = { argv: [main, 'controller'], as: 'controller' };
/** `fleetwright controller` with the Tunnel controller alone. */
export const tunnelControllerOnly: Command = { argv: [join(repoRoot, 'test', 'fixtures', 'tunnel', 'controller.ts')], as: 'controller' };
/** The real `fleetwright gateway`. */
export const fleetwrightGateway: Command = { argv: [main, 'gateway'], as: 'gateway' };
/** The real `fleetwright report-store`. */
export const fleetwrightReportStore: Command = { argv: [main, 'report-store'], as: 'report-store' };

const KUBECONFIGS = {
  'admin': 'kubeconfig',
  'controller': 'controllerKubeconfig',
  'gateway': 'gatewayKubeconfig',
  'report-store': 'reportStoreKubeconfig',
} as const;
const kubeconfigOf = (command: Command) => inject(KUBECONFIGS[command.as]);

/**
 * `fleetwright controller` (the toy one unless told) as its own process; its JSON log lines are collected.
 * Its log writes are synchronous: while this process is blocked (spawnSync) the pipe fills and the controller
 * stops, so whatever waits on it runs in the background (kubectlInBackground).
 */
export class ControllerProcess {
  readonly lines: LogLine[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** What it printed on stderr: a failure to start (`listen EADDRINUSE`, a usage error) is said there. */
  stderr = '';

  constructor(args: string[], env: Record<string, string> = {}, command = toyController) {
    this.child = spawn(process.execPath, [...command.argv, `--kubeconfig=${kubeconfigOf(command)}`, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) this.lines.push(JSON.parse(line) as LogLine);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      if (this.stderr.trim()) console.error(`controller process stderr:\n${this.stderr}`);
      resolve(code);
    }));
  }

  /**
   * The URL a server logged when it started listening (`serving metrics`, `serving reports`): with port 0 in
   * its bind address, the port the kernel gave it. Fails at once, with its stderr, when the process exited first.
   */
  url(what: string): Promise<string> {
    return eventually(`the controller to serve ${what}`, () => {
      const url = this.lines.find((l) => l.msg === `serving ${what}`)?.url as string | undefined;
      if (url) return url;
      if (this.child.exitCode !== null) throw new StartFailed(`exited ${this.child.exitCode} before serving ${what}: ${this.stderr}`);
      return undefined;
    });
  }

  logged(msg: string): boolean {
    return this.lines.some((l) => l.msg === msg);
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * `fleetwright report-store` on `host`. Its --public-url names its port, so it is told one rather than
 * listening on 0: a free one, another when that was taken before the store listened (onFreePort), or
 * `options.port` to start it again where it was. `args`: its other flags.
 */
export async function startReportStore(
  host: string,
  args: string[],
  options: { env?: Record<string, string>; port?: number } = {},
): Promise<{ store: ControllerProcess; url: string; port: number }> {
  const start = async (port: number) => {
    const url = `http://${host}:${port}`;
    const store = new ControllerProcess([`--bind-address=${host}:${port}`, `--public-url=${url}`, ...args], options.env,
      fleetwrightReportStore);
    await store.url('reports');
    return { store, url, port };
  };
  return options.port === undefined ? onFreePort(host, start) : start(options.port);
}
