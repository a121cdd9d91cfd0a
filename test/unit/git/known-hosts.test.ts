import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostKeyAlgorithmsFor, hostKeysFor } from '../../../src/git/known-hosts.ts';
import { wantOverSsh } from '../../../src/git/remote.ts';
import { sshAddressOf } from '../../../src/git/url.ts';

const ED = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIEd' };
const RSA = { type: 'ssh-rsa', key: 'AAAAB3NzaC1yc2EAAAADAQAB' };

describe('hostKeysFor', () => {
  it('takes plain names, [host]:port for other ports, wildcards and negations, as OpenSSH does', () => {
    const file = [
      '# GitHub',
      `github.com,140.82.112.3 ${ED.type} ${ED.key}`,
      `[git.example.com]:2222 ${RSA.type} ${RSA.key} ci@example`,
      `*.corp.example,!bad.corp.example ${ED.type} ${ED.key}`,
      '',
    ].join('\n');
    expect(hostKeysFor(file, 'github.com', 22)).toEqual({ trusted: [ED], revoked: [] });
    expect(hostKeysFor(file, 'GitHub.com', 22).trusted).toEqual([ED]);
    expect(hostKeysFor(file, 'github.com', 2222).trusted).toEqual([]);
    expect(hostKeysFor(file, 'git.example.com', 2222).trusted).toEqual([RSA]);
    expect(hostKeysFor(file, 'git.example.com', 22).trusted).toEqual([]);
    expect(hostKeysFor(file, 'git.corp.example', 22).trusted).toEqual([ED]);
    expect(hostKeysFor(file, 'bad.corp.example', 22).trusted).toEqual([]);
  });

  it('matches the hashed names ssh-keygen -H writes, and keeps @revoked keys apart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetwright-known-hosts-'));
    try {
      const file = join(dir, 'known_hosts');
      writeFileSync(file, `[10.244.0.1]:2222 ${ED.type} ${ED.key}\n`);
      execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
      const hashed = readFileSync(file, 'utf8');
      expect(hashed).toMatch(/^\|1\|/);
      expect(hostKeysFor(hashed, '10.244.0.1', 2222).trusted).toEqual([ED]);
      expect(hostKeysFor(hashed, '10.244.0.1', 22).trusted).toEqual([]);
      expect(hostKeysFor(`${hashed}@revoked * ${RSA.type} ${RSA.key}\n`, '10.244.0.1', 2222)).toEqual({ trusted: [ED], revoked: [RSA] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trusts nothing through @cert-authority lines, which ssh2 cannot check', () => {
    expect(hostKeysFor(`@cert-authority *.example.com ${ED.type} ${ED.key}\n`, 'git.example.com', 22).trusted).toEqual([]);
  });

  it('offers only the host key algorithms known_hosts can check, RSA in its SHA-2 forms first', () => {
    expect(hostKeyAlgorithmsFor([ED])).toEqual(['ssh-ed25519']);
    expect(hostKeyAlgorithmsFor([RSA, ED])).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});

describe('sshAddressOf', () => {
  it.each([
    ['ssh://git@github.com/team/e2e.git', { user: 'git', host: 'github.com', port: 22, path: '/team/e2e.git' }],
    ['ssh://10.244.0.1:2222/srv/e2e.git', { user: 'git', host: '10.244.0.1', port: 2222, path: '/srv/e2e.git' }],
    ['ssh://deploy@[fd00::1]:2200/e2e.git', { user: 'deploy', host: 'fd00::1', port: 2200, path: '/e2e.git' }],
    ['git@github.com:team/e2e.git', { user: 'git', host: 'github.com', port: 22, path: 'team/e2e.git' }],
    ['gitolite@git.example.com:/srv/e2e.git', { user: 'gitolite', host: 'git.example.com', port: 22, path: '/srv/e2e.git' }],
  ])('reads %s as git does', (url, address) => {
    expect(sshAddressOf(url)).toEqual(address);
  });

  it.each(['https://github.com/team/e2e.git', 'http://10.244.0.1:8418/e2e.git', 'git://host/e2e.git', '/srv/e2e.git'])(
    'leaves %s alone', (url) => {
      expect(sshAddressOf(url)).toBeUndefined();
    });
});

describe('wantOverSsh', () => {
  const sha = (c: string) => c.repeat(40);
  const refs = [
    { ref: 'HEAD', oid: sha('a') },
    { ref: 'refs/heads/main', oid: sha('a') },
    { ref: 'refs/tags/v1', oid: sha('t'), peeled: sha('b') },
  ];

  it('asks for the commit alone while a ref points at it, through its annotated tag, else for everything', () => {
    expect(wantOverSsh(refs, sha('a'))).toEqual({ ref: sha('a'), depth: 1 });
    expect(wantOverSsh(refs, sha('b'))).toEqual({ ref: 'refs/tags/v1', depth: 1 });
    expect(wantOverSsh(refs, sha('c'))).toEqual({ all: true });
  });
});
