import { describe, expect, it } from 'vitest';
import { TestRunSpec } from '../../../src/api/v1alpha1/index.ts';
import { planSource, sourceRetryAfterMs } from '../../../src/controllers/testrun/source.ts';

const spec = (git?: Record<string, unknown>) =>
  TestRunSpec.parse({ poolRef: { name: 'p' }, source: git ? { git } : { configMap: { name: 'suite' } } });
const secret = (data: Record<string, string>) => ({
  metadata: { name: 'git', namespace: 'team-a' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});
const url = 'https://git.example.com/team/e2e.git';
const pinned = { revision: 'refs/heads/main', commit: 'c'.repeat(40) };

describe('planSource', () => {
  it('has nothing to do for a ConfigMap source', () => {
    expect(planSource('team-a', spec(), undefined, undefined)).toEqual({ type: 'none' });
  });

  it('resolves the revision of a public repository', () => {
    expect(planSource('team-a', spec({ url, revision: 'main' }), undefined, undefined))
      .toEqual({ type: 'resolve', remote: { url }, revision: 'main' });
  });

  it('never resolves a pinned run again, whatever its Secret or its branch does now', () => {
    expect(planSource('team-a', spec({ url, secretRef: { name: 'git' } }), pinned, undefined)).toEqual({ type: 'pinned', source: pinned });
  });

  it('resolves with the Secret\'s token', () => {
    expect(planSource('team-a', spec({ url, secretRef: { name: 'git' } }), undefined, secret({ token: 't0k' }))).toEqual({
      type: 'resolve',
      remote: { url, credentials: { username: 'x-access-token', password: 't0k' }, secret: 'git' },
    });
  });

  it('resolves an ssh URL with the Secret\'s key and known hosts, and names the key it lacks', () => {
    const ssh = 'git@git.example.com:team/e2e.git';
    const keys = { identity: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n', known_hosts: 'git.example.com ssh-ed25519 AAAA\n' };
    expect(planSource('team-a', spec({ url: ssh, secretRef: { name: 'git' } }), undefined, secret(keys))).toEqual({
      type: 'resolve',
      remote: { url: ssh, ssh: { identity: keys.identity, knownHosts: keys.known_hosts }, secret: 'git' },
    });
    expect(planSource('team-a', spec({ url: ssh, secretRef: { name: 'git' } }), undefined, secret({ identity: keys.identity })))
      .toEqual({
        type: 'unavailable',
        reason: 'SourceUnavailable',
        message: 'Secret git (spec.source.git.secretRef) has no key known_hosts (the server\'s host keys, as ssh-keyscan ' +
          `prints them): add the credentials of repository ${ssh} to it`,
      });
    expect(planSource('team-a', spec({ url: ssh, secretRef: { name: 'git' } }), undefined, undefined)).toMatchObject({
      reason: 'SourceNotFound',
      message: `Secret git with the credentials of repository ${ssh} does not exist in namespace team-a: create it ` +
        '(keys identity and known_hosts) or fix spec.source.git.secretRef',
    });
  });

  it('waits for a missing Secret as for a missing ConfigMap, naming it and the fix', () => {
    expect(planSource('team-a', spec({ url, secretRef: { name: 'git' } }), undefined, undefined)).toEqual({
      type: 'unavailable',
      reason: 'SourceNotFound',
      message: `Secret git with the credentials of repository ${url} does not exist in namespace team-a: create it ` +
        '(key token, or username and password) or fix spec.source.git.secretRef',
    });
  });

  it('says which key a Secret lacks', () => {
    expect(planSource('team-a', spec({ url, secretRef: { name: 'git' } }), undefined, secret({ user: 'me' }))).toEqual({
      type: 'unavailable',
      reason: 'SourceUnavailable',
      message: `Secret git (spec.source.git.secretRef) has no key token, or keys username and password: add the ` +
        `credentials of repository ${url} to it`,
    });
  });
});

describe('sourceRetryAfterMs', () => {
  const now = new Date('2026-12-06T10:00:00Z');
  it('asks an unavailable remote again after as long as it has been failing, from 5 s up to 5 min', () => {
    expect(sourceRetryAfterMs(undefined, now)).toBe(5_000);
    expect(sourceRetryAfterMs('2026-12-06T09:59:58Z', now)).toBe(5_000);
    expect(sourceRetryAfterMs('2026-12-06T09:59:20Z', now)).toBe(40_000);
    expect(sourceRetryAfterMs('2026-12-06T08:00:00Z', now)).toBe(300_000);
  });
});
