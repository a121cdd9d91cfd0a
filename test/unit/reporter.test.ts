import { describe, expect, it } from 'vitest';
import { firstLine } from '../../src/reporter/index.ts';
import { clip, fitSummary, parseShardSummary, type ShardSummary } from '../../src/contracts/shard-summary.ts';

const counts = { passed: 120, failed: 500, flaky: 7, skipped: 3, durationMs: 754_321, status: 'failed' as const };

function summaryWith(failures: ShardSummary['failures'], errors: string[] = []): ShardSummary {
  return { ...counts, failed: failures.length, failures, truncated: 0, errors };
}

function bytes(summary: ShardSummary): number {
  return Buffer.byteLength(JSON.stringify(summary), 'utf8');
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('fitSummary', () => {
  it('leaves a summary that fits as it is', () => {
    const summary = summaryWith([{ title: 'a.spec.ts:3 › logs in', error: 'Error: expect(locator).toBeVisible() failed' }]);
    expect(fitSummary(summary)).toEqual(summary);
  });

  it('fits 500 failures into 4096 bytes, keeps the first ones in order and counts the rest as truncated', () => {
    const failures = Array.from({ length: 500 }, (_, i) => ({
      title: `checkout.spec.ts:${i + 1} › cart › keeps item ${i} after a reload`,
      error: `Error: expect(locator).toHaveText(expected) failed (item ${i})`,
    }));
    const fitted = fitSummary(summaryWith(failures));

    expect(bytes(fitted)).toBeLessThanOrEqual(4096);
    expect(fitted).toMatchObject({ ...counts, failed: 500 });
    expect(fitted.failures.length).toBeGreaterThan(0);
    expect(fitted.failures).toEqual(failures.slice(0, fitted.failures.length));
    expect(fitted.failures.length + fitted.truncated).toBe(500);
    expect(parseShardSummary(JSON.stringify(fitted))).toEqual({ ok: true, value: fitted });
  });

  it('cuts huge titles and errors to a bounded length and marks the cut', () => {
    const fitted = fitSummary(summaryWith([{ title: 'describe › '.repeat(20_000), error: 'x'.repeat(1_000_000) }]));

    expect(bytes(fitted)).toBeLessThanOrEqual(4096);
    expect(fitted.failures).toHaveLength(1);
    expect(Array.from(fitted.failures[0]!.title)).toHaveLength(200);
    expect(fitted.failures[0]!.title.endsWith('…')).toBe(true);
    expect(fitted.failures[0]!.error).toBe(`${'x'.repeat(199)}…`);
    expect(fitted.truncated).toBe(0);
  });

  it('measures bytes, not characters, and never splits an emoji or a CJK character', () => {
    const failures = Array.from({ length: 40 }, (_, i) => ({
      title: `${'🎭'.repeat(300)} › テストの名前 ${i}`,
      error: `Error: ${'期待値と一致しません'.repeat(30)}`,
    }));
    const fitted = fitSummary(summaryWith(failures));
    const json = JSON.stringify(fitted);

    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(4096);
    expect(fitted.failures.length).toBeGreaterThan(0);
    expect(fitted.failures.length + fitted.truncated).toBe(40);
    for (const f of fitted.failures) {
      expect(loneSurrogate.test(f.title)).toBe(false);
      expect(f.title).toBe(`${'🎭'.repeat(199)}…`);
    }
    expect(Buffer.from(json, 'utf8').toString('utf8')).toBe(json);
  });

  it('keeps the counts when not even one failure fits', () => {
    const huge = '界'.repeat(5_000);
    const fitted = fitSummary(summaryWith([{ title: huge, error: huge }]), { maxText: 10_000 });

    expect(bytes(fitted)).toBeLessThanOrEqual(4096);
    expect(fitted).toEqual({ ...counts, failed: 1, failures: [], truncated: 1, errors: [] });
  });

  it('drops failures before errors, and errors only when nothing else is left', () => {
    const failures = Array.from({ length: 20 }, (_, i) => ({ title: `t${i} ${'a'.repeat(190)}`, error: 'e'.repeat(190) }));
    const errors = ['Error: Timed out waiting 60000ms from config.webServer.'];
    const fitted = fitSummary(summaryWith(failures, errors));

    expect(bytes(fitted)).toBeLessThanOrEqual(4096);
    expect(fitted.errors).toEqual(errors);
    expect(fitted.failures.length).toBeLessThan(20);

    const noRoom = fitSummary(summaryWith([], ['x'.repeat(150), 'y'.repeat(150)]), { maxBytes: 300 });
    expect(bytes(noRoom)).toBeLessThanOrEqual(300);
    expect(noRoom.errors).toEqual(['x'.repeat(150)]);
  });

  it('clips by code point', () => {
    expect(clip('short', 10)).toBe('short');
    expect(clip('🎭🎭🎭', 2)).toBe('🎭…');
  });
});

describe('parseShardSummary', () => {
  it('fills in what an older reporter may leave out', () => {
    const text = JSON.stringify({ passed: 3, failed: 0, flaky: 0, skipped: 1, durationMs: 812, status: 'passed' });
    expect(parseShardSummary(text)).toEqual({
      ok: true,
      value: { passed: 3, failed: 0, flaky: 0, skipped: 1, durationMs: 812, status: 'passed', failures: [], truncated: 0, errors: [] },
    });
  });

  it('says the runner stopped early when there is no message', () => {
    for (const text of [undefined, '', '  \n']) {
      expect(parseShardSummary(text)).toEqual({ ok: false, message: expect.stringMatching(/left no test summary/) });
    }
  });

  it('quotes a message that is not JSON, such as the log tail of FallbackToLogsOnError', () => {
    const result = parseShardSummary('Error: Cannot find module \'@playwright/test\'\n    at Module._resolveFilename');
    expect(result).toEqual({ ok: false, message: expect.stringMatching(/not JSON\): Error: Cannot find module/) });
  });

  it('names the field that does not fit the schema', () => {
    const result = parseShardSummary(JSON.stringify({ passed: -1, failed: 0, flaky: 0, skipped: 0, durationMs: 1, status: 'ok' }));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/passed: .*; status: /);
  });
});

describe('firstLine', () => {
  it('takes the first non-empty line of an error, without terminal colours', () => {
    const message = '\n\u001b[31mError: \u001b[2mexpect(\u001b[22mlocator).toHaveText()\u001b[0m failed\n\nExpected: "a"';
    expect(firstLine({ message })).toBe('Error: expect(locator).toHaveText() failed');
    expect(firstLine({ value: 'thrown string' })).toBe('thrown string');
    expect(firstLine(undefined)).toBe('');
  });
});
