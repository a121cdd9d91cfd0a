// kubectl and helm as a user runs them, against the local cluster, and the
// polling the suite does with them. Nothing here talks to the API server but
// through those two clients.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { kubectlCacheDir } from '../../hack/lib/crds.ts';
import { stateDir } from '../../hack/lib/paths.ts';
import { ensureTool } from '../../hack/lib/tools.ts';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function env(): NodeJS.ProcessEnv {
  // Helm's own folders live with the cluster, so nothing of a run outlives `down`.
  const helmHome = join(stateDir, 'helm');
  return {
    ...process.env,
    KUBECONFIG: inject('kubeconfig'),
    KUBECACHEDIR: kubectlCacheDir,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

function run(tool: 'kubectl' | 'helm', args: string[], input?: string): RunResult {
  const result = spawnSync(tool === 'kubectl' ? inject('kubectl') : ensureTool('helm'), args, {
    input,
    encoding: 'utf8',
    env: env(),
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** kubectl; throws with its stderr unless it succeeds. */
export function kubectl(args: string[], input?: string): string {
  const result = run('kubectl', args, input);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** kubectl that may fail (a cleanup, a probe): its result as it is. */
export const tryKubectl = (args: string[], input?: string): RunResult => run('kubectl', args, input);

/** helm; throws with its stderr unless it succeeds. */
export function helm(args: string[]): string {
  const result = run('helm', args);
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

export const tryHelm = (args: string[]): RunResult => run('helm', args);

/** `kubectl get -o json`, parsed; undefined when the object does not exist. */
export function getJson<T>(args: string[]): T | undefined {
  const result = run('kubectl', ['get', ...args, '-o', 'json']);
  if (result.status !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')} failed:\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

export const listJson = <T>(args: string[]): T[] => getJson<{ items: T[] }>(args)?.items ?? [];

/**
 * Polls `check` until it returns a value, for at most `timeoutMs`. On time-out
 * the error says what it waited for, the last value it saw, and what
 * `diagnose` adds (the controller's log, where a 403 shows up first).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; last?: () => unknown; diagnose?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let error: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
      error = undefined;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) {
      const parts = [`timed out after ${(options.timeoutMs ?? 60_000) / 1000} s waiting for ${what}`];
      if (error) parts.push(`last error: ${String(error)}`);
      if (options.last) parts.push(`last seen: ${JSON.stringify(options.last())}`);
      if (options.diagnose) parts.push(options.diagnose());
      throw new Error(parts.join('\n'));
    }
    await sleep(250);
  }
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface KubeObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string }[];
  };
}

export interface Pod extends KubeObject {
  spec: {
    serviceAccountName?: string;
    containers: { name: string; image: string; args?: string[] }[];
    volumes?: { name: string; projected?: unknown }[];
  };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Condition[];
    /** imageID: <repository>@<digest> of what the node pulled. */
    containerStatuses?: { name: string; imageID: string }[];
  };
}

export const hasCondition = (obj: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
  obj?.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
