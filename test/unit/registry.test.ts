import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REGISTRY_ADDRESS, registryConfig, registryHostsToml } from '../../hack/lib/registry.ts';

describe('the local registry', () => {
  it('listens on the first node\'s bridge address, where both nodes reach the host', () => {
    expect(REGISTRY_ADDRESS).toBe('10.244.0.1:15000');
  });

  it('keeps its blobs in the given folder and serves the given address', () => {
    expect(parse(registryConfig('10.244.0.1:15000', '/cache/registry'))).toMatchObject({
      version: 0.1,
      storage: { filesystem: { rootdirectory: '/cache/registry' } },
      http: { addr: '10.244.0.1:15000' },
    });
  });

  it('is pulled from by containerd over plain HTTP, for pulls and resolves only', () => {
    expect(registryHostsToml('10.244.0.1:15000')).toBe([
      'server = "http://10.244.0.1:15000"',
      '',
      '[host."http://10.244.0.1:15000"]',
      '  capabilities = ["pull", "resolve"]',
      '',
    ].join('\n'));
  });
});
