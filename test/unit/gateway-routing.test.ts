import { describe, expect, it } from 'vitest';
import { choosePool, handshakeProblem, type PoolChoice, requestUrl } from '../../src/gateway/routing.ts';

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

describe('choosePool', () => {
  const pools: PoolChoice[] = [
    { name: 'chrome-old', exists: true, browser: 'chromium', version: '1.64.1' },
    { name: 'chrome', exists: true, browser: 'chromium', version: '1.65.1' },
    { name: 'fox', exists: true, browser: 'firefox', version: '1.65.1' },
    { name: 'gone', exists: false, browser: 'webkit' },
  ];

  it('sends a client to the first pool of its browser and Playwright version', () => {
    expect(choosePool(pools, { browser: 'chromium', version: '1.65' })).toEqual({ ok: true, pool: 'chrome' });
    expect(choosePool(pools, { browser: 'firefox', version: '1.65' })).toEqual({ ok: true, pool: 'fox' });
    expect(choosePool(pools, { browser: 'chromium' })).toEqual({ ok: true, pool: 'chrome-old' });
    expect(choosePool(pools, {})).toEqual({ ok: true, pool: 'chrome-old' });
  });

  it('refuses a browser no pool of the Tunnel serves with 400, naming each pool\'s browser, never substituting one', () => {
    expect(choosePool(pools, { browser: 'webkit', version: '1.65' })).toEqual({
      ok: false,
      status: 400,
      reason: 'browser mismatch: this Tunnel serves chromium (pool chrome-old), chromium (pool chrome), firefox (pool fox); ' +
        'your client asked for webkit. Connect with the browser type of a served pool, or add a pool of webkit to the Tunnel.',
    });
  });

  it('refuses a version the pools of the client\'s browser do not serve with 428, naming those', () => {
    expect(choosePool(pools, { browser: 'firefox', version: '1.64' })).toMatchObject({
      ok: false,
      status: 428,
      reason: expect.stringContaining('this Tunnel serves Playwright 1.65 (pool fox); your client is 1.64'),
    });
  });
});
