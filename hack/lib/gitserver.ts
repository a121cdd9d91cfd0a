// A git server on the host for tests and the demo: smart HTTP through Debian's
// `git http-backend`, over a folder of bare repositories, some of them behind
// a token, and optionally ssh through Debian's OpenSSH sshd restricted to
// git-shell, logging in with a key of its own. Pods reach it on the bridge
// address (10.244.0.1), tests on 127.0.0.1. The CGI plumbing is written here:
// the one npm package for it (`cgi`) has had no release since 2016, and git
// http-backend needs only the request line and headers in its environment and
// the body on stdin.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { accepting, onFreePort } from './ports.ts';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** git without the host's or the user's configuration, committing as a fixed author. */
const gitEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Fleetwright Tests',
  GIT_AUTHOR_EMAIL: 'tests@fleetwright.dev',
  GIT_COMMITTER_NAME: 'Fleetwright Tests',
  GIT_COMMITTER_EMAIL: 'tests@fleetwright.dev',
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export interface GitServerOptions {
  /** The address to listen on: 127.0.0.1 for host tests, 10.244.0.1 for pods. */
  host: string;
  /** 0: any free port. */
  port?: number;
  /** The token protected repositories take, as a bearer token or as the password of basic auth. */
  token: string;
  /** Serve the repositories over ssh too (needs root: sshd logs in as the user running it). */
  ssh?: boolean;
}

/** The ssh side: what a client needs to fetch over it. */
export interface SshAccess {
  port: number;
  /** The private key sshd takes (OpenSSH form). */
  identity: string;
  /** The server's host key line, as ssh-keyscan prints it. */
  knownHosts: string;
}

/** One bare repository served by the server, with a work tree beside it to commit from. */
export class GitRepository {
  readonly name: string;
  /** What a client clones. */
  readonly url: string;
  /** ssh://user@host:port/<absolute path>, when the server serves ssh. */
  readonly sshUrl: string | undefined;
  private readonly bare: string;
  private readonly work: string;

  constructor(name: string, url: string, sshUrl: string | undefined, bare: string, work: string) {
    this.name = name;
    this.url = url;
    this.sshUrl = sshUrl;
    this.bare = bare;
    this.work = work;
  }

  /** Makes the branch's files exactly `files` (path -> content) in a new commit; returns its SHA. */
  commit(files: Record<string, string>, message: string, branch = 'main'): string {
    git(this.work, 'checkout', '-q', '-B', branch);
    git(this.work, 'rm', '-q', '-r', '--ignore-unmatch', '.');
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    return this.record(message, branch);
  }

  /** Makes the branch's files those of `folder`, under `into` in the repository, in a new commit; returns its SHA. */
  commitFolder(folder: string, message: string, { branch = 'main', into = '' } = {}): string {
    git(this.work, 'checkout', '-q', '-B', branch);
    git(this.work, 'rm', '-q', '-r', '--ignore-unmatch', '.');
    cpSync(folder, join(this.work, into), { recursive: true, filter: (path) => !path.split('/').includes('node_modules') });
    return this.record(message, branch);
  }

  /** Points the served branch (or tag, with `refs/tags/…`) at `commit`, as a push --force would. */
  moveRef(ref: string, commit: string): void {
    git(this.bare, 'update-ref', ref.startsWith('refs/') ? ref : `refs/heads/${ref}`, commit);
  }

  /** An annotated tag on `commit`. */
  tag(name: string, commit: string): void {
    git(this.work, 'tag', '-a', '-m', name, name, commit);
    git(this.work, 'push', '-q', 'origin', `refs/tags/${name}`);
  }

  private record(message: string, branch: string): string {
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '-q', '--allow-empty', '-m', message);
    git(this.work, 'push', '-q', '--force', 'origin', `HEAD:refs/heads/${branch}`);
    return git(this.work, 'rev-parse', 'HEAD');
  }
}

export interface GitServer {
  /** http://host:port */
  url: string;
  token: string;
  /** Set when started with `ssh`. */
  ssh: SshAccess | undefined;
  /** A new empty repository `<name>.git`; protected ones answer 401 without the token. */
  createRepository(name: string, options?: { protected?: boolean }): GitRepository;
  stop(): Promise<void>;
}

