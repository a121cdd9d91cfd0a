import { describe, expect, it } from 'vitest';
import { AgentConfig } from '../../../src/contracts/agent.ts';
import { answerPlain, launchOptions, route, type Served } from '../../../src/agent/routing.ts';

const config = AgentConfig.parse({
  FLEETWRIGHT_WS_PATH: '/pw-secret',
  FLEETWRIGHT_SESSIONS: '2',
  FLEETWRIGHT_CHROMIUM_PATH: '/usr/bin/chromium',
  FLEETWRIGHT_LAUNCH_ARGS: '["--lang=de"]',
});
/** What an image of this project serves: the pinned 1.65 warm, the next minor's pre-release and the two before. */
const served: Served = { versions: ['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0'] };
const ua = (version: string) => ({ 'user-agent': `Playwright/${version} (x64; debian 12) node/24.21` });

describe('agent routing', () => {
  it('gives a client without exposeNetwork the warm browser', () => {
    expect(route('/pw-secret', {}, config, served, 0, false))
      .toEqual({ action: 'proxy', mode: 'warm', version: '1.65.1', headers: {} });
  });

  it('launches a fresh browser for a client that asks for exposeNetwork, by header or query', () => {
    for (const [url, headers] of [
      ['/pw-secret', { 'x-playwright-proxy': '<loopback>' }],
      ['/pw-secret?proxy=%3Cloopback%3E', {}],
    ] as const) {
      const decision = route(url, headers, config, served, 0, false);
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
      served,
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
      expect(route(url, headers, config, served, 0, false)).toEqual({
        action: 'reject',
        status: 400,
        reason: 'this browser pod serves chromium; your client asked for firefox: ' +
          'connect with chromium.connect(), or to a pool of firefox',
      });
    }
    expect(route('/pw-secret', { 'x-playwright-browser': 'chromium' }, config, served, 0, false)).toMatchObject({ action: 'proxy' });
  });

  it('refuses a client past sessionsPerBrowser with a reason that says so', () => {
    expect(route('/pw-secret', {}, config, served, 2, false)).toEqual({
      action: 'reject',
      status: 503,
      reason: 'browser busy: 2 of 2 sessions in use',
    });
  });

  it('refuses new clients while draining, and any other path', () => {
    expect(route('/pw-secret', {}, config, served, 0, true)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/other', {}, config, served, 0, false)).toMatchObject({ action: 'reject', status: 404 });
  });

  it('gives a CDP client at <path>/cdp a Chromium of its own, within the pod\'s sessions and never while draining', () => {
    expect(route('/pw-secret/cdp', {}, config, served, 1, false)).toEqual({ action: 'proxy', mode: 'cdp', version: 'cdp', headers: {} });
    expect(route('/pw-secret/cdp', {}, config, served, 2, false)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/pw-secret/cdp', {}, config, served, 0, true)).toMatchObject({ action: 'reject', status: 503 });
    expect(route('/other/cdp', {}, config, served, 0, false)).toMatchObject({ action: 'reject', status: 404 });
  });

  it('refuses CDP on a Firefox pod with 404 saying that only Chromium pools serve it', () => {
    const firefox = AgentConfig.parse({ FLEETWRIGHT_WS_PATH: '/pw-secret', FLEETWRIGHT_BROWSER: 'firefox' });
    expect(route('/pw-secret/cdp', {}, firefox, served, 0, false)).toEqual({
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

describe('agent routing by Playwright version', () => {
  it('gives a client of the default version the warm browser, and its exposeNetwork the default\'s run-server', () => {
    expect(route('/pw-secret', ua('1.65.0'), config, served, 0, false))
      .toEqual({ action: 'proxy', mode: 'warm', version: '1.65.1', headers: {} });
    expect(route('/pw-secret', { ...ua('1.65.1'), 'x-playwright-proxy': '<loopback>' }, config, served, 0, false))
      .toMatchObject({ action: 'proxy', mode: 'fresh', version: '1.65.1' });
  });

  it('gives a client of another served version a browser of that version\'s run-server, with the agent\'s launch options', () => {
    for (const [client, version] of [
      ['1.64.0', '1.64.1'],
      ['1.63.0', '1.63.0'],
      ['1.66.0-alpha-2026-11-18', '1.66.0-alpha-2026-11-18'],
      ['1.66.0-alpha-2026-12-01', '1.66.0-alpha-2026-11-18'],
      ['1.66.0', '1.66.0-alpha-2026-11-18'],
    ] as const) {
      expect(route('/pw-secret', ua(client), config, served, 0, false), client).toEqual({
        action: 'proxy',
        mode: 'fresh',
        version,
        headers: {
          'x-playwright-browser': 'chromium',
          'x-playwright-launch-options': JSON.stringify(launchOptions(config)),
        },
      });
    }
  });

  it('sends exposeNetwork clients of any version to their version\'s run-server with the proxy header', () => {
    const decision = route('/pw-secret?proxy=%3Cloopback%3E', ua('1.64.1'), config, served, 0, false);
    expect(decision).toMatchObject({ action: 'proxy', mode: 'fresh', version: '1.64.1' });
    expect(decision.action === 'proxy' && decision.headers['x-playwright-proxy']).toBe('<loopback>');
  });

  it('gives a client that sends no Playwright User-Agent the default version, warm', () => {
    for (const headers of [{}, { 'user-agent': 'Mozilla/5.0' }, { 'user-agent': 'puppeteer' }]) {
      expect(route('/pw-secret', headers, config, served, 0, false)).toMatchObject({ mode: 'warm', version: '1.65.1' });
    }
  });

  it('refuses a client of a version not served with 428 naming every served major.minor', () => {
    for (const client of ['1.62.3', '1.67.0-alpha-2027-01-10', '2.0.0']) {
      expect(route('/pw-secret', ua(client), config, served, 0, false)).toEqual({
        action: 'reject',
        status: 428,
        reason: `Playwright version mismatch: this browser pod serves Playwright 1.65, 1.66, 1.64, 1.63; your client is ${
          client.split('.').slice(0, 2).join('.')}. Use a client of a served major.minor version.`,
      });
    }
  });

  it('says 428 before busy or draining: waiting would not help a client of another version', () => {
    expect(route('/pw-secret', ua('1.62.0'), config, served, 2, true)).toMatchObject({ status: 428 });
  });

  it('has other versions launch the default\'s Chromium when the pod names none, since the image holds no build of theirs', () => {
    const own = AgentConfig.parse({ FLEETWRIGHT_WS_PATH: '/pw-secret' });
    const withBuild: Served = { ...served, defaultChromium: '/ms-playwright/chromium-1255/chrome-linux/chrome' };
    const options = (headers: Record<string, string>) => {
      const decision = route('/pw-secret', headers, own, withBuild, 0, false);
      return decision.action === 'proxy' ? JSON.parse(decision.headers['x-playwright-launch-options'] ?? '{}') : undefined;
    };
    expect(options(ua('1.64.1')).executablePath).toBe('/ms-playwright/chromium-1255/chrome-linux/chrome');
    expect(options({ ...ua('1.65.1'), 'x-playwright-proxy': '<loopback>' }).executablePath).toBeUndefined();
    // A pod that names its Chromium (Debian's, in the local image) has every version launch that one.
    expect(JSON.parse((route('/pw-secret', ua('1.64.1'), config, withBuild, 0, false) as { headers: Record<string, string> })
      .headers['x-playwright-launch-options'] ?? '{}').executablePath).toBe('/usr/bin/chromium');
  });
});

describe('plain HTTP on the agent endpoint', () => {
  const about = { browser: 'chromium', playwright: '1.64.1', playwrightVersions: ['1.64.1', '1.63.0'] };

  it('says which browser and Playwright version serve here on GET /json/version', () => {
    for (const url of ['/json/version', '/json/version?x=1']) {
      const answer = answerPlain('GET', url, about);
      expect(answer).toMatchObject({ status: 200, contentType: 'application/json' });
      expect(JSON.parse(answer.body)).toEqual({ Browser: 'chromium', Playwright: '1.64.1', PlaywrightVersions: ['1.64.1', '1.63.0'] });
    }
  });

  it('answers every other plain request with 404', () => {
    for (const [method, url] of [['GET', '/'], ['GET', '/pw-secret'], ['GET', '/json/version/'], ['POST', '/json/version']]) {
      expect(answerPlain(method, url ?? '/', about)).toMatchObject({ status: 404, contentType: 'text/plain' });
    }
  });
});
