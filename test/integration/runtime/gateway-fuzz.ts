// A seeded fuzzer of the gateway's HTTP and WebSocket front: every case is a
// raw request (or garbage, or an early close) on its own TCP socket, and the
// answer is checked against the status its class must get. Same seed, same
// cases: a failure names the seed and the case to replay.
import { connect } from 'node:net';

export interface FuzzTarget { host: string; port: number; tunnelPath: string; token: string }
export interface FuzzCase { kind: string; bytes: Buffer; allowed: readonly number[] | 'any-4xx' | 'none' }
export interface FuzzResult { status: number | undefined; raw: string }

/** mulberry32: small, fast, and the same sequence on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'FOO', 'G3T', 'get'];
const UNICODE = ['é', '☃', '𝄞', '\u202e', '\uffff', '中文'];

export function caseGenerator(target: FuzzTarget, rand: () => number): () => FuzzCase {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (n: number) => Math.floor(rand() * n);
  const randomString = (n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.~%/') =>
    Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
  const nearMiss = () => {
    const t = target.token;
    switch (int(5)) {
      case 0: return t.slice(0, -1);
      case 1: return `${t}x`;
      case 2: return t.toUpperCase() === t ? t.toLowerCase() : t.toUpperCase();
      case 3: return t.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'));
      default: return t.repeat(1000);
    }
  };
  const path = (): { text: string; onTunnel: boolean; token?: boolean; malformed?: boolean } => {
    switch (int(9)) {
      case 0: return { text: `/${randomString(int(40))}`, onTunnel: false };
      case 1: return { text: `${target.tunnelPath}/${randomString(int(20))}`, onTunnel: true };
      case 2: return { text: target.tunnelPath, onTunnel: true };
      case 3: return { text: `/${randomString(int(6000) + 2000)}`, onTunnel: false };
      case 4: return { text: `${target.tunnelPath}/../../${randomString(8)}`, onTunnel: false };
      case 5: return { text: `/${encodeURIComponent(pick(UNICODE))}%00%zz%${randomString(2)}`, onTunnel: false };
      // Raw (unencoded) non-ASCII in the request line: Node's parser refuses it.
      case 6: return { text: `${target.tunnelPath}/${pick(UNICODE)}`, onTunnel: true, malformed: true };
      case 7: return { text: pick(['*', 'http://[', 'http://x:99999/', '?token=a', 'x']), onTunnel: false, malformed: true };
      default: {
        const token = pick([target.token, nearMiss(), randomString(30)]);
        return { text: `${target.tunnelPath}?token=${encodeURIComponent(token)}`, onTunnel: true, token: token === target.token };
      }
    }
  };
  /** `bearer`: the request has a Bearer header, which wins over ?token=. */
  const authorization = (): { lines: string[]; valid: boolean; bearer: boolean } => {
    switch (int(7)) {
      case 0: return { lines: [], valid: false, bearer: false };
      case 1: return { lines: [`Authorization: Bearer ${randomString(int(64) + 1)}`], valid: false, bearer: true };
      case 2: return { lines: [`Authorization: Bearer ${nearMiss()}`], valid: false, bearer: true };
      case 3: return { lines: [`Authorization: Basic ${Buffer.from(`u:${target.token}`).toString('base64')}`], valid: false, bearer: false };
      // Node keeps the first of two Authorization headers.
      case 4: return { lines: [`Authorization: Bearer ${target.token}`, `Authorization: Bearer ${nearMiss()}`], valid: true, bearer: true };
      case 5: return { lines: [`Authorization: Bearer ${target.token}`], valid: true, bearer: true };
      default: return { lines: [`Authorization: ${randomString(int(20))}`], valid: false, bearer: false };
    }
  };
  const extraHeaders = (): string[] => {
    switch (int(8)) {
      case 0: return [`X-Big: ${'a'.repeat(70_000)}`];
      case 1: return Array.from({ length: 300 }, (_, i) => `X-H${i}: ${randomString(200)}`);
      case 2: return ['Host: ', 'Host: a', 'Host: b'];
      case 3: return [`Host: ${pick(UNICODE)}`];
      case 4: return ['Content-Length: 5', 'Content-Length: 6'];
      case 5: return ['Transfer-Encoding: chunked', 'Content-Length: 3'];
      case 6: return [`Content-Length: ${int(10_000_000)}`];
      default: return [];
    }
  };
  /** An upgrade's headers and the status a clean GET of it with a valid token must get. */
  const upgradeHeaders = (): { lines: string[]; expect: number } => {
    const good = Buffer.from(randomString(16)).toString('base64');
    const key = pick([good, good, '', 'not-base64!', undefined]);
    const version = pick(['13', '13', '8', '', 'x', undefined]);
    const upgrade = pick(['websocket', 'WebSocket', 'h2c']);
    const expect = upgrade === 'h2c' || key !== good ? 400 : version !== '13' ? 426 : 503;
    const lines = [
      'Connection: Upgrade', `Upgrade: ${upgrade}`,
      ...(key === undefined ? [] : [`Sec-WebSocket-Key: ${key}`]),
      ...(version === undefined ? [] : [`Sec-WebSocket-Version: ${version}`]),
    ];
    return { lines, expect };
  };

  return () => {
    const roll = int(10);
    if (roll === 0) {
      const bytes = Buffer.from(Array.from({ length: int(2000) + 1 }, () => int(256)));
      // Bytes that happen to be the start of a request ("P" of POST) wait for the rest: 408 when it never comes.
      return { kind: 'garbage', bytes, allowed: [400, 408, 431] };
    }
    if (roll === 1) {
      // Half a request, then the socket closes: nothing to answer.
      return { kind: 'early-close', bytes: Buffer.from(`GET ${target.tunnelPath} HTTP/1.1\r\nHost: a\r\nAuthor`), allowed: 'none' };
    }
    const p = path();
    const auth = authorization();
    const clean = int(3) === 0;
    const extra = clean ? [] : extraHeaders();
    const method = clean ? 'GET' : pick(METHODS);
    const version = clean ? 'HTTP/1.1' : pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTX']);
    const upgrade = roll < 5 ? upgradeHeaders() : undefined;
    const hasHost = !extra.some((h) => h.startsWith('Host:'));
    const lines = [
      `${method} ${p.text} ${version}`,
      ...(hasHost ? ['Host: 127.0.0.1'] : []), ...auth.lines, ...(upgrade?.lines ?? []), ...extra,
      ...(upgrade ? [] : ['Connection: close']),
    ];
    const valid = (auth.bearer ? auth.valid : p.token === true) && p.onTunnel;
    const kind = `${upgrade ? 'upgrade' : 'http'}${valid ? '-valid-token' : ''}${clean ? '-clean' : ''}`;
    // A clean request's class is known: not a path 400, no Tunnel 404, no token 401, a valid one meets the empty pool.
    const expected = p.malformed ? 400 : !p.onTunnel ? 404 : !valid ? 401 : (upgrade?.expect ?? 503);
    const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
    // Near the gateway's header limit (--max-header-bytes) Node answers 431 first.
    const allowed = bytes.length > 4_000 ? [expected, 431] : [expected];
    return { kind, bytes, allowed: clean ? allowed : 'any-4xx' };
  };
}

