// The browser agent as a browser pod runs it (`fleetwright agent`), on
// loopback with Debian's chromium, for the tests of test/unit/agent/: its log
// lines as they come, and the addresses it logged once ready.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../hack/lib/paths.ts';

export interface LogLine {
  msg: string;
  [key: string]: unknown;
}

export interface RunningAgent {
  /** http://host:port of the endpoint (WebSocket and plain HTTP). */
  origin: string;
  /** http://host:port of the health port. */
  health: string;
  lines: LogLine[];
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the agent with `env` on top of a loopback pod's; resolves once it logged 'browser agent ready'. */
export async function startAgent(env: Record<string, string>): Promise<RunningAgent> {
  const tmp = mkdtempSync(join(tmpdir(), 'fleetwright-agent-test-'));
  const agent: ChildProcess = spawn(process.execPath, ['src/main.ts', 'agent'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      POD_IP: '127.0.0.1',
      FLEETWRIGHT_AGENT_PORT: '0',
      FLEETWRIGHT_HEALTH_PORT: '0',
      FLEETWRIGHT_CHROMIUM_PATH: '/usr/bin/chromium',
      FLEETWRIGHT_DRAIN_SECONDS: '2',
      FLEETWRIGHT_TERMINATION_LOG: join(tmp, 'termination-log'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  agent.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let partial = '';
  agent.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
  });
  const stop = async () => {
    if (agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  let ready: LogLine | undefined;
  while (!(ready = lines.find((l) => l.msg === 'browser agent ready'))) {
    if (agent.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the agent did not start: ${JSON.stringify(lines)}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { origin: `http://${String(ready.address)}`, health: `http://${String(ready.health)}`, lines, process: agent, stop };
}
