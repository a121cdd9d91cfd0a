import { describe, expect, it } from 'vitest';
import { AgentConfig } from '../../../src/contracts/agent.ts';
import { answerPlain, launchOptions, route } from '../../../src/agent/routing.ts';

const config = AgentConfig.parse({
  FLEETWRIGHT_WS_PATH: '/pw-secret',
  FLEETWRIGHT_SESSIONS: '2',
  FLEETWRIGHT_CHROMIUM_PATH: '/usr/bin/chromium',
  FLEETWRIGHT_LAUNCH_ARGS: '["--lang=de"]',
});

describe('agent routing', () => {
  it('gives a client without exposeNetwork the warm browser', () => {
    expect(route('/pw-secret', {}, config, 0, false)).toEqual({ action: 'proxy', mode: 'warm', headers: {} });
  });

  it('launches a fresh browser for a client that asks for exposeNetwork, by header or query', () => {
    for (const [url, headers] of [
      ['/pw-secret', { 'x-playwright-proxy': '<loopback>' }],
      ['/pw-secret?proxy=%3Cloopback%3E', {}],
    ] as const) {
      const decision = route(url, headers, config, 0, false);
      expect(decision).toMatchObject({ action: 'proxy', mode: 'fresh' });
      expect(decision.action === 'proxy' && decision.headers['x-playwright-proxy']).toBe('<loopback>');
    }
  });

  it('imposes the agent\'s browser and launch options whatever the client sends', () => {
    const decision = route(
      '/pw-secret',
      {
        'x-playwright-proxy': '<loopback>',
        'x-playwright-browser': 'chromium',
        'x-playwright-launch-options': JSON.stringify({ executablePath: '/bin/sh', args: ['--evil'] }),
      },
      config,
      0,
      false,
    );
    expect(decision.action === 'proxy' && decision.headers).toEqual({
      'x-playwright-browser': 'chromium',
      'x-playwright-launch-options': JSON.stringify(launchOptions(config)),
      'x-playwright-proxy': '<loopback>',
    });
    expect(launchOptions(config)).toEqual({
      headless: true,
      args: ['--disable-gpu', '--disable-dev-shm-usage', '--lang=de'],
      executablePath: '/usr/bin/chromium',
    });
  });

  it('refuses a client that asks for another browser, by header or query, naming the one served here', () => {
    for (const [url, headers] of [
      ['/pw-secret', { 'x-playwright-browser': 'firefox' }],
      ['/pw-secret?browser=firefox', { 'x-playwright-browser': 'chromium' }],
      ['/pw-secret', { 'x-playwright-browser': 'firefox', 'x-playwright-proxy': '<loopback>' }],
    ] as const) {
      expect(route(url, headers, config, 0, false)).toEqual({
        action: 'reject',
        status: 400,
        reason: 'this browser pod serves chromium; your client asked for firefox: ' +
          'connect with chromium.connect(), or to a pool of firefox',
      });
    }
    expect(route('/pw-secret', { 'x-playwright-browser': 'chromium' }, config, 0, false)).toMatchObject({ action: 'proxy' });
  });

  it('refuses a client past sessionsPerBrowser with a reason that says so', () => {
    expect(route('/pw-secret', {}, config, 2, false)).toEqual({
      action: 'reject',
      status: 503,
      reason: 'browser busy: 2 of 2 sessions in use',
    });
  });

  it('refuses new clients while draining, and any other path', () => {
    expect(route('/pw-secret', {}, config, 0, true)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/other', {}, config, 0, false)).toMatchObject({ action: 'reject', status: 404 });
  });

  it('gives a CDP client at <path>/cdp a Chromium of its own, within the pod\'s sessions and never while draining', () => {
    expect(route('/pw-secret/cdp', {}, config, 1, false)).toEqual({ action: 'proxy', mode: 'cdp', headers: {} });
    expect(route('/pw-secret/cdp', {}, config, 2, false)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/pw-secret/cdp', {}, config, 0, true)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/other/cdp', {}, config, 0, false)).toMatchObject({ action: 'reject', status: 404 });
  });

  it('refuses CDP on a Firefox pod with 404 saying that only Chromium pools serve it', () => {
    const firefox = AgentConfig.parse({ FLEETWRIGHT_WS_PATH: '/pw-secret', FLEETWRIGHT_BROWSER: 'firefox' });
    expect(route('/pw-secret/cdp', {}, firefox, 0, false)).toEqual({
      action: 'reject',
      status: 404,
      reason: 'this browser pod serves firefox: the Chrome DevTools Protocol is served by Chromium pools only',
    });
  });

  it('rejects a malformed launch-args setting with a clear message', () => {
    const parsed = AgentConfig.safeParse({ FLEETWRIGHT_LAUNCH_ARGS: '--no-json' });
    expect(parsed.error?.issues[0]?.message).toBe('must be a JSON array of strings');
  });
});

describe('plain HTTP on the agent endpoint', () => {
  const about = { browser: 'chromium', playwright: '1.64.1' };

  it('says which browser and Playwright version serve here on GET /json/version', () => {
    for (const url of ['/json/version', '/json/version?x=1']) {
      const answer = answerPlain('GET', url, about);
      expect(answer).toMatchObject({ status: 200, contentType: 'application/json' });
      expect(JSON.parse(answer.body)).toEqual({ Browser: 'chromium', Playwright: '1.64.1' });
    }
  });

  it('answers every other plain request with 404', () => {
    for (const [method, url] of [['GET', '/'], ['GET', '/pw-secret'], ['GET', '/json/version/'], ['POST', '/json/version']]) {
      expect(answerPlain(method, url ?? '/', about)).toMatchObject({ status: 404, contentType: 'text/plain' });
    }
  });
});
