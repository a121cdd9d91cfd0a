// `npm run demo` as CI runs it (no terminal: it runs once and stops), and as
// a user stops it (Ctrl-C in the middle). Either way nothing it started may
// be left: no process, no namespace; and the cluster, which was running
// before (this project's), stays up.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_NAMESPACE } from '../../hack/demo.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { statusCode } from '../../src/runtime/rest.ts';
import { rest } from '../integration/runtime/support.ts';

interface Demo {
  child: ChildProcess;
  id: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** `node hack/demo.ts [args]` with no terminal; every process it starts carries its FLEETWRIGHT_DEMO_ID. */
function startDemo(args: string[] = []): Demo {
  const id = randomBytes(6).toString('hex');
  const child = spawn(process.execPath, [join(repoRoot, 'hack', 'demo.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, FLEETWRIGHT_DEMO_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    // The demo keeps its processes' logs for the user; a test has read what it needs.
    const logs = /logs of its processes: (\/tmp\/fleetwright-demo-\w+)/.exec(output)?.[1];
    if (logs) rmSync(logs, { recursive: true, force: true });
    resolve(code);
  }));
  return { child, id, output: () => output, exited };
}

/** Resolves once the demo's output matches `pattern`; rejects when it exits first. */
function waitFor(demo: Demo, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (!pattern.test(demo.output())) return;
      clearInterval(check);
      resolve();
    }, 200);
    void demo.exited.then(() => {
      clearInterval(check);
      reject(new Error(`the demo ended before printing ${pattern}:\n${demo.output()}`));
    });
  });
}

/** Processes whose environment names this demo run. */
function processesOf(id: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FLEETWRIGHT_DEMO_ID=${id}`);
    } catch {
      return false;
    }
  });
}

async function namespaceGone(): Promise<boolean> {
  try {
    await rest().get(`/api/v1/namespaces/${DEMO_NAMESPACE}`);
    return false;
  } catch (err) {
    return statusCode(err) === 404;
  }
}

const clusterServes = async () => (await rest().get<{ gitVersion: string }>('/version')).gitVersion;

describe('npm run demo', () => {
  it('runs to completion without a terminal, exits 0, and leaves nothing running', { timeout: 600_000 }, async () => {
    const demo = startDemo();
    const code = await demo.exited;
    const output = demo.output();

    expect(code, output).toBe(0);
    // The sample run, with its shards' progress while they ran.
    expect(output).toMatch(/^shard [12]\/2 running, [0-3]\/4 tests: /m);
    expect(output).toContain(`TestRun ${DEMO_NAMESPACE}/smoke Succeeded in `);
    expect(output).toMatch(/: 8 passed, 0 failed, 0 flaky, 0 skipped\n/);
    expect(output).toMatch(/\nsmoke +Succeeded +chromium +2 +8 +0 +\d+s /);
    // The run from a private git repository, whose webServer runs the http-server of its devDependencies.
    expect(output).toContain(`TestRun ${DEMO_NAMESPACE}/tide-tables Succeeded in `);
    expect(output).toMatch(/tide-tables Succeeded in \S+: 3 passed, 0 failed, 0 flaky, 0 skipped\nCommit: [0-9a-f]{40} \(refs\/heads\/main\)/);
    // A Playwright client here, through the Tunnel, on a page this machine serves.
    expect(output).toMatch(/goto http:\/\/127\.0\.0\.1:\d+\/: title "Served on your machine"/);
    expect(output).toContain('the demo worked in');
    expect(output).toMatch(/stopped everything the demo started/);

    expect(processesOf(demo.id)).toEqual([]);
    expect(await namespaceGone()).toBe(true);
    expect(await clusterServes()).toMatch(/^v1\.35\./);
  });

  it('with --stay, says how to poke at it and stays until Ctrl-C, then stops everything', { timeout: 600_000 }, async () => {
    const demo = startDemo(['--stay']);
    await waitFor(demo, /Ctrl-C stops the controller and the gateway/);
    const output = demo.output();
    expect(output).toContain(`kubectl get fleetwright -n ${DEMO_NAMESPACE}`);
    expect(output).toContain(`fleetwright status -n ${DEMO_NAMESPACE}`);
    expect(output).toContain('(the cluster was running before and stays)');
    // Still up: its controller and gateway run, and its namespace is there.
    expect(processesOf(demo.id).length).toBeGreaterThanOrEqual(2);
    expect(await namespaceGone()).toBe(false);

    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(130);
    expect(processesOf(demo.id)).toEqual([]);
    expect(await namespaceGone()).toBe(true);
  });

  it('stops everything it started on Ctrl-C in the middle of the run', { timeout: 300_000 }, async () => {
    const demo = startDemo();
    await waitFor(demo, /^shard \d\/2 (starting|running)/m);
    // Only the demo: a terminal's Ctrl-C reaches the demo's process group, and its controller
    // and gateway run in groups of their own.
    demo.child.kill('SIGINT');
    const code = await demo.exited;

    expect(code, demo.output()).toBe(130);
    expect(demo.output()).toContain('SIGINT: stopping everything the demo started');
    expect(demo.output()).toMatch(/stopped everything the demo started/);
    expect(processesOf(demo.id)).toEqual([]);
    expect(await namespaceGone()).toBe(true);
    expect(await clusterServes()).toMatch(/^v1\.35\./);
  });
});
