import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customResourceDefinition } from '../../src/api/crd.ts';
import { kinds } from '../../src/api/v1alpha1/index.ts';
import { invalidManifests } from '../fixtures/invalid-manifests.ts';
import { kubeConfig, kubectl, useNamespace } from './helpers.ts';

const ns = useNamespace('invalid');

describe('admission of invalid manifests', () => {
  it('has a case for every kind of mistake, CEL rules included', () => {
    expect(invalidManifests.length).toBeGreaterThanOrEqual(12);
    expect(invalidManifests.filter((c) => c.cel).length).toBeGreaterThanOrEqual(4);
  });

  it.each(invalidManifests)('refuses $why, naming $field', ({ manifest, field }) => {
    const result = kubectl(
      ['create', '--dry-run=server', '-n', ns.name, '-f', '-'],
      JSON.stringify(manifest),
    );
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('is invalid: ');
    expect(result.stderr).toContain(`${field}:`);
  });
});

describe('the same CRDs without their CEL rules', () => {
  // A copy of every CRD under another group with each x-kubernetes-validations
  // removed: the CEL cases must pass there, so it is the CEL rules that refuse them.
  const group = 'nocel.fleetwright.dev';
  const crds = kinds.map((def) => {
    const crd = JSON.parse(
      JSON.stringify(customResourceDefinition(def), (key, value) =>
        key === 'x-kubernetes-validations' ? undefined : value,
      ),
    );
    crd.metadata.name = `${def.plural}.${group}`;
    crd.spec.group = group;
    // Kept out of `kubectl get fleetwright` and the short names of the real kinds.
    delete crd.spec.names.categories;
    delete crd.spec.names.shortNames;
    return crd;
  });
  const api = () => kubeConfig().makeApiClient(ApiextensionsV1Api);

  beforeAll(async () => {
    for (const body of crds) await api().createCustomResourceDefinition({ body });
    const wait = kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      ...crds.map((c) => `crd/${c.metadata.name}`),
    ]);
    expect(wait.status, wait.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const crd of crds) await api().deleteCustomResourceDefinition({ name: crd.metadata.name });
  });

  it.each(invalidManifests.filter((c) => c.cel))('accepts $why', ({ manifest }) => {
    const copy = { ...manifest, apiVersion: `${group}/v1alpha1` };
    const result = kubectl(['create', '--dry-run=server', '-n', ns.name, '-f', '-'], JSON.stringify(copy));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
