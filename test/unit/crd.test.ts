import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { renderCrdFiles } from '../../hack/lib/crd-files.ts';
import { customResourceDefinition, structuralSchema } from '../../src/api/crd.ts';
import { withRules } from '../../src/api/rules.ts';
import { kinds } from '../../src/api/v1alpha1/index.ts';

type Node = Record<string, unknown>;

/** Visits every schema node with its path, as the API server's structural check does. */
function walk(node: Node, path: string, visit: (node: Node, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    walk(child, `${path}.${name}`, visit);
  }
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties as Node, `${path}{}`, visit);
}

describe('structuralSchema', () => {
  it('drops the safe-integer bounds zod writes for every int, keeping real ones', () => {
    expect(structuralSchema(z.int())).toEqual({ type: 'integer' });
    expect(structuralSchema(z.int().min(1).max(5))).toEqual({ type: 'integer', minimum: 1, maximum: 5 });
  });

  it('drops zod\'s ECMAScript date-time pattern and keeps the format', () => {
    expect(structuralSchema(z.iso.datetime())).toEqual({ type: 'string', format: 'date-time' });
  });

  it('passes unknown fields of opaque Kubernetes types through', () => {
    const opaque = z
      .object({})
      .loose()
      .meta({ 'x-kubernetes-preserve-unknown-fields': true })
      .describe('affinity');
    expect(structuralSchema(opaque)).toEqual({
      'type': 'object',
      'description': 'affinity',
      'x-kubernetes-preserve-unknown-fields': true,
    });
  });

  it('writes int-or-string in the one anyOf form a structural schema allows', () => {
    const quantity = z
      .union([z.int(), z.string().regex(/^\d+m$/)])
      .meta({ 'x-kubernetes-int-or-string': true });
    expect(structuralSchema(quantity)).toEqual({
      'anyOf': [{ type: 'integer' }, { type: 'string' }],
      'pattern': '^\\d+m$',
      'x-kubernetes-int-or-string': true,
    });
  });

  it('turns a rule into a CEL validation and a zod refinement', () => {
    const range = withRules(z.object({ min: z.int(), max: z.int() }), [
      {
        cel: 'self.min <= self.max',
        holds: (r) => r.min <= r.max,
        message: 'min must not exceed max',
        fieldPath: '.min',
      },
    ]);
    expect(structuralSchema(range)['x-kubernetes-validations']).toEqual([
      { rule: 'self.min <= self.max', message: 'min must not exceed max', fieldPath: '.min' },
    ]);
    expect(range.safeParse({ min: 3, max: 1 }).error?.issues).toMatchObject([
      { message: 'min must not exceed max', path: ['min'] },
    ]);
  });
});

describe.each(kinds)('the $kind CRD', (def) => {
  const crd = customResourceDefinition(def);
  const version = crd.spec.versions[0];
  const schema = version?.schema.openAPIV3Schema as unknown as Node;

  it('types every node and describes every field of spec and status', () => {
    const untyped: string[] = [];
    const undescribed: string[] = [];
    walk(schema, '', (node, path) => {
      if (!node.type && !node['x-kubernetes-int-or-string']) untyped.push(path);
      if (
        /^\.(spec|status)\./.test(path) &&
        !path.endsWith('[]') &&
        !path.endsWith('{}') &&
        !node.description
      ) {
        undescribed.push(path);
      }
    });
    expect(untyped).toEqual([]);
    expect(undescribed).toEqual([]);
  });

  it('bounds every string and array, so CEL cost and object size stay bounded', () => {
    const unbounded: string[] = [];
    walk(schema, '', (node, path) => {
      if (!path.startsWith('.spec')) return;
      if (node.type === 'string' && node.maxLength === undefined && !node.enum) unbounded.push(path);
      if (node.type === 'array' && node.maxItems === undefined) unbounded.push(path);
    });
    expect(unbounded).toEqual([]);
  });

  it('has the status subresource, short name and fleetwright category', () => {
    expect(version?.subresources.status).toEqual({});
    expect(crd.spec.names.shortNames).toEqual(def.shortNames);
    expect(crd.spec.names.categories).toEqual(['fleetwright']);
  });
});

describe('renderCrdFiles', () => {
  it('puts the scale subresource on BrowserPool only', () => {
    const scales = kinds.map((def) => customResourceDefinition(def).spec.versions[0]?.subresources);
    expect(scales.map((s) => 'scale' in (s ?? {}))).toEqual([true, false, false]);
  });

  it('matches the checked-in crds/ (run npm run generate when this fails)', () => {
    for (const { file, content } of renderCrdFiles(kinds)) {
      expect(readFileSync(join(import.meta.dirname, '..', '..', 'crds', file), 'utf8')).toBe(content);
    }
  });
});
