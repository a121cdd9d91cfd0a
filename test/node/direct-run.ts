import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot } from '../../hack/lib/paths.ts';

export interface Counts { passed: number; failed: number; flaky: number; skipped: number }

/**
 * What `playwright test` reports for the suite in `dir` run directly, on Debian's chromium on this host: with
 * the suite's own installed Playwright when it has one (`npx playwright test` there), else the project's.
 */
export async function runDirectly(dir: string, env: Record<string, string> = {}): Promise<Counts> {
  const server = await chromium.launchServer({ executablePath: '/usr/bin/chromium', host: '127.0.0.1' });
  try {
    const own = join(dir, 'node_modules/@playwright/test/cli.js');
    const cli = existsSync(own) ? own : join(repoRoot, 'node_modules/@playwright/test/cli.js');
    const child = spawn(process.execPath, [cli, 'test', '--reporter=json'], {
      cwd: dir,
      env: { ...process.env, ...env, PW_TEST_CONNECT_WS_ENDPOINT: server.wsEndpoint() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.on('close', r));
    type Stats = { expected: number; unexpected: number; flaky: number; skipped: number };
    const { stats } = JSON.parse(out) as { stats: Stats };
    return { passed: stats.expected, failed: stats.unexpected, flaky: stats.flaky, skipped: stats.skipped };
  } finally {
    await server.close();
  }
}
