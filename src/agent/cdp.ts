// A Chromium of its own for each Chrome DevTools Protocol session. A CDP
// client may use the browser's default context and can attach to every target
// of the browser, so it cannot share the warm browser with anyone, and nothing
// it leaves (cookies, storage, pages, downloads) may reach the next client:
// each session gets a browser nobody used, with a new profile and HOME, and
// the browser and both directories are gone when the session ends.
// Playwright's launch is not used: it keeps a pipe connection that attaches to
// every target itself, which a CDP client does not expect.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { AgentConfig } from '../contracts/agent.ts';
import { launchOptions } from './routing.ts';

/** How long Chromium may take to open its DevTools endpoint. */
const START_TIMEOUT_MS = 30_000;
/** How long Chromium may take to exit on SIGTERM before its process group is killed. */
const STOP_GRACE_MS = 3_000;

/**
 * Chromium switches for a browser that nobody configures but its client: no
 * first-run UI, no traffic of its own (updates, sync, metrics), no keyring.
 * The pod's flags (no GPU, small /dev/shm, the pool's launch args) come on top.
 */
const CDP_SWITCHES = [
  '--headless',
  '--no-sandbox',
  '--remote-debugging-port=0',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--metrics-recording-only',
  '--no-service-autorun',
  '--password-store=basic',
  '--use-mock-keychain',
  '--disable-breakpad',
];

export interface CdpBrowser {
  /** The browser's DevTools WebSocket, ws://127.0.0.1:<port>/devtools/browser/<id>. */
  endpoint: URL;
  /** False once the browser has exited (a spare that crashed while it waited). */
  alive(): boolean;
  /** Stops the browser and deletes its profile; resolves when both are gone. */
  close(): Promise<void>;
}

/** Starts a Chromium for one CDP session; rejects with Chromium's last output when it does not come up. */
export async function launchCdpBrowser(config: AgentConfig): Promise<CdpBrowser> {
  const home = await mkdtemp(join(tmpdir(), 'fleetwright-cdp-'));
  const executable = config.FLEETWRIGHT_CHROMIUM_PATH ?? chromium.executablePath();
  const args = [...CDP_SWITCHES, ...launchOptions(config).args, `--user-data-dir=${join(home, 'profile')}`, 'about:blank'];
  // Its own process group, so that stopping it also stops its renderers and zygote.
  const child = spawn(executable, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
  });
  // A Chromium that could not be spawned emits 'error' and never 'exit'.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const close = async () => {
    stop(child, exited);
    await exited;
    await rm(home, { recursive: true, force: true });
  };
  try {
    const alive = () => child.exitCode === null && child.signalCode === null;
    return { endpoint: await devToolsEndpoint(child), alive, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The Chromiums of a pod's CDP sessions. The first session on a pod waits for
 * its browser to start; each time a session's browser is discarded, the next
 * one starts and waits for the next session. So a pod that serves CDP clients
 * hands them warm browsers, a pod that never does keeps none, and a pod never
 * runs more Chromiums for CDP than it has sessions, or one when it has none.
 */
export class CdpBrowsers {
  private readonly launch: () => Promise<CdpBrowser>;
  private readonly inUse = new Set<CdpBrowser>();
  private spare: Promise<CdpBrowser> | undefined;
  private closing = false;

  constructor(launch: () => Promise<CdpBrowser>) {
    this.launch = launch;
  }

  /** A browser for one session: the spare when it is alive, else one started now. */
  async take(): Promise<CdpBrowser> {
    const spare = this.spare;
    this.spare = undefined;
    let browser = await spare?.catch(() => undefined);
    if (!browser?.alive()) {
      await browser?.close();
      browser = await this.launch();
    }
    this.inUse.add(browser);
    return browser;
  }

  /** Stops a session's browser, deletes its profile, and starts the spare for the next session. */
  async discard(browser: CdpBrowser): Promise<void> {
    this.inUse.delete(browser);
    await browser.close();
    if (this.closing || this.spare) return;
    this.spare = this.launch();
    // A spare that fails to start is replaced by a start at the next take().
    this.spare.catch(() => undefined);
  }

  /** Stops every browser, spare included; no spare starts after this. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const spare = this.spare?.catch(() => undefined);
    await Promise.all([...[...this.inUse].map((b) => b.close()), spare?.then((b) => b?.close())]);
  }
}

/** The endpoint Chromium prints on stderr once it listens. */
function devToolsEndpoint(child: ChildProcess): Promise<URL> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not open its DevTools endpoint within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output = (output + chunk).slice(-4096);
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(new URL(match[1]));
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start Chromium: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = output.trim().split('\n').at(-1) ?? '';
      reject(new Error(`Chromium exited (${signal ?? code}) before opening its DevTools endpoint${last ? `: ${last}` : ''}`));
    });
  });
}

function stop(child: ChildProcess, exited: Promise<void>): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const group = -child.pid;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(group, name);
    } catch {
      // The group is already gone.
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), STOP_GRACE_MS);
  void exited.then(() => {
    clearTimeout(timer);
    // Renderers that outlived the browser process.
    signal('SIGKILL');
  });
}