/** Sends one case and reads the answer's status line (undefined when the gateway closed without one). */
export function send(target: FuzzTarget, c: FuzzCase, timeoutMs = 3000): Promise<FuzzResult> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    let raw = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(raw);
      resolve({ status: m ? Number(m[1]) : undefined, raw: raw.slice(0, 300) });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d: Buffer) => {
      raw += d.toString('latin1');
      if (raw.includes('\r\n\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      socket.write(c.bytes, () => {
        if (c.allowed === 'none') socket.destroy();
      });
    });
  });
}

/** What is wrong with an answer, or undefined. A valid token may meet 503 (no browser in the pool). */
export function judge(c: FuzzCase, r: FuzzResult): string | undefined {
  if (c.allowed === 'none') return undefined;
  if (r.status === undefined) return r.raw ? `a malformed answer: ${JSON.stringify(r.raw)}` : undefined;
  if (r.status >= 500 && !(r.status === 503 && c.kind.includes('valid-token'))) return `status ${r.status}`;
  if (r.status < 400 && !c.kind.includes('valid-token')) return `status ${r.status} without a valid token`;
  if (Array.isArray(c.allowed) && !c.allowed.includes(r.status)) return `status ${r.status}, expected ${c.allowed.join('/')}`;
  return undefined;
}

export interface FuzzReport {
  seed: number; sent: number; byStatus: Record<string, number>; byKind: Record<string, number>;
  failures: { kind: string; problem: string; request: string }[]; healthChecks: number; healthFailures: number;
}

/** Runs cases from `width` sockets at once for `durationMs`, checking /healthz every 250 ms. */
export async function fuzz(target: FuzzTarget, seed: number, durationMs: number, width = 8): Promise<FuzzReport> {
  const next = caseGenerator(target, prng(seed));
  const report: FuzzReport = {
    seed, sent: 0, byStatus: {}, byKind: {}, failures: [], healthChecks: 0, healthFailures: 0,
  };
  const deadline = Date.now() + durationMs;
  const health = (async () => {
    while (Date.now() < deadline) {
      report.healthChecks++;
      const ok = await fetch(`http://${target.host}:${target.port}/healthz`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.status === 200, () => false);
      if (!ok) report.healthFailures++;
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await Promise.all(Array.from({ length: width }, async () => {
    while (Date.now() < deadline) {
      const c = next();
      const r = await send(target, c);
      report.sent++;
      const status = String(r.status ?? 'closed');
      report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      report.byKind[c.kind] = (report.byKind[c.kind] ?? 0) + 1;
      const problem = judge(c, r);
      if (problem && report.failures.length < 20) {
        report.failures.push({ kind: c.kind, problem, request: c.bytes.toString('latin1').slice(0, 300) });
      }
    }
  }));
  await health;
  return report;
}
