// git over ssh for isomorphic-git, which speaks only smart HTTP: an HTTP
// client for its `http` option whose requests run `git-upload-pack` over one
// ssh connection (ssh2) instead. Over ssh, upload-pack first advertises the
// refs and then reads the request on the same channel; smart HTTP splits the
// two into a GET of info/refs and a POST. So the GET runs upload-pack and
// stops it after the advertisement (a flush, as `git ls-remote` does), and the
// POST runs it again, skips the advertisement and sends the request: the
// stateless-RPC exchange HTTP has, on channels of one connection. Written here
// because no maintained package gives isomorphic-git an ssh transport.
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel } from 'ssh2';
import { hostKeyAlgorithmsFor, hostKeysFor } from './known-hosts.ts';
import type { SshAddress } from './url.ts';

export interface SshCredentials {
  /** The private key, in OpenSSH or PEM form. */
  identity: string;
  /** Its passphrase, if it is encrypted. */
  passphrase?: string;
  /** The server's host keys, as ssh-keyscan prints them. */
  knownHosts: string;
}

/** Why an ssh operation failed, for explain() in errors.ts to say what to fix. */
export class SshError extends Error {
  readonly reason: 'host-key-unknown' | 'host-key-mismatch' | 'key' | 'authentication' | 'command';
  constructor(reason: SshError['reason'], message: string) {
    super(message);
    this.name = 'SshError';
    this.reason = reason;
  }
}

/** The URL isomorphic-git is given for an ssh remote: it takes only http(s); the client below ignores the host. */
export const SSH_PLACEHOLDER_URL = 'https://ssh.invalid/repository.git';

type GitHttpRequest = { url: string; method?: string; body?: AsyncIterable<Uint8Array> | Uint8Array[] };

/** An open ssh connection to a git server and the isomorphic-git HTTP client that uses it. */
export interface SshGitSession {
  http: { request: (req: GitHttpRequest) => Promise<unknown> };
  close(): void;
}

/** Connects to the server of `address`, checking its host key against known_hosts and logging in with the key. */
export async function openSshSession(
  address: SshAddress,
  credentials: SshCredentials,
  signal: AbortSignal,
): Promise<SshGitSession> {
  const keys = hostKeysFor(credentials.knownHosts, address.host, address.port);
  const shown = address.port === 22 ? address.host : `[${address.host}]:${address.port}`;
  if (keys.trusted.length === 0) {
    throw new SshError('host-key-unknown', `known_hosts has no key for ${shown}`);
  }
  const client = new Client();
  let hostDenied = false;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', (err: Error & { level?: string }) => {
      if (hostDenied) reject(new SshError('host-key-mismatch', `the host key of ${shown} is not the one known_hosts holds`));
      else if (err.level === 'client-authentication') reject(new SshError('authentication', err.message));
      else reject(err);
    });
  });
  const connect = () => client.connect({
    host: address.host,
    port: address.port,
    username: address.user,
    privateKey: credentials.identity,
    ...(credentials.passphrase ? { passphrase: credentials.passphrase } : {}),
    algorithms: { serverHostKey: hostKeyAlgorithmsFor(keys.trusted) as never },
    hostVerifier: (key: Buffer) => {
      const offered = key.toString('base64');
      hostDenied = keys.revoked.some((k) => k.key === offered) || !keys.trusted.some((k) => k.key === offered);
      return !hostDenied;
    },
    readyTimeout: 30_000,
  });
  try {
    connect();
  } catch (err) {
    // ssh2 reads the key before it connects and throws what it cannot read.
    throw new SshError('key', (err as Error).message);
  }
  const abort = () => client.destroy();
  signal.addEventListener('abort', abort, { once: true });
  try {
    await Promise.race([ready, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
  } catch (err) {
    signal.removeEventListener('abort', abort);
    client.destroy();
    throw err;
  }
  const command = `git-upload-pack ${shellQuoted(address.path)}`;
  return {
    http: { request: (req) => uploadPack(client, command, req) },
    close: () => {
      signal.removeEventListener('abort', abort);
      client.end();
    },
  };
}

/** One request of smart HTTP's upload-pack service, answered by a run of git-upload-pack on its own channel. */
async function uploadPack(client: Client, command: string, req: GitHttpRequest) {
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
  const stderr: Buffer[] = [];
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const exited = new Promise<number | undefined>((resolve) => channel.once('exit', (code: number | undefined) => resolve(code)));
  const reader = new PktReader(channel);
  const advertisement = await reader.untilFlush();
  if (!advertisement) {
    const code = await exited;
    throw new SshError('command', Buffer.concat(stderr).toString('utf8').trim() || `${command} exited with ${code}`);
  }
  const discovery = req.url.includes('/info/refs');
  if (discovery) {
    channel.end(FLUSH);
    const service = pkt('# service=git-upload-pack\n');
    return response(req, 'application/x-git-upload-pack-advertisement', once(Buffer.concat([service, FLUSH, advertisement, FLUSH])));
  }
  for await (const chunk of req.body ?? []) channel.write(chunk);
  channel.end();
  return response(req, 'application/x-git-upload-pack-result', reader.rest());
}

const FLUSH = Buffer.from('0000');
const pkt = (line: string) => Buffer.from(`${(line.length + 4).toString(16).padStart(4, '0')}${line}`);

const response = (req: GitHttpRequest, contentType: string, body: AsyncIterableIterator<Uint8Array>) => ({
  url: req.url,
  method: req.method ?? 'GET',
  statusCode: 200,
  statusMessage: 'OK',
  headers: { 'content-type': contentType },
  body,
});

async function* once(buffer: Buffer): AsyncIterableIterator<Uint8Array> {
  yield buffer;
}

/** Reads git's pkt-lines off a channel: the advertisement up to its flush, then whatever follows, as it comes. */
class PktReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private buffered = Buffer.alloc(0);

  constructor(stream: Duplex) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The pkt-lines up to and including the first flush; undefined if the stream ends first. */
  async untilFlush(): Promise<Buffer | undefined> {
    let offset = 0;
    for (;;) {
      while (this.buffered.length >= offset + 4) {
        const length = Number.parseInt(this.buffered.subarray(offset, offset + 4).toString('latin1'), 16);
        if (length === 0) {
          const lines = this.buffered.subarray(0, offset);
          this.buffered = this.buffered.subarray(offset + 4);
          return lines;
        }
        if (Number.isNaN(length) || length < 4) throw new SshError('command', 'the server does not speak git\'s pack protocol');
        if (this.buffered.length < offset + length) break;
        offset += length;
      }
      const next = await this.chunks.next();
      if (next.done) return undefined;
      this.buffered = Buffer.concat([this.buffered, next.value]);
    }
  }

  async* rest(): AsyncIterableIterator<Uint8Array> {
    if (this.buffered.length > 0) yield this.buffered;
    for (;;) {
      const next = await this.chunks.next();
      if (next.done) return;
      yield next.value;
    }
  }
}

/** The path as one shell word, as git quotes it for ssh (quote.c, sq_quote_buf). */
function shellQuoted(path: string): string {
  return `'${path.replaceAll('\'', '\'\\\'\'').replaceAll('!', '\'\\!\'')}'`;
}
