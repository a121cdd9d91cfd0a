// Which Tunnel session an upgrade is, and how the agent routes it so that it can be observed.
import { describe, expect, it } from 'vitest';
import { launchOptions, route, type Served, withDebuggingPort } from '../../../src/agent/routing.ts';
import { sessionIdentity } from '../../../src/agent/session-identity.ts';
import { AgentConfig } from '../../../src/contracts/agent.ts';

const served: Served = { versions: ['1.65.1', '1.64.1'] };
const pod = (sessions: string, browser = 'chromium') =>
  AgentConfig.parse({ FLEETWRIGHT_WS_PATH: '/pw', FLEETWRIGHT_SESSIONS: sessions, FLEETWRIGHT_BROWSER: browser });
const order = { video: 'Always', log: 'OnAbnormalClose', uploadUrl: 'http://store/sessions/ns/t/0123456789ab/', token: 'secret' };
const session = {
  'x-fleetwright-session': '0123456789ab',
  'x-fleetwright-tunnel': 'ns/t',
  'x-fleetwright-recording': JSON.stringify(order),
};

describe('the session of an upgrade', () => {
  it('is none without a session id: an older gateway or a TestRun runner', () => {
    expect(sessionIdentity({})).toEqual({ ok: true });
  });

  it('carries the id, the Tunnel and the recording order the gateway sent', () => {
    expect(sessionIdentity(session)).toEqual({ ok: true, session: { id: '0123456789ab', tunnel: 'ns/t', recording: order } });
    expect(sessionIdentity({ ...session, 'x-fleetwright-recording': undefined }))
      .toEqual({ ok: true, session: { id: '0123456789ab', tunnel: 'ns/t' } });
  });

  it('is refused when the gateway sent it malformed, naming the header and never the token', () => {
    const reasons = [
      { ...session, 'x-fleetwright-session': 'ABC' },
      { ...session, 'x-fleetwright-tunnel': 't' },
      { ...session, 'x-fleetwright-recording': '{' },
      { ...session, 'x-fleetwright-recording': JSON.stringify({ ...order, uploadUrl: 'http://store/no-slash' }) },
      { ...session, 'x-fleetwright-recording': JSON.stringify({ ...order, video: 'Sometimes' }) },
    ].map((headers) => {
      const result = sessionIdentity(headers);
      return result.ok ? 'accepted' : result.reason;
    });
    expect(reasons).toEqual([
      'x-fleetwright-session must be 12 lowercase hex digits',
      'session 0123456789ab: x-fleetwright-tunnel must be <namespace>/<name>',
      ...Array(3).fill('session 0123456789ab: x-fleetwright-recording is not a RecordingOrder (video and log policies, ' +
        'an uploadUrl ending in /, a token)'),
    ]);
    expect(route('/pw', { ...session, 'x-fleetwright-tunnel': '' }, pod('1'), served, 0, false)).toMatchObject({ status: 400 });
  });
});

describe('routing an observed session', () => {
  it('gives a Tunnel session the warm browser, observed, when it is the only one the browser serves', () => {
    const observed = { id: '0123456789ab', tunnel: 'ns/t', recording: order };
    expect(route('/pw', session, pod('1'), served, 0, false)).toMatchObject({ mode: 'warm', session: observed, observed });
    expect(route('/pw/cdp', session, pod('1'), served, 0, false)).toMatchObject({ mode: 'cdp', observed });
    // Another version's session has a run-server's browser of its own, observed too.
    const older = { ...session, 'user-agent': 'Playwright/1.64.1 (x64; debian 12) node/24.0' };
    expect(route('/pw', older, pod('1'), served, 0, false)).toMatchObject({ mode: 'fresh', observed });
  });

  it('gives a recorded Tunnel session the default version\'s run-server when sessions share the warm browser', () => {
    const decision = route('/pw', session, pod('2'), served, 1, false);
    expect(decision).toMatchObject({ action: 'proxy', mode: 'fresh', version: '1.65.1', observed: { id: '0123456789ab' } });
    // An unrecorded one keeps the warm browser, unobserved; so does a TestRun runner.
    const unrecorded = route('/pw', { ...session, 'x-fleetwright-recording': undefined }, pod('2'), served, 1, false);
    expect(unrecorded).toMatchObject({ mode: 'warm', session: { id: '0123456789ab' } });
    expect(unrecorded).not.toHaveProperty('observed');
    expect(route('/pw', {}, pod('2'), served, 1, false)).toMatchObject({ mode: 'warm' });
    expect(route('/pw', {}, pod('1'), served, 0, false)).not.toHaveProperty('observed');
  });

  it('observes only sessions of a Chromium pod', () => {
    const firefox = route('/pw', session, pod('1', 'firefox'), { versions: ['1.65.1'] }, 0, false);
    expect(firefox).toMatchObject({ mode: 'warm', session: { id: '0123456789ab' } });
    expect(firefox).not.toHaveProperty('observed');
  });

  it('adds the DevTools port to the agent\'s launch options of a fresh browser, and nothing else', () => {
    const decision = route('/pw', session, pod('2'), served, 0, false);
    const headers = decision.action === 'proxy' ? withDebuggingPort(decision.headers, 41234) : {};
    const options = launchOptions(pod('2'));
    expect(JSON.parse(headers['x-playwright-launch-options'] ?? '')).toEqual({
      ...options,
      args: [...options.args, '--remote-debugging-port=41234'],
    });
    expect(headers['x-playwright-browser']).toBe('chromium');
  });
});