export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), 'fleetwright-git-'));
  const projects = join(root, 'repositories');
  mkdirSync(projects);
  const protectedRepos = new Set<string>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const repo = path.split('/')[1] ?? '';
    if (protectedRepos.has(repo) && !authorized(req, options.token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fleetwright tests"' }).end('token required\n');
      return;
    }
    httpBackend(projects, req, res);
  });
  await listen(server, options.host, options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  const sshd = options.ssh ? await startSshd(root, options.host) : undefined;
  return {
    url,
    token: options.token,
    ssh: sshd?.access,
    createRepository(name, { protected: isProtected = false } = {}) {
      const dir = `${name}.git`;
      const bare = join(projects, dir);
      git(root, 'init', '-q', '--bare', '-b', 'main', bare);
      const work = join(root, 'work', name);
      mkdirSync(work, { recursive: true });
      git(work, 'init', '-q', '-b', 'main');
      git(work, 'remote', 'add', 'origin', bare);
      if (isProtected) protectedRepos.add(dir);
      const sshUrl = sshd && `ssh://${sshd.user}@${options.host}:${sshd.access.port}${bare}`;
      return new GitRepository(name, `${url}/${dir}`, sshUrl, bare, work);
    },
    async stop() {
      sshd?.process.kill();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Debian's sshd on `host`, with host and client keys of its own, accepting
 * that one key and running nothing but git-shell (so git-upload-pack and
 * git-receive-pack) for the user running it. No PAM, no passwords.
 */
interface Sshd {
  process: ChildProcess;
  access: SshAccess;
  user: string;
}

async function startSshd(root: string, host: string): Promise<Sshd> {
  const dir = join(root, 'ssh');
  mkdirSync(dir);
  const keygen = (name: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
  keygen('host_key');
  keygen('client_key');
  cpSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
  // sshd's privilege separation needs this empty folder, which only its packaged service creates.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  // sshd cannot listen on port 0 and say which it got: it is told a free port, and another if that was taken meanwhile.
  return onFreePort(host, async (port) => {
    writeFileSync(join(dir, 'sshd_config'), [
      `ListenAddress ${host}:${port}`, `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `AllowUsers ${user}`, 'PermitRootLogin prohibit-password',
      'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'AllowTcpForwarding no', 'X11Forwarding no', 'PermitTTY no', 'LogLevel ERROR',
      'ForceCommand git-shell -c "$SSH_ORIGINAL_COMMAND"', '',
    ].join('\n'));
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (!(await listening(host, port, child))) {
      child.kill();
      throw new Error(`sshd did not start on ${host}:${port}: ${stderr.trim()}`);
    }
    const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    return {
      process: child,
      user,
      access: {
        port,
        identity: readFileSync(join(dir, 'client_key'), 'utf8'),
        knownHosts: `[${host}]:${port} ${hostKey}\n`,
      },
    };
  });
}

/** Whether `child` accepts connections on the port within 5 s (false once it exits). */
async function listening(host: string, port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await accepting(host, port)) return true;
    await sleep(50);
  }
  return false;
}

/** `Authorization: Bearer <token>`, or basic auth with the token as the password (any user name). */
function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  if (header === `Bearer ${token}`) return true;
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1) === token;
}

/** Runs git http-backend for one request (RFC 3875: meta-variables in, a header block and the body out). */
function httpBackend(projects: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const child = spawn(HTTP_BACKEND, [], {
    env: {
      ...gitEnv,
      GIT_PROJECT_ROOT: projects,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
    // Its complaints (a repository that does not exist) reach the client as the HTTP status.
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  // http-backend may exit before it has read the body (a repository that does not exist): not our error.
  child.stdin.on('error', () => undefined);
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => (headersDone ? res.end() : res.writeHead(502).end('git http-backend gave no response\n')));
  child.on('error', (err) => res.writeHead(500).end(`cannot run ${HTTP_BACKEND}: ${err.message}\n`));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
}
