import { describe, expect, it } from 'vitest';
import {
  cdpTarget,
  cdpVersionDocument,
  chooseCdpPool,
  choosePool,
  handshakeProblem,
  type PoolChoice,
  requestUrl,
} from '../../src/gateway/routing.ts';

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
    { name: 'chrome-old', exists: true, browser: 'chromium', versions: ['1.64.1'] },
    { name: 'chrome', exists: true, browser: 'chromium', versions: ['1.65.1'] },
    { name: 'fox', exists: true, browser: 'firefox', versions: ['1.65.1'] },
    { name: 'gone', exists: false, browser: 'webkit', versions: [] },
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

describe('the CDP endpoint under a Tunnel', () => {
  it('tells the WebSocket from the discovery document and from the rest of Chromium\'s /json API', () => {
    expect(['/cdp', '/cdp/'].map(cdpTarget)).toEqual(['socket', 'socket']);
    expect(['/cdp/json/version', '/cdp/json/version/'].map(cdpTarget)).toEqual(['version', 'version']);
    expect(['/cdp/json/list', '/cdp/devtools/browser/x'].map(cdpTarget)).toEqual(['other', 'other']);
    expect(['/', '/json', '/cdpx'].map(cdpTarget)).toEqual([undefined, undefined, undefined]);
  });

  it('chooses the first Chromium pool whatever its Playwright version, and 404 when the Tunnel has none', () => {
    const pools: PoolChoice[] = [
      { name: 'foxes', exists: true, browser: 'firefox', versions: ['1.65.1'] },
      { name: 'old', exists: false, browser: 'chromium', versions: [] },
      { name: 'chromes', exists: true, browser: 'chromium', versions: ['1.63.0'] },
    ];
    expect(chooseCdpPool(pools)).toEqual({ ok: true, pool: 'chromes' });
    const none = chooseCdpPool(pools.slice(0, 2));
    expect(none).toMatchObject({ ok: false, status: 404 });
    expect(!none.ok && none.reason).toContain('Chromium pools only, and this Tunnel serves firefox (pool foxes)');
    expect(chooseCdpPool([{ name: 'gone', exists: false, browser: 'chromium', versions: [] }])).toMatchObject({ status: 503 });
  });

  it('leads webSocketDebuggerUrl back to the Tunnel, with the token only when the client sent it in the query', () => {
    const base = new URL('wss://browsers.example.com/tunnels/a/b/cdp');
    expect(cdpVersionDocument(base, undefined)).toEqual({
      'Browser': 'Chrome',
      'Protocol-Version': '1.3',
      'webSocketDebuggerUrl': 'wss://browsers.example.com/tunnels/a/b/cdp',
    });
    expect(cdpVersionDocument(base, 'a b&c').webSocketDebuggerUrl)
      .toBe('wss://browsers.example.com/tunnels/a/b/cdp?token=a+b%26c');
  });
});

describe('choosePool with pools of several Playwright versions', () => {
  const all = ['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0'];
  const pools: PoolChoice[] = [
    { name: 'multi', exists: true, browser: 'chromium', versions: all },
    { name: 'warm-64', exists: true, browser: 'chromium', versions: ['1.64.1', '1.63.0'] },
    { name: 'fox', exists: true, browser: 'firefox', versions: ['1.65.1'] },
    { name: 'quiet', exists: true, browser: 'chromium', versions: [] },
  ];

  it('sends a client to a pool that serves its major.minor among others', () => {
    expect(choosePool(pools, { browser: 'chromium', version: '1.65' })).toEqual({ ok: true, pool: 'multi' });
    expect(choosePool(pools, { browser: 'chromium', version: '1.66' })).toEqual({ ok: true, pool: 'multi' });
    expect(choosePool(pools, { browser: 'chromium', version: '1.63' })).toEqual({ ok: true, pool: 'multi' });
  });

  it('prefers the pool whose default version is the client\'s, whose browsers wait warm, to an earlier one that also serves it', () => {
    expect(choosePool(pools, { browser: 'chromium', version: '1.64' })).toEqual({ ok: true, pool: 'warm-64' });
    expect(choosePool(pools.slice(0, 1), { browser: 'chromium', version: '1.64' })).toEqual({ ok: true, pool: 'multi' });
  });

  it('matches only the pools of the client\'s browser', () => {
    expect(choosePool(pools, { browser: 'firefox', version: '1.64' })).toEqual({
      ok: false,
      status: 428,
      reason: 'Playwright version mismatch: this Tunnel serves Playwright 1.65 (pool fox); your client is 1.64. ' +
        'Use a client of a served major.minor version, or add a pool of yours to the Tunnel.',
    });
  });

  it('refuses a version no pool serves with 428 naming every served major.minor of each pool', () => {
    expect(choosePool(pools, { browser: 'chromium', version: '1.62' })).toEqual({
      ok: false,
      status: 428,
      reason: 'Playwright version mismatch: this Tunnel serves Playwright 1.65/1.66/1.64/1.63 (pool multi), ' +
        '1.64/1.63 (pool warm-64); your client is 1.62. ' +
        'Use a client of a served major.minor version, or add a pool of yours to the Tunnel.',
    });
  });

  it('asks a client to come back while no pool of its browser has reported its versions', () => {
    expect(choosePool(pools.slice(3), { browser: 'chromium', version: '1.65' })).toMatchObject({ ok: false, status: 503 });
  });
});
