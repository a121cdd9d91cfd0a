import { describe, expect, it } from 'vitest';
import { EventLog, logLine } from '../../../src/agent/session-log.ts';

describe('the log of a session', () => {
  it('logs main-frame navigations only', () => {
    const log = new EventLog();
    expect(log.entry('Page.frameNavigated', { frame: { url: 'http://a/x', urlFragment: '#y' } }, 's1'))
      .toEqual({ type: 'navigation', url: 'http://a/x#y' });
    expect(log.entry('Page.frameNavigated', { frame: { url: 'http://ad/', parentId: 'f1' } }, 's1')).toBeUndefined();
  });

  it('prints console arguments as the console does', () => {
    const args = [{ type: 'string', value: 'hi' }, { type: 'number', value: 2 }, { type: 'number', unserializableValue: 'NaN' },
      { type: 'object', description: 'Object' }, { type: 'object', value: { a: 1 } }];
    expect(new EventLog().entry('Runtime.consoleAPICalled', { type: 'error', args }, 's1'))
      .toEqual({ type: 'console', level: 'error', text: 'hi 2 NaN Object {"a":1}' });
  });

  it('logs page errors by their exception', () => {
    expect(new EventLog().entry('Runtime.exceptionThrown', {
      exceptionDetails: { text: 'Uncaught', exception: { description: 'Error: boom\n    at x' } },
    }, 's1')).toEqual({ type: 'pageerror', message: 'Error: boom\n    at x' });
  });

  it('logs responses and redirects with their request\'s method, and failures with its URL', () => {
    const log = new EventLog();
    const entries = [
      log.entry('Network.requestWillBeSent', { requestId: '1', request: { method: 'POST', url: 'http://a/form' } }, 's1'),
      log.entry('Network.requestWillBeSent', {
        requestId: '1', request: { method: 'GET', url: 'http://a/done' }, redirectResponse: { url: 'http://a/form', status: 303 },
      }, 's1'),
      log.entry('Network.responseReceived', { requestId: '1', response: { url: 'http://a/done', status: 200 } }, 's1'),
      log.entry('Network.loadingFinished', { requestId: '1' }, 's1'),
      log.entry('Network.requestWillBeSent', { requestId: '1', request: { method: 'GET', url: 'http://down/' } }, 's2'),
      log.entry('Network.loadingFailed', { requestId: '1', errorText: 'net::ERR_CONNECTION_REFUSED' }, 's2'),
    ];
    expect(entries.filter(Boolean)).toEqual([
      { type: 'response', method: 'POST', url: 'http://a/form', status: 303 },
      { type: 'response', method: 'GET', url: 'http://a/done', status: 200 },
      { type: 'requestfailed', url: 'http://down/', error: 'net::ERR_CONNECTION_REFUSED' },
    ]);
  });

  it('writes one JSON object a line with its ISO time first', () => {
    expect(logLine({ type: 'pageerror', message: 'x' }, new Date(0))).toBe('{"time":"1970-01-01T00:00:00.000Z","type":"pageerror","message":"x"}\n');
  });
});
