import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** podman with this project's containers.conf (no ulimit raising, runc), as this machine needs. */
const env = { ...process.env, CONTAINERS_CONF: join(import.meta.dirname, '..', 'podman', 'containers.conf') };

/** Runs podman; throws with its output when it fails. */
export function podman(...args: string[]): string {
  return podmanWithInput(undefined, ...args);
}

export function podmanWithInput(input: Buffer | undefined, ...args: string[]): string {
  const result = spawnSync('podman', args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  if (result.status !== 0) throw new Error(`podman ${args.join(' ')} failed:\n${result.stderr || result.stdout}`);
  return result.stdout;
}

/** Runs podman; its result as it is, for a caller that reads its errors (a registry's 404). */
export function tryPodman(...args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('podman', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs podman with its progress (stdout too) on this process's stderr; throws when it fails. */
export function podmanShowingProgress(...args: string[]): void {
  const result = spawnSync('podman', args, { stdio: ['ignore', 2, 2], env });
  if (result.status !== 0) throw new Error(`podman ${args.join(' ')} failed (exit ${result.status ?? result.signal}); its output is above`);
}

export const podmanHas = (tag: string) => spawnSync('podman', ['image', 'exists', tag], { env }).status === 0;
