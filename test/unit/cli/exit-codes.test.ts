// `fleetwright <command>` with a wrong command line exits 2, before it reaches
// any cluster; a command that ran and failed exits 1. Every command's usage
// errors are checked in this process (each throws a UsageError); the real
// binary is run for the exit codes main.ts gives them, as a shell or CI job runs it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { commands } from '../../../src/main.ts';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from '../../../src/runtime/usage.ts';
import { writeUnreachableKubeconfig } from '../../fixtures/unreachable-kubeconfig.ts';

let tmp: string;
/** Any command that got past its flags fails at this API server, with 1. */
let closed: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-exit-'));
  closed = writeUnreachableKubeconfig(join(tmp, 'closed.kubeconfig'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a wrong command line of each command', () => {
  const usageErrors: [string, string[], RegExp][] = [
    ['run', ['.', '--pool', 'p', '--colour'], /^Unknown option '--colour'.*see fleetwright run --help/],
    ['run', ['--pool', 'p'], /^expected one folder/],
    ['run', ['.', '--pool', 'p', '--shards', '0'], /--shards=0: expected a whole number from 1 to 100/],
    ['logs', [], /^expected the name of one TestRun/],
    ['status', ['pools'], /^unexpected argument pools/],
    ['tunnel', [], /^expected the name of one Tunnel/],
    ['controller', ['--leader-elect=yes'], /^Option '--leader-elect' does not take an argument/],
    ['controller', ['--metrics-bind-address=8080'], /--metrics-bind-address=8080: expected \[host\]:port/],
    ['controller', ['--graceful-shutdown-timeout=30'], /--graceful-shutdown-timeout=30: expected a duration/],
    ['gateway', ['--max-body-bytes=-1'], /^--max-body-bytes=-1: expected a positive whole number/],
    ['gateway', ['--bind-address=0'], /^--bind-address=0: the gateway must listen somewhere/],
    ['report-store', ['--path=/tmp'], /^--public-url is required/],
    ['report-store', ['--public-url=https://r.example.com', 'stray'], /see fleetwright report-store --help/],
    ['agent', ['--port=3000'], /^unexpected argument --port=3000: fleetwright agent takes none/],
    ['fetch-source', ['main'], /^unexpected argument main/],
  ];

  // Thrown (or rejected) before any cluster is asked or any server started.
  it.each(usageErrors)('%s %j is a UsageError that says what is wrong', async (name, args, said) => {
    const failed = (async () => commands[name]?.run(args))();
    await expect(failed).rejects.toThrow(UsageError);
    await expect(failed).rejects.toThrow(said);
  });
});

function fleetwright(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'src', 'main.ts'), ...args], {
    cwd: tmp,
    env: { ...process.env, KUBECONFIG: closed },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

// Each is a Node process that loads the whole CLI: a minute each on a machine busy with the other tests.
describe('fleetwright\'s exit codes', { timeout: 60_000 }, () => {
  it('exits 2 for an unknown command, with the list of commands', async () => {
    const result = await fleetwright(['deploy']);
    expect(result.stderr).toMatch(/^usage: fleetwright <command>/);
    expect(result.code).toBe(EXIT_USAGE);
  });

  it('exits 2 for a usage error of a user command and of a server, saying what is wrong', async () => {
    const run = await fleetwright(['run', '.', '--pool', 'p', '--colour']);
    expect(run.stderr).toMatch(/^fleetwright run: Unknown option '--colour'.*see fleetwright run --help/);
    expect(run.code).toBe(EXIT_USAGE);
    const gateway = await fleetwright(['gateway', '--max-body-bytes=-1']);
    expect(gateway.stderr).toMatch(/^fleetwright gateway: --max-body-bytes=-1: expected a positive whole number/);
    expect(gateway.code).toBe(EXIT_USAGE);
  });

  it('exits 1 when a well-formed command fails, here at an unreachable API server', async () => {
    const result = await fleetwright(['status']);
    expect(result.stderr).toMatch(/^fleetwright status: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1/);
    expect(result.code).toBe(EXIT_FAILED);
  });

  it('exits 0 for --help, and lists the exit codes there', async () => {
    const result = await fleetwright(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('exit codes:');
    expect(result.stderr).toMatch(/^ {2}2 {2}the command line is wrong/m);
  });
});
