import { describe, expect, it } from 'vitest';
import { bearerToken, contentType, cookieToken, fileHeaders, readCookie, REPORT_CSP } from '../../../src/reports/headers.ts';

describe('the headers of report files', () => {
  it('names the content type of what a report holds; anything else is a download', () => {
    expect(contentType('index.html')).toBe('text/html; charset=utf-8');
    expect(contentType('trace/sw.bundle.js')).toBe('text/javascript; charset=utf-8');
    expect(contentType('trace/index.B_TqY17P.css')).toBe('text/css; charset=utf-8');
    expect(contentType('trace/codicon.DCmgc-ay.ttf')).toBe('font/ttf');
    expect(contentType('trace/manifest.webmanifest')).toBe('application/manifest+json');
    expect(contentType('data/3ccb40eb.zip')).toBe('application/zip');
    expect(contentType('data/a.PNG')).toBe('image/png');
    expect(contentType('data/a.webm')).toBe('video/webm');
    expect(contentType('data/a.md')).toBe('text/plain; charset=utf-8');
    expect(contentType('data/a.exe')).toBe('application/octet-stream');
    expect(contentType('data/noextension')).toBe('application/octet-stream');
  });

  it('sends the report\'s own files with its CSP, and attachments sandboxed', () => {
    const page = fileHeaders('', 10);
    expect(page).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-length': '10',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'private, no-cache',
      'content-security-policy': REPORT_CSP,
    });
    expect(REPORT_CSP).toContain('default-src \'self\'');
    expect(REPORT_CSP).toContain('frame-ancestors \'self\'');
    expect(REPORT_CSP).not.toMatch(/https?:|\*/);
    // A test may attach an HTML page: opened on its own, it runs no script as the report's origin.
    expect(fileHeaders('data/page.html', 5)['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);
  });
});

describe('the read token', () => {
  it('goes into an HttpOnly, SameSite=Strict cookie for the namespace\'s reports (or sessions) only', () => {
    expect(readCookie('http://127.0.0.1:8082', '/reports/', 'ci', 'a b')).toBe(
      'fleetwright-report-token=a%20b; Path=/reports/ci/; HttpOnly; SameSite=Strict',
    );
    // Behind a path prefix, and Secure over https.
    expect(readCookie('https://example.com/fleetwright/', '/sessions/', 'ci', 't')).toBe(
      'fleetwright-report-token=t; Path=/fleetwright/sessions/ci/; HttpOnly; SameSite=Strict; Secure',
    );
  });

  it('is read back from the cookie or the Authorization header', () => {
    expect(cookieToken('theme=dark; fleetwright-report-token=a%20b; x=1')).toBe('a b');
    expect(cookieToken('fleetwright-report-token=first; fleetwright-report-token=second')).toBe('first');
    expect(cookieToken('fleetwright-report-token=%E0%A4%A')).toBeUndefined();
    expect(cookieToken('fleetwright-report-token=')).toBeUndefined();
    expect(cookieToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });
});
