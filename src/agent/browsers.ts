import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type BrowserServer, chromium, firefox, webkit } from 'playwright-core';
import type { AgentConfig } from '../contracts/agent.ts';
import { launchOptions } from './routing.ts';

const browserTypes = { chromium, firefox, webkit };
const require = createRequire(import.meta.url);

/** The version of the playwright-core this process loads: a client must be of the same major.minor. */
export function playwrightVersion(): string {
  return (require('playwright-core/package.json') as { version: string }).version;
}

/** The warm browser: launched once, on loopback, and kept running between clients. */
export async function launchWarmBrowser(config: AgentConfig): Promise<{ server: BrowserServer; endpoint: URL }> {
  const server = await browserTypes[config.FLEETWRIGHT_BROWSER].launchServer({
    ...launchOptions(config),
    host: '127.0.0.1',
    port: 0,
    wsPath: `/warm-${randomBytes(8).toString('hex')}`,
  });
  return { server, endpoint: new URL(server.wsEndpoint()) };
}

/**
 * Playwright's own run-server on loopback, which launches a browser per
 * connection and honours exposeNetwork. It runs --unsafe so that it accepts
 * the agent's executablePath and args; only the agent can reach it, and the
 * agent rewrites every client's launch options (routing.ts). It exits when
 * its stdin closes, so it never outlives the agent.
 */
export async function startFreshServer(): Promise<{ child: ChildProcess; endpoint: URL }> {
  const cli = join(require.resolve('playwright-core/package.json'), '..', 'cli.js');
  const child = spawn(process.execPath, [cli, 'run-server', '--host', '127.0.0.1', '--port', '0', '--path', '/fresh', '--unsafe'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<URL>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (ws:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(new URL(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`playwright run-server exited with ${code} before listening`)));
  });
  return { child, endpoint };
}
