// `fleetwright <args>` as a user runs it in the node tests: the real command,
// the test cluster's kubeconfig (unless told otherwise), no terminal.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { repoRoot } from '../../hack/lib/paths.ts';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

type Options = { kubeconfig?: string; env?: NodeJS.ProcessEnv };

/** `fleetwright <args>` with the test cluster's kubeconfig (unless told otherwise) and no terminal. */
export function fleetwright(args: string[], options: Options = {}): Promise<Result> {
  const kubeconfig = options.kubeconfig ?? inject('kubeconfig');
  const child = spawn(process.execPath, [join(repoRoot, 'src', 'main.ts'), ...args, `--kubeconfig=${kubeconfig}`], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
