import { z } from 'zod';
import { CATEGORY, GROUP, type KindDefinition, nameRule, VERSION } from './kind.ts';

type JsonSchema = { [key: string]: unknown };

// zod writes these bounds for every z.int(); a CRD needs no bound it cannot exceed anyway.
const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * Turns a zod schema into a structural OpenAPI v3 schema as the API server
 * requires for a CRD (k8s.io/apiextensions-apiserver "structural schema"):
 * every node typed, no $ref, value validations only where allowed.
 */
export function structuralSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' });
  return normalize(json as JsonSchema);
}

function normalize(node: JsonSchema): JsonSchema {
  const description = node.description;
  if (node['x-kubernetes-preserve-unknown-fields']) {
    return {
      'type': 'object',
      ...(description ? { description } : {}),
      'x-kubernetes-preserve-unknown-fields': true,
    };
  }
  if (node['x-kubernetes-int-or-string']) {
    // The one anyOf form a structural schema allows; the string branch's pattern moves up.
    const branches = (node.anyOf ?? []) as JsonSchema[];
    const pattern = branches.find((b) => b.type === 'string')?.pattern;
    return {
      ...(description ? { description } : {}),
      'anyOf': [{ type: 'integer' }, { type: 'string' }],
      ...(pattern ? { pattern } : {}),
      'x-kubernetes-int-or-string': true,
    };
  }

  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema') continue;
    if (key === 'additionalProperties' && (value === false || isEmptySchema(value))) continue;
    if ((key === 'minimum' && value === -SAFE_INT) || (key === 'maximum' && value === SAFE_INT)) continue;
    // zod's date-time regex is ECMAScript; the API server compiles patterns as RE2 and checks the format itself.
    if (key === 'pattern' && node.format === 'date-time') continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, normalize(child)]),
      );
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = normalize(value as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isEmptySchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** The CustomResourceDefinition (apiextensions.k8s.io/v1) of one kind. */
export function customResourceDefinition(def: KindDefinition) {
  const name = nameRule(def);
  const openAPIV3Schema = {
    'type': 'object',
    'description': def.description,
    'properties': {
      apiVersion: { type: 'string', description: 'Versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'The REST resource this object represents.' },
      // A CRD may declare only name and generateName under metadata; declaring name lets the name rule blame it.
      metadata: { type: 'object', properties: { name: { type: 'string' } } },
      spec: structuralSchema(def.spec),
      status: structuralSchema(def.status),
    },
    'required': ['spec'],
    'x-kubernetes-validations': [{ rule: name.cel, message: name.message, fieldPath: name.fieldPath }],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {}, ...(def.scale ? { scale: def.scale } : {}) },
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}
