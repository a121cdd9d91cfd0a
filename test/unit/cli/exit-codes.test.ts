// `fleetwright <command>` with a wrong command line exits 2, before it reaches
// any cluster; a command that ran and failed exits 1. The real binary is run,
// as a shell or CI job runs it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { parseControllerArgs } from '../../../src/config.ts';
import { parseGatewayArgs } from '../../../src/gateway/config.ts';
import { parseReportStoreArgs } from '../../../src/reports/config.ts';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from '../../../src/runtime/usage.ts';
import { writeUnreachableKubeconfig } from '../../fixtures/unreachable-kubeconfig.ts';

let tmp: string;
/** A kubeconfig whose API server refuses connections at once: any command that got past its flags fails with 1. */
let closed: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-exit-'));
  closed = writeUnreachableKubeconfig(join(tmp, 'closed.kubeconfig'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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

describe('fleetwright exit codes', { timeout: 30_000 }, () => {
  const usageErrors: [string, string[], RegExp][] = [
    ['an unknown command', ['deploy'], /^usage: fleetwright <command>/],
    ['an unknown flag of run', ['run', '.', '--pool', 'p', '--colour'], /^fleetwright run: Unknown option '--colour'.*see fleetwright run --help/],
    ['run without its folder', ['run', '--pool', 'p'], /^fleetwright run: expected one folder/],
    ['a bad value of run', ['run', '.', '--pool', 'p', '--shards', '0'], /--shards=0: expected a whole number from 1 to 100/],
    ['logs without its run', ['logs'], /^fleetwright logs: expected the name of one TestRun/],
    ['status with a stray argument', ['status', 'pools'], /^fleetwright status: unexpected argument pools/],
    ['tunnel without its name', ['tunnel'], /^fleetwright tunnel: expected the name of one Tunnel/],
    ['an unknown flag of the controller', ['controller', '--leader-elect=yes'], /^fleetwright controller: Option '--leader-elect' does not take an argument/],
    ['a bad bind address of the controller', ['controller', '--metrics-bind-address=8080'], /--metrics-bind-address=8080: expected \[host\]:port/],
    ['a bad duration of the controller', ['controller', '--graceful-shutdown-timeout=30'], /--graceful-shutdown-timeout=30: expected a duration/],
    ['a bad value of the gateway', ['gateway', '--max-body-bytes=-1'], /^fleetwright gateway: --max-body-bytes=-1: expected a positive whole number/],
    ['the report store without --public-url', ['report-store', '--path=/tmp'], /^fleetwright report-store: --public-url is required/],
    ['an argument to the agent', ['agent', '--port=3000'], /^fleetwright agent: unexpected argument --port=3000: fleetwright agent takes none/],
    ['an argument to fetch-source', ['fetch-source', 'main'], /^fleetwright fetch-source: unexpected argument main/],
  ];

  // Concurrently: each is a Node process that loads the whole CLI.
  it.concurrent.each(usageErrors)('exits 2 for %s, saying what is wrong', async (_, args, said) => {
    const result = await fleetwright(args);
    expect(result.stderr).toMatch(said);
    expect(result.code, result.stderr).toBe(EXIT_USAGE);
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

describe('the server commands\' flag parsers', () => {
  it('throw UsageErrors for unknown flags and bad values, so that main exits 2', () => {
    expect(() => parseControllerArgs(['--bogus'])).toThrow(UsageError);
    expect(() => parseControllerArgs(['--bogus'])).toThrow(/Unknown option '--bogus'.*see fleetwright controller --help/);
    expect(() => parseControllerArgs(['--health-probe-bind-address=x'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--bind-address=0'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--header-timeout=10'])).toThrow(UsageError);
    expect(() => parseReportStoreArgs(['--public-url=https://r.example.com', '--backend=tape'])).toThrow(UsageError);
    expect(() => parseReportStoreArgs(['--public-url=https://r.example.com', 'stray'])).toThrow(/see fleetwright report-store --help/);
  });
});
