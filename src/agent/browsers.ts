import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { type BrowserServer, chromium, firefox, webkit } from 'playwright-core';
import type { AgentConfig } from '../contracts/agent.ts';
import { debuggerUrl, debuggingPortArg, freePort } from './debugging-port.ts';
import { launchOptions } from './routing.ts';
import type { PlaywrightPackage } from './versions.ts';

// Only the default version is loaded into this process (the warm browser's);
// the others run in their run-server, started when a client of theirs comes.
const browserTypes = { chromium, firefox, webkit };

/**
 * The Chromium build the default playwright-core uses, when it is installed
 * (Playwright's image): the binary other versions launch when the pod names
 * none, since the image holds no build of theirs.
 */
export function defaultChromium(): string | undefined {
  try {
    const path = chromium.executablePath();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

export interface WarmBrowser {
  server: BrowserServer;
  endpoint: URL;
  /** The browser-level DevTools WebSocket of a Chromium, for the agent's observer. */
  devtools?: URL;
}

/** How long a browser may take to open its DevTools port once launched. */
export const DEVTOOLS_WAIT_MS = 10_000;

/**
 * The warm browser: launched once, on loopback, and kept running between
 * clients. A Chromium one also opens a DevTools port on loopback, which the
 * agent observes Tunnel sessions on (`devtools`, debugging-port.ts).
 */
export async function launchWarmBrowser(config: AgentConfig): Promise<WarmBrowser> {
  const chromiumPod = config.FLEETWRIGHT_BROWSER === 'chromium';
  const port = chromiumPod ? await freePort() : undefined;
  const options = launchOptions(config);
  const server = await browserTypes[config.FLEETWRIGHT_BROWSER].launchServer({
    ...options,
    args: port === undefined ? options.args : [...options.args, debuggingPortArg(port)],
    host: '127.0.0.1',
    port: 0,
    wsPath: `/warm-${randomBytes(8).toString('hex')}`,
  });
  const endpoint = new URL(server.wsEndpoint());
  if (port === undefined) return { server, endpoint };
  // Without its DevTools port (debugging-port.ts says when) the browser still serves; its sessions go unobserved.
  const devtools = await debuggerUrl(port, DEVTOOLS_WAIT_MS).catch(() => undefined);
  return devtools ? { server, endpoint, devtools } : { server, endpoint };
}

/** Playwright's run-server of one version, listening on loopback. */
export interface RunServer {
  child: ChildProcess;
  endpoint: URL;
}

/**
 * Playwright's own run-server of `pkg` on loopback, which launches a browser
 * per connection and honours exposeNetwork. It runs --unsafe so that it accepts
 * the agent's executablePath and args; only the agent can reach it, and the
 * agent rewrites every client's launch options (routing.ts). The flags are the
 * same from 1.63 to the 1.66 pre-release. (run-server means to exit when its
 * stdin closes, but it never reads stdin, so it does not notice: RunServers
 * stops it with a signal.)
 */
export async function startRunServer(pkg: PlaywrightPackage): Promise<RunServer> {
  const child = spawn(process.execPath, [pkg.cli, 'run-server', '--host', '127.0.0.1', '--port', '0', '--path', '/fresh', '--unsafe'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<URL>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (ws:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(new URL(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`playwright ${pkg.version} run-server exited with ${code} before listening`)));
  });
  return { child, endpoint };
}

/** How long a run-server has to close its browsers on SIGINT before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * The run-server of each served version, started on the first client that
 * needs it and kept for the next ones. Only the default version is started
 * ahead (by the agent, with the warm browser): an idle run-server is a Node
 * process of about 120 MB, and most pods never see a client of most versions,
 * so starting every one would cost each pod hundreds of MB for nothing. A
 * run-server that exits is forgotten, and the next client starts it again;
 * `onExit` says so (the agent treats the default's as fatal).
 */
export class RunServers {
  private readonly started = new Map<string, Promise<RunServer>>();
  private readonly children = new Set<ChildProcess>();
  private readonly packages: readonly PlaywrightPackage[];
  private readonly onExit: (version: string, code: number | null) => void;

  constructor(packages: readonly PlaywrightPackage[], onExit: (version: string, code: number | null) => void) {
    this.packages = packages;
    this.onExit = onExit;
  }

  /** The endpoint of `version`'s run-server, starting it when none runs. */
  endpoint(version: string): Promise<URL> {
    let server = this.started.get(version);
    if (!server) {
      const pkg = this.packages.find((p) => p.version === version);
      if (!pkg) return Promise.reject(new Error(`Playwright ${version} is not served here`));
      server = startRunServer(pkg);
      this.started.set(version, server);
      server.then(
        ({ child }) => {
          this.children.add(child);
          child.once('exit', (code) => {
            this.children.delete(child);
            this.started.delete(version);
            this.onExit(version, code);
          });
        },
        () => this.started.delete(version),
      );
    }
    return server.then((s) => s.endpoint);
  }

  /** The versions whose run-server runs or is starting. */
  get running(): string[] {
    return [...this.started.keys()];
  }

  /**
   * Stops every run-server: SIGINT, on which Playwright closes the browsers it
   * launched and exits (on SIGTERM it closes them too, but does not exit while
   * one was open); SIGKILL after a while.
   */
  async stopAll(): Promise<void> {
    await Promise.allSettled(this.started.values());
    await Promise.all([...this.children].map(async (child) => {
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }));
  }

  /** For the agent's exit, which cannot wait: no run-server outlives it. */
  killAll(): void {
    for (const child of this.children) child.kill('SIGKILL');
  }
}
