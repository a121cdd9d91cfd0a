// Pure: the headers a report file is served with, and the read-token cookie.
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.webm': 'video/webm',
  '.mp4': 'video/mp4',
  '.zip': 'application/zip',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
};

export const contentType = (path: string) => TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';

/**
 * What Playwright's HTML report and its trace viewer need, and nothing more
 * (checked in Chromium by the integration test, which fails on any CSP
 * violation): their own scripts, styles and fonts, plus inline ones (the
 * report is one index.html with its code and data inlined); data: and blob:
 * images and media (screenshots, videos); the trace viewer's service worker
 * and the same-origin frames it renders snapshots in. No other origin.
 */
export const REPORT_CSP = [
  'default-src \'self\'',
  'script-src \'self\' \'unsafe-inline\'',
  'style-src \'self\' \'unsafe-inline\'',
  'img-src \'self\' data: blob:',
  'media-src \'self\' data: blob:',
  'font-src \'self\' data:',
  'connect-src \'self\'',
  'worker-src \'self\'',
  'frame-src \'self\' data:',
  'frame-ancestors \'self\'',
  'object-src \'none\'',
  'base-uri \'self\'',
  'form-action \'none\'',
].join('; ');

/**
 * Attachments (the report's `data/` folder) hold whatever a test attached,
 * HTML included. Opened on their own they are sandboxed: an origin of their
 * own and no scripts, so an attachment can never act as the report origin
 * (and read other reports with the reader's cookie).
 */
const ATTACHMENT_CSP = 'sandbox; default-src \'none\'; img-src \'self\' data:; media-src \'self\'; style-src \'unsafe-inline\'';

/** Sent with every answer, refusals included. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'private, no-cache',
  'cross-origin-resource-policy': 'same-origin',
};

export function fileHeaders(path: string, size: number): Record<string, string> {
  const attachment = path.startsWith('data/');
  return {
    ...BASE_HEADERS,
    'content-type': contentType(path || 'index.html'),
    'content-length': String(size),
    'content-security-policy': attachment ? ATTACHMENT_CSP : REPORT_CSP,
  };
}

export const READ_COOKIE = 'fleetwright-report-token';

/**
 * The read token as a cookie for the namespace's reports (or sessions:
 * `area` is REPORTS_PREFIX or SESSIONS_PREFIX) only: HttpOnly (no script
 * reads it), SameSite=Strict (no other site's page sends it), Secure when
 * the store is served over https. `publicUrl` gives the path the browser
 * sees (a store behind a path prefix).
 */
export function readCookie(publicUrl: string, area: string, namespace: string, token: string): string {
  const url = new URL(publicUrl);
  return [
    `${READ_COOKIE}=${encodeURIComponent(token)}`,
    `Path=${url.pathname.replace(/\/+$/, '')}${area}${namespace}/`,
    'HttpOnly',
    'SameSite=Strict',
    ...(url.protocol === 'https:' ? ['Secure'] : []),
  ].join('; ');
}

/** The read-token cookie of a request's Cookie header; the first one when there are several. */
export function cookieToken(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== READ_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The bearer token of an Authorization header. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}
