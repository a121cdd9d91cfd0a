import { describe, expect, it } from 'vitest';
import { BrowserPoolSpec, TestRunSpec } from '../../src/api/v1alpha1/index.ts';

// Values the CRD once accepted and the API server then refused in the derived pod, so the
// reconcile failed on every retry without a condition (found by test/integration/hostile-manifests.test.ts).
const run = { poolRef: { name: 'p' }, source: { configMap: { name: 's' } } };

describe('fields copied into pods are refused when the pod would be', () => {
  it.each(['ok\nEVIL=1', ' leading', 'trailing ', 'a b', ''])('refuses image %j', (image) => {
    expect(BrowserPoolSpec.safeParse({ image }).success).toBe(false);
    expect(TestRunSpec.safeParse({ ...run, runner: { image } }).success).toBe(false);
  });

  it('accepts an image reference with a registry, a tag and a digest', () => {
    const image = 'registry.local:5000/team/browser:1.2@sha256:' + 'a'.repeat(64);
    expect(BrowserPoolSpec.safeParse({ image }).success).toBe(true);
    expect(TestRunSpec.safeParse({ ...run, runner: { image } }).success).toBe(true);
  });

  it.each(['; rm -rf / #', 'High', '../x', 'a b', '🔥'])('refuses priorityClassName %j', (name) => {
    expect(BrowserPoolSpec.safeParse({ template: { priorityClassName: name } }).success).toBe(false);
  });

  it('accepts a PriorityClass name', () => {
    expect(BrowserPoolSpec.safeParse({ template: { priorityClassName: 'system-node-critical' } }).success).toBe(true);
  });
});
