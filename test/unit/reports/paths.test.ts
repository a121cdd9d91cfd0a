import { describe, expect, it } from 'vitest';
import {
  assertSafeKey,
  blobKey,
  htmlKey,
  parseReportRequest,
  runOfKey,
  runPrefix,
} from '../../../src/reports/paths.ts';

const run = { namespace: 'ci', name: 'checkout' };
const stored = { ...run, uid: '3f1c2b9e-0d4a-4c57-9a3e-5b6f7e8d9c0a' };

describe('report request paths', () => {
  it('reads an upload of shard n and the files of a report', () => {
    expect(parseReportRequest('PUT', '/reports/ci/checkout/shards/2')).toEqual({ kind: 'upload', run, index: 2 });
    expect(parseReportRequest('GET', '/reports/ci/checkout/')).toEqual({ kind: 'file', run, path: '' });
    expect(parseReportRequest('GET', '/reports/ci/checkout/?token=abc')).toEqual({ kind: 'file', run, path: '' });
    expect(parseReportRequest('GET', '/reports/ci/checkout/index.html')).toEqual({ kind: 'file', run, path: 'index.html' });
    expect(parseReportRequest('HEAD', '/reports/ci/checkout/trace/assets/codeMirrorModule-DNqxPF-E.js')).toEqual({
      kind: 'file',
      run,
      path: 'trace/assets/codeMirrorModule-DNqxPF-E.js',
    });
    expect(parseReportRequest('GET', '/reports/ci/checkout/trace/snapshot.-ChLTbql.js?x=1')).toMatchObject({
      path: 'trace/snapshot.-ChLTbql.js',
    });
    expect(parseReportRequest('GET', '/reports/ci/checkout')).toEqual({ kind: 'root', run });
    expect(parseReportRequest('GET', '/reports/ci/web.v2')).toEqual({ kind: 'root', run: { namespace: 'ci', name: 'web.v2' } });
    expect(parseReportRequest('GET', '/healthz')).toEqual({ kind: 'unknown' });
    expect(parseReportRequest('GET', '/reportsx/ci/checkout/')).toEqual({ kind: 'unknown' });
  });

  it('decodes each segment on its own, so plain names may be percent-encoded', () => {
    expect(parseReportRequest('GET', '/reports/%63i/checkout/data/%61.png')).toEqual({ kind: 'file', run, path: 'data/a.png' });
    expect(parseReportRequest('PUT', '/reports/ci/check%6Fut/shards/1')).toEqual({ kind: 'upload', run, index: 1 });
  });

  it.each([
    '/reports/ci/checkout/../other/index.html',
    '/reports/ci/checkout/./index.html',
    '/reports/ci/checkout/%2e%2e/%2e%2e/etc/passwd',
    '/reports/ci/checkout/%2E%2E/x',
    '/reports/ci/checkout/.%2e/x',
    '/reports/ci/checkout/data%2f..%2f..%2fx',
    '/reports/ci/checkout/data%2Fx.png',
    '/reports/ci/checkout/data%5c..%5cx',
    '/reports/ci/checkout/a%00.html',
    '/reports/ci/checkout/%252e%252e/x',
    '/reports/ci/checkout/%e0%a4%a',
    '/reports/ci/checkout/.hidden',
    '/reports/ci/checkout/data//x.png',
    '/reports/ci/checkout/data/',
    '/reports/ci/checkout//',
    '/reports/../ci/checkout/index.html',
    '/reports/%2e%2e/checkout/index.html',
    '/reports/ci/..%2fother/index.html',
    '/reports/ci/%2e%2e/',
    '/reports/CI/checkout/',
    '/reports/ci/Checkout/',
    '/reports//checkout/',
    '/reports/ci/',
    `/reports/${'a'.repeat(64)}/checkout/`,
  ])('refuses GET %s', (path) => {
    expect(parseReportRequest('GET', path).kind).toBe('invalid');
  });

  it.each([
    '/reports/ci/checkout/shards/0',
    '/reports/ci/checkout/shards/01',
    '/reports/ci/checkout/shards/1.5',
    '/reports/ci/checkout/shards/-1',
    '/reports/ci/checkout/shards/1e2',
    '/reports/ci/checkout/shards/1000',
    '/reports/ci/checkout/shards/',
    '/reports/ci/checkout/shards/1/',
    '/reports/ci/checkout/shards/1/../2',
    '/reports/ci/checkout/shards/%2e%2e',
    '/reports/ci/checkout/shards/..%2f..%2fescaped',
    '/reports/ci/checkout/shards/%31%2f..',
    '/reports/ci/checkout/index.html',
    '/reports/ci/checkout/',
    '/reports/ci/../checkout/shards/1',
  ])('refuses PUT %s', (path) => {
    expect(parseReportRequest('PUT', path).kind).toBe('invalid');
  });
});

describe('storage keys', () => {
  it('keys a run\'s blobs and report files under <namespace>/<name>/<uid>/', () => {
    expect(runPrefix(stored)).toBe(`ci/checkout/${stored.uid}/`);
    expect(blobKey(stored, 3)).toBe(`ci/checkout/${stored.uid}/blobs/3.zip`);
    expect(htmlKey(stored, '')).toBe(`ci/checkout/${stored.uid}/html/index.html`);
    expect(htmlKey(stored, 'trace/sw.bundle.js')).toBe(`ci/checkout/${stored.uid}/html/trace/sw.bundle.js`);
    expect(runOfKey(`ci/checkout/${stored.uid}/html/index.html`)).toEqual(stored);
    expect(runOfKey(`ci/checkout/${stored.uid}`)).toBeUndefined();
    expect(runOfKey('.tmp/abc')).toBeUndefined();
    // Only a uid's shape is a run's: other data in a shared bucket is not taken for a report.
    expect(runOfKey('logs/app/2024/01.log')).toBeUndefined();
  });

  it('never builds a key from a reference or path that could leave its place', () => {
    expect(() => runPrefix({ ...stored, name: '..' })).toThrow(/not a valid TestRun reference/);
    expect(() => runPrefix({ ...stored, namespace: 'a/b' })).toThrow(/not a valid TestRun reference/);
    expect(() => runPrefix({ ...stored, uid: '../x' })).toThrow(/not a valid TestRun reference/);
    expect(() => htmlKey(stored, '../../other/html/index.html')).toThrow(/refusing storage key/);
    expect(() => htmlKey(stored, 'a//b')).toThrow(/refusing storage key/);
    expect(() => blobKey(stored, 0)).toThrow(/not a shard index/);
    for (const key of ['', '/abs', 'a/../b', 'a/./b', 'a\\b', 'a/%2e%2e', 'a/b\0', '.tmp/x']) {
      expect(() => assertSafeKey(key), key).toThrow(/refusing storage key/);
    }
    expect(() => assertSafeKey('ci/checkout/uid/')).not.toThrow();
  });
});
