import { describe, expect, it } from 'vitest';
import { handshakeProblem, requestUrl } from '../../src/gateway/routing.ts';

const key = Buffer.alloc(16, 7).toString('base64');

describe('requestUrl', () => {
  // Regression: `new URL(target, base)` threw on these (or took `//x` as a host) and the gateway answered 500.
  it.each(['http://[', 'http://x:99999/', '*', '?token=a', 'x', undefined])('refuses %s as no path', (target) => {
    expect(requestUrl(target)).toBeUndefined();
  });

  it('keeps a path, its query, and a leading double slash as part of the path', () => {
    expect(requestUrl('/tunnels/a/b?token=t')?.searchParams.get('token')).toBe('t');
    expect(requestUrl('//x/y')?.pathname).toBe('//x/y');
    expect(requestUrl('//')?.pathname).toBe('//');
    expect(requestUrl('/a/../b')?.pathname).toBe('/b');
  });
});

describe('handshakeProblem', () => {
  const headers = { 'upgrade': 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' };

  it('accepts a well-formed handshake', () => {
    expect(handshakeProblem('GET', headers)).toBeUndefined();
    expect(handshakeProblem('GET', { ...headers, upgrade: 'WebSocket' })).toBeUndefined();
  });

  // Regression: these leased a browser before the WebSocket library refused the handshake.
  it.each([
    ['POST', {}, 405],
    ['GET', { upgrade: 'h2c' }, 400],
    ['GET', { 'sec-websocket-key': undefined }, 400],
    ['GET', { 'sec-websocket-key': 'not-base64!' }, 400],
    ['GET', { 'sec-websocket-version': '8' }, 426],
    ['GET', { 'sec-websocket-version': undefined }, 426],
  ] as const)('%s with %o gets %i', (method, change, status) => {
    const problem = handshakeProblem(method, { ...headers, ...change });
    expect(problem?.status).toBe(status);
    if (status === 426) expect(problem?.headers).toEqual({ 'sec-websocket-version': '13' });
  });
});
