import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { referenceFile, renderReference } from '../../hack/generate-reference.ts';
import { customResourceDefinition } from '../../src/api/crd.ts';
import { kinds } from '../../src/api/v1alpha1/index.ts';

type Node = Record<string, unknown>;

/** The path of every field of spec and status as the reference writes it (`[]` for a list's items). */
function fieldPaths(node: Node, path: string, out: string[] = []): string[] {
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    out.push(`${path}.${name}`);
    fieldPaths(child, `${path}.${name}`, out);
    const items = child.items as Node | undefined;
    if (items?.properties) fieldPaths(items, `${path}.${name}[]`, out);
  }
  return out;
}

const reference = renderReference(kinds);
const rows = new Map(
  [...reference.matchAll(/^\| `((?:spec|status)\.[^`]+)` \| (.*) \|$/gm)].map((m) => [m[1] as string, m[2] as string]),
);

describe('docs/reference.md', () => {
  it('matches what hack/generate-reference.ts writes (run npm run generate when this fails)', () => {
    expect(readFileSync(referenceFile, 'utf8')).toBe(reference);
  });

  describe.each(kinds)('for $kind', (def) => {
    const schema = customResourceDefinition(def).spec.versions[0]?.schema.openAPIV3Schema as unknown as Node;
    const root = schema.properties as Record<string, Node>;

    it('has a row for every field of spec and status, and no other', () => {
      const paths = [...fieldPaths(root.spec as Node, 'spec'), ...fieldPaths(root.status as Node, 'status')];
      const section = reference.slice(reference.indexOf(`## ${def.kind}\n`)).split(/^## /m)[1] ?? '';
      const documented = [...section.matchAll(/^\| `((?:spec|status)\.[^`]+)` \|/gm)].map((m) => m[1]);
      expect(documented).toEqual(paths);
    });
  });

  it('gives each field its type, default, description and bounds', () => {
    expect(rows.get('spec.replicas')).toBe('`integer` | `1` | Number of browser pods to keep when autoscaling is not ' +
      'set. Target of the scale subresource; ignored while autoscaling is set (the ScaleIgnored condition says so). | 0–1000');
    expect(rows.get('spec.auth.secretRef.key')).toMatch(/^`string` \| `"token"` \| .* \| 1–253 characters; pattern /);
    expect(rows.get('spec.poolRefs')).toMatch(/\| required; at least 1 item; at most 8 items; a list keyed by `name`$/);
  });

  it('states the cross-field rules with their message, and escapes what Markdown would misread', () => {
    expect(rows.get('spec.autoscaling')).toContain('autoscaling.minReplicas must be less than or equal to ' +
      'autoscaling.maxReplicas (CEL `self.minReplicas <= self.maxReplicas`)');
    expect(rows.get('spec.source')).toContain('required; source must set exactly one of configMap, image or git');
    // A | inside a pattern would end the table cell; a <name> outside code would vanish as an HTML tag.
    expect(rows.get('spec.template.resources.requests')).toContain('`^(\\+\\|-)?');
    expect(rows.get('spec.path')).toContain('Unset: /tunnels/&lt;namespace&gt;/&lt;name&gt;.');
  });
});
