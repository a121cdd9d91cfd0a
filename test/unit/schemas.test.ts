import { describe, expect, it } from 'vitest';
import { BrowserPoolSpec, TestRunSpec, TunnelSpec } from '../../src/api/v1alpha1/index.ts';

describe('schema defaults', () => {
  it('gives a BrowserPool one chromium browser serving one session at a time', () => {
    expect(BrowserPoolSpec.parse({})).toEqual({
      browser: 'chromium',
      replicas: 1,
      sessionsPerBrowser: 1,
      maxSessionSeconds: 3600,
    });
  });

  it('fills autoscaling defaults only when autoscaling is set', () => {
    expect(BrowserPoolSpec.parse({ autoscaling: { maxReplicas: 3 } }).autoscaling).toEqual({
      minReplicas: 0,
      maxReplicas: 3,
      idleBuffer: 1,
      scaleDownDelaySeconds: 60,
    });
  });

  it('runs a TestRun in one shard with two infrastructure retries and an hour deadline', () => {
    const spec = TestRunSpec.parse({ poolRef: { name: 'p' }, source: { configMap: { name: 'suite' } } });
    expect(spec).toMatchObject({
      shards: 1,
      retries: 2,
      timeoutSeconds: 3600,
      priority: 0,
      cleanupPolicy: 'Always',
    });
    expect(spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  it('looks for tests in /tests of an image source', () => {
    const spec = TestRunSpec.parse({
      poolRef: { name: 'p' },
      source: { image: {} },
      runner: { image: 'suite:1' },
    });
    expect(spec.source.image).toEqual({ workingDir: '/tests' });
  });

  it('reads a Tunnel token from the key "token" and bounds connections and time', () => {
    expect(TunnelSpec.parse({ poolRefs: [{ name: 'p' }], auth: { secretRef: { name: 's' } } })).toEqual({
      poolRefs: [{ name: 'p' }],
      auth: { secretRef: { name: 's', key: 'token' } },
      maxConnections: 100,
      allowExposeNetwork: true,
      idleTimeoutSeconds: 300,
      maxSessionSeconds: 3600,
      queueTimeoutSeconds: 30,
    });
  });
});
