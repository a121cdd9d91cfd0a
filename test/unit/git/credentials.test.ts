import { describe, expect, it } from 'vitest';
import { authHeaders, credentialsOf, secretsOf } from '../../../src/git/credentials.ts';
import { explain } from '../../../src/git/errors.ts';
import { redact, withoutCredentials } from '../../../src/git/url.ts';

describe('a repository URL in messages', () => {
  it.each([
    ['https://me:ghp_abc@github.com/team/e2e.git', 'https://github.com/team/e2e.git'],
    ['http://token@10.244.0.1:8418/e2e.git', 'http://10.244.0.1:8418/e2e.git'],
    ['https://github.com/team/e2e.git', 'https://github.com/team/e2e.git'],
    ['https://github.com/team/e2e@v1.git', 'https://github.com/team/e2e@v1.git'],
  ])('%s is named %s', (url, named) => {
    expect(withoutCredentials(url)).toBe(named);
  });

  it('strips user info from every URL in a text and blots out the secrets', () => {
    expect(redact('GET https://u:p4ss@h/r.git failed; token s3cr3t-t0k rejected', ['s3cr3t-t0k']))
      .toBe('GET https://h/r.git failed; token *** rejected');
  });
});

describe('credentials from a Secret', () => {
  it('sends a token as the basic-auth password of x-access-token, or of the Secret\'s username', () => {
    expect(credentialsOf({ token: 't' })).toEqual({ ok: true, credentials: { username: 'x-access-token', password: 't' } });
    expect(credentialsOf({ token: 't', username: 'oauth2' })).toEqual({ ok: true, credentials: { username: 'oauth2', password: 't' } });
    expect(authHeaders({ username: 'u', password: 'p' })).toEqual({ Authorization: `Basic ${btoa('u:p')}` });
  });

  it('takes a username and password', () => {
    expect(credentialsOf({ username: 'u', password: 'p' })).toEqual({ ok: true, credentials: { username: 'u', password: 'p' } });
  });

  it('names the keys a Secret lacks', () => {
    expect(credentialsOf({ username: 'u' })).toEqual({ ok: false, missing: 'key password (it has username)' });
    expect(credentialsOf({})).toEqual({ ok: false, missing: 'key token, or keys username and password' });
  });
});

describe('errors of a git source', () => {
  const credentials = { username: 'x-access-token', password: 'tok-12345' };
  const ctx = { url: 'https://git.example.com/e2e.git', revision: 'main', secret: 'git', secrets: secretsOf(credentials) };

  it('never quote the token or the Authorization header, whatever the server echoed', () => {
    const echoed = Object.assign(new Error(`bad auth Basic ${btoa('x-access-token:tok-12345')} for tok-12345`), { code: 'X' });
    const message = explain(echoed, ctx).message;
    expect(message).toBe('repository https://git.example.com/e2e.git at revision main: bad auth Basic *** for ***');
  });

  it('name the Secret whose credentials were refused', () => {
    const refused = Object.assign(new Error('HTTP Error: 403 Forbidden'), { code: 'HttpError', data: { statusCode: 403 } });
    expect(explain(refused, ctx).message).toBe('repository https://git.example.com/e2e.git at revision main: the server ' +
      'refused the credentials of Secret git (HTTP 403): fix its token, or its username and password, or give them ' +
      'access to the repository');
  });

  it('tell an untrusted TLS certificate from a host that cannot be reached', () => {
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(explain(tls, ctx).message).toBe('repository https://git.example.com/e2e.git at revision main: the TLS ' +
      'certificate of git.example.com is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): give the server a certificate from ' +
      'a public CA, or use its http:// URL on a trusted network');
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    expect(explain(refused, ctx).message).toMatch(/cannot reach git\.example\.com \(ECONNREFUSED: /);
  });
});
