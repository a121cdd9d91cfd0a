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

describe('the CDP endpoint under a Tunnel', () => {
  it('tells the WebSocket from the discovery document and from the rest of Chromium\'s /json API', () => {
    expect(['/cdp', '/cdp/'].map(cdpTarget)).toEqual(['socket', 'socket']);
    expect(['/cdp/json/version', '/cdp/json/version/'].map(cdpTarget)).toEqual(['version', 'version']);
    expect(['/cdp/json/list', '/cdp/devtools/browser/x'].map(cdpTarget)).toEqual(['other', 'other']);
    expect(['/', '/json', '/cdpx'].map(cdpTarget)).toEqual([undefined, undefined, undefined]);
  });

  it('chooses the first Chromium pool whatever its Playwright version, and 404 when the Tunnel has none', () => {
    const pools: PoolChoice[] = [
      { name: 'foxes', exists: true, browser: 'firefox', version: '1.65.1' },
      { name: 'old', exists: false, browser: 'chromium' },
      { name: 'chromes', exists: true, browser: 'chromium', version: '1.63.0' },
    ];
    expect(chooseCdpPool(pools)).toEqual({ ok: true, pool: 'chromes' });
    const none = chooseCdpPool(pools.slice(0, 2));
    expect(none).toMatchObject({ ok: false, status: 404 });
    expect(!none.ok && none.reason).toContain('Chromium pools only, and this Tunnel serves firefox (pool foxes)');
    expect(chooseCdpPool([{ name: 'gone', exists: false, browser: 'chromium' }])).toMatchObject({ status: 503 });
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
