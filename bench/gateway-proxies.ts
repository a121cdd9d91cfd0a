// The two proxies bench:gateway puts in front of a pooled browser, each its own
// child process on 127.0.0.1: `fleetwright gateway` (as the node tests start
// it) and a private nginx (its own prefix, config, pid file and logs).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeconfigPath, repoRoot } from '../hack/lib/paths.ts';
import { onFreePort } from '../hack/lib/ports.ts';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** `fleetwright gateway` for the bench namespace, on loopback, as the node tests start it. */
type GatewayLogLine = { msg?: string; url?: string; level?: number; by?: string; code?: number; reason?: string };

export class GatewayProcess {
  readonly child: ChildProcess;
  private readonly lines: GatewayLogLine[] = [];
  private readonly exited: Promise<void>;

  constructor(namespace: string, extra: string[] = []) {
    this.child = spawn(process.execPath, [
      join(repoRoot, 'src', 'main.ts'), 'gateway', `--kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', `--watch-namespace=${namespace}`,
      `--replica-namespace=${namespace}`, '--replica-name=bench', '--shutdown-timeout=5s', '--log-level=info', ...extra,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) this.lines.push(JSON.parse(line) as (typeof this.lines)[number]);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  url(what: string): Promise<string> {
    return until(`the gateway to serve ${what}`, async () => this.lines.find((l) => l.msg === `serving ${what}`)?.url, 60_000);
  }

  errors(): number {
    return this.lines.filter((l) => (l.level ?? 0) >= 50).length;
  }

  /** Sessions that did not end by the client's normal close, since the last call, counted by who, code and why. */
  private endsSeen = 0;
  unaskedEnds(): Record<string, number> {
    const ended = this.lines.filter((l) => l.msg === 'session ended');
    const counts: Record<string, number> = {};
    for (const l of ended.slice(this.endsSeen).filter((e) => !(e.by === 'client' && [1000, 1005].includes(e.code ?? 0)))) {
      const key = `${l.by} ${l.code}: ${l.reason}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    this.endsSeen = ended.length;
    return counts;
  }

  /** Memory and CPU time of the gateway process, from its own /metrics. */
  async usage(): Promise<{ rssBytes: number; heapUsedBytes: number; cpuSeconds: number }> {
    const text = await (await fetch(`${await this.url('metrics')}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rssBytes: value('process_resident_memory_bytes'),
      heapUsedBytes: value('nodejs_heap_size_used_bytes'),
      cpuSeconds: value('process_cpu_seconds_total'),
    };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/**
 * A private nginx (own prefix, config, pid file, logs) that proxies /<pod IP>/<path> to ws://<pod IP>:3000/<path>,
 * or, given an `upstream` host:port, every path to that server.
 */
export class NginxProcess {
  /**
   * nginx on a free port of 127.0.0.1, once it listens. It cannot listen on 0 and say the port, so it is told
   * one: another when that was taken before nginx bound it (onFreePort; its error log says so).
   */
  static start(upstream?: string): Promise<NginxProcess> {
    return onFreePort('127.0.0.1', async (port) => {
      const nginx = new NginxProcess(port, upstream);
      // nginx writes its pid file once it has bound its listening sockets.
      const state = await until('nginx to listen', async () => existsSync(join(nginx.dir, 'nginx.pid'))
        ? 'listening'
        : nginx.child.exitCode !== null ? 'exited' : undefined, 10_000);
      if (state === 'exited') throw new Error(`nginx: ${readFileSync(join(nginx.dir, 'error.log'), 'utf8')}`);
      return nginx;
    });
  }

  readonly port: number;
  private readonly dir: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  private constructor(port: number, upstream: string | undefined) {
    this.port = port;
    const upgrade = `proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_buffering off;`;
    const locations = upstream
      ? `location / {
      proxy_pass http://${upstream};
      ${upgrade}
    }`
      : `location / { return 404; }
    # Only pods of the local node: the browser's agent on port 3000.
    location ~ "^/(10\\.244\\.0\\.[0-9]{1,3})(/.*)$" {
      proxy_pass http://$1:3000$2$is_args$args;
      ${upgrade}
    }`;
    this.dir = mkdtempSync(join(tmpdir(), 'fleetwright-bench-nginx-'));
    const config = join(this.dir, 'nginx.conf');
    writeFileSync(config, `daemon off;
worker_processes 1;
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${this.dir}/client_body;
  proxy_temp_path ${this.dir}/proxy;
  fastcgi_temp_path ${this.dir}/fastcgi;
  uwsgi_temp_path ${this.dir}/uwsgi;
  scgi_temp_path ${this.dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    ${locations}
  }
}
`);
    // `daemon off`: the master stays our child, and SIGTERM (fast shutdown) stops it and its worker.
    this.child = spawn('nginx', ['-p', this.dir, '-c', config, '-e', join(this.dir, 'error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** CPU time of the master and its workers (user + system), from /proc. */
  cpuSeconds(): number {
    const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    let ticks = 0;
    for (const pid of pids) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      // After the command in parentheses: state, ppid, …; utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pid) === this.child.pid || Number(fields[1]) === this.child.pid) {
        ticks += Number(fields[11]) + Number(fields[12]);
      }
    }
    return ticks / CLOCK_TICKS;
  }

  /** The WebSocket URL of `endpoint` (ws://<pod IP>:3000/<path>) through this nginx. */
  url(endpoint: string): string {
    const target = new URL(endpoint);
    return `ws://127.0.0.1:${this.port}/${target.hostname}${target.pathname}${target.search}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
