// The files of a GitHub release (hack/release-assets.ts), rendered with the
// real kubectl kustomize.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderBundle, renderCrds } from '../../hack/release-assets.ts';

interface Obj {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec: { containers: { name: string; image: string; args?: string[] }[] } } };
}

const objectsOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj);
const released = `ghcr.io/fleetwright/fleetwright@sha256:${'0123456789abcdef'.repeat(4)}`;

describe('the release bundle', () => {
  it('runs the released image, pinned by digest, in every container and in the pods the controller creates', () => {
    const objects = objectsOf(renderBundle(released));
    const containers = objects.flatMap((o) => o.spec?.template?.spec.containers ?? []);
    expect(containers.map((c) => c.name).sort()).toEqual(['controller', 'gateway', 'report-store']);
    for (const c of containers) expect(c.image, c.name).toBe(released);
    expect(containers.find((c) => c.name === 'controller')?.args).toContain(`--image=${released}`);
    expect(objects.map((o) => o.kind)).toContain('Namespace');
  });

  it('refuses an image that is not pinned by digest', () => {
    expect(() => renderBundle('ghcr.io/fleetwright/fleetwright:0.2.0')).toThrow(/<repository>@sha256:/);
  });

  it('has the CRDs, alone, in their own file', () => {
    expect(objectsOf(renderCrds()).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'CustomResourceDefinition/browserpools.fleetwright.dev',
      'CustomResourceDefinition/testruns.fleetwright.dev',
      'CustomResourceDefinition/tunnels.fleetwright.dev',
    ]);
  });
});
