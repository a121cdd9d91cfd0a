import { describe, expect, it } from 'vitest';
import { tokenMatches } from '../../../src/runtime/tokens.ts';

describe('tokenMatches', () => {
  it('matches the same token only', () => {
    expect(tokenMatches('s3cret-token', 's3cret-token')).toBe(true);
    expect(tokenMatches('☃-token', '☃-token')).toBe(true);
  });

  it.each([
    ['a prefix', 's3cret-toke'],
    ['a longer token', 's3cret-token-'],
    ['another case', 'S3CRET-TOKEN'],
    ['one character off', 's3cret-tokem'],
    ['nothing', ''],
    ['the token many times', 's3cret-token'.repeat(1000)],
  ])('refuses %s', (_, given) => {
    expect(tokenMatches(given, 's3cret-token')).toBe(false);
  });

  it('refuses a token against an empty expected one', () => {
    expect(tokenMatches('x', '')).toBe(false);
  });
});
