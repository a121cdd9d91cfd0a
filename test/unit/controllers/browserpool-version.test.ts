import { describe, expect, it } from 'vitest';
import type { BrowserPodView } from '../../../src/controllers/browserpool/plan.ts';
import { needsVersionProbe, poolPlaywrightVersions } from '../../../src/controllers/browserpool/version.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 12, minute));

/** A pod whose agent reported `versions` (comma-separated, the default first). */
function browser(name: string, versions?: string, extra: Partial<BrowserPodView> = {}): BrowserPodView {
  return {
    name,
    state: 'idle',
    ready: true,
    terminating: false,
    idleSince: at(0),
    sessions: 0,
    stuck: false,
    createdAt: at(0),
    ...(versions ? { playwrightVersions: versions.split(',') } : {}),
    ...extra,
  };
}

describe('needsVersionProbe', () => {
  it('asks a live Ready pod that has not reported, and no other', () => {
    expect(needsVersionProbe(browser('new', undefined))).toBe(true);
    expect(needsVersionProbe(browser('leased', undefined, { state: 'leased' }))).toBe(true);
    expect(needsVersionProbe(browser('known', '1.65.1'))).toBe(false);
    expect(needsVersionProbe(browser('starting', undefined, { state: 'starting', ready: false }))).toBe(false);
    expect(needsVersionProbe(browser('leaving', undefined, { terminating: true }))).toBe(false);
    expect(needsVersionProbe(browser('dead', undefined, { ready: false, finishedAt: at(5) }))).toBe(false);
  });
});

describe('poolPlaywrightVersions', () => {
  it('is unset while no pod has reported', () => {
    expect(poolPlaywrightVersions([])).toBeUndefined();
    expect(poolPlaywrightVersions([browser('a', undefined), browser('b', undefined)])).toBeUndefined();
  });

  it('is the version most Ready pods report', () => {
    const pods = [
      browser('a', '1.64.1', { createdAt: at(9) }),
      browser('b', '1.65.1', { createdAt: at(1) }),
      browser('c', '1.65.1', { createdAt: at(2) }),
      browser('d', undefined, { createdAt: at(10) }),
    ];
    expect(poolPlaywrightVersions(pods)).toEqual(['1.65.1']);
  });

  it('is the whole list most Ready pods report, the default first', () => {
    const all = '1.65.1,1.66.0-alpha-2026-11-18,1.64.1,1.63.0';
    const pods = [
      browser('a', all, { createdAt: at(1) }),
      browser('b', all, { createdAt: at(2) }),
      browser('c', '1.64.1,1.66.0-alpha-2026-11-18,1.63.0', { createdAt: at(9) }),
    ];
    expect(poolPlaywrightVersions(pods)).toEqual(['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0']);
    // Another default is another set, even with the same versions.
    expect(poolPlaywrightVersions([browser('x', '1.65.1,1.64.1', { createdAt: at(1) }), browser('y', '1.64.1,1.65.1', { createdAt: at(2) })]))
      .toEqual(['1.64.1', '1.65.1']);
  });

  it('takes the newest pod\'s version on a tie, as during a rollout to a new image', () => {
    const pods = [
      browser('old-1', '1.64.1', { createdAt: at(1) }),
      browser('old-2', '1.64.1', { createdAt: at(2) }),
      browser('new-1', '1.65.1', { createdAt: at(5) }),
      browser('new-2', '1.65.1', { createdAt: at(3) }),
    ];
    expect(poolPlaywrightVersions(pods)).toEqual(['1.65.1']);
    expect(poolPlaywrightVersions([browser('older', '1.65.1', { createdAt: at(1) }), browser('newer', '1.64.1', { createdAt: at(2) })]))
      .toEqual(['1.64.1']);
  });

  it('counts only pods that are Ready, live and not going away', () => {
    const pods = [
      browser('ready', '1.65.1'),
      browser('not-ready', '1.64.1', { ready: false }),
      browser('terminating', '1.64.1', { terminating: true }),
      browser('failed', '1.64.1', { ready: false, finishedAt: at(3) }),
    ];
    expect(poolPlaywrightVersions(pods)).toEqual(['1.65.1']);
    expect(poolPlaywrightVersions(pods.slice(1))).toBeUndefined();
  });
});
