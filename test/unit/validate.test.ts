import { describe, expect, it } from 'vitest';
import { BrowserPoolResource, TestRunResource, TunnelResource } from '../../src/api/v1alpha1/index.ts';
import { parseResource } from '../../src/api/validate.ts';
import { invalidManifests } from '../fixtures/invalid-manifests.ts';

const schemas = { BrowserPool: BrowserPoolResource, TestRun: TestRunResource, Tunnel: TunnelResource };

describe('the controller\'s validation agrees with admission', () => {
  it.each(invalidManifests)('refuses $why, naming $field', ({ manifest, field }) => {
    const parsed = parseResource(schemas[manifest.kind as keyof typeof schemas], manifest);
    expect(parsed.ok).toBe(false);
    // The API server writes env[0].name; zod paths join with dots.
    const zodField = field.replace(/\[(\d+)\]/g, '.$1');
    expect(parsed.ok ? '' : parsed.message).toMatch(
      new RegExp(`(^|; )${zodField.replaceAll('.', '\\.')}[.:]`),
    );
  });

  it('accepts a valid object and returns it with defaults', () => {
    const parsed = parseResource(BrowserPoolResource, {
      apiVersion: 'fleetwright.dev/v1alpha1',
      kind: 'BrowserPool',
      metadata: { name: 'p', namespace: 'default' },
      spec: { replicas: 2 },
    });
    expect(parsed).toMatchObject({ ok: true, value: { spec: { replicas: 2, browser: 'chromium' } } });
  });

  it('names every failing field in one message', () => {
    const parsed = parseResource(TestRunResource, {
      apiVersion: 'fleetwright.dev/v1alpha1',
      kind: 'TestRun',
      metadata: { name: 'r' },
      spec: { poolRef: { name: 'p' }, source: {}, shards: 0 },
    });
    expect(parsed.ok).toBe(false);
    const message = parsed.ok ? '' : parsed.message;
    expect(message).toContain('spec.shards: Too small');
    expect(message).toContain('spec.source: source must set exactly one of configMap, image or git');
  });
});
