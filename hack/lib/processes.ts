import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A long-running process started by hack/, found again through its pid file. */
export interface Managed {
  name: string;
  runDir: string;
}

const pidFile = (m: Managed) => join(m.runDir, `${m.name}.pid`);
export const logFile = (m: Managed) => join(m.runDir, `${m.name}.log`);

/** A process's command line, its arguments joined by spaces; empty once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Some thread of the process still runs. The main thread of a Go program turns
 * zombie while its other threads are still exiting and holding the shared file
 * table, so its listening sockets outlive a zombie main thread: every thread in
 * /proc/<pid>/task has to be a zombie before its ports are free.
 */
function alive(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => !['Z', 'X'].includes(threadState(pid, tid)));
  } catch {
    return false;
  }
}

function threadState(pid: number, tid: string): string {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return 'X';
  }
}

/** Starts a process that outlives this one, logging to <runDir>/<name>.log. */
export function startDetached(
  m: Managed,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): number {
  mkdirSync(m.runDir, { recursive: true });
  const out = openSync(logFile(m), 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  if (child.pid === undefined) throw new Error(`could not start ${m.name} (${command})`);
  child.unref();
  writeFileSync(pidFile(m), String(child.pid));
  return child.pid;
}

/** The pid of a managed process that is still running, if any. */
export function runningPid(m: Managed): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(m), 'utf8'));
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every process whose command line names the folder `dir` (a state folder): this
 * finds what a crashed or killed run left behind even when its pid files are gone.
 */
export function processesMentioning(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && mentionsPath(commandLine(pid), dir));
}

/** `path` occurs in `text` as a whole path, not as the start of a longer name (`.fleetwright-it`). */
export function mentionsPath(text: string, path: string): boolean {
  for (let at = text.indexOf(path); at !== -1; at = text.indexOf(path, at + 1)) {
    if (!/[\w.-]/.test(text.charAt(at + path.length))) return true;
  }
  return false;
}

/** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(20);
  }
}

export async function stopManaged(m: Managed, graceMs: number): Promise<void> {
  const pid = runningPid(m);
  if (pid !== undefined) await stopProcess(pid, graceMs);
  rmSync(pidFile(m), { force: true });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
