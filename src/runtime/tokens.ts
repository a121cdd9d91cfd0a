import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a secret token in constant time whatever the lengths: both sides
 * are hashed first, so neither the length nor a common prefix leaks through
 * the time taken. Tunnels (gateway) and reports (report store) use it.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
