// Writes docs/reference.md, the field reference of the three kinds, from the
// OpenAPI schemas of the generated CRDs (themselves from the zod schemas of
// src/api/v1alpha1), so that the reference says what the API server enforces
// and cannot drift from it; with --check, fails when the file differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { customResourceDefinition } from '../src/api/crd.ts';
import { API_VERSION, type KindDefinition } from '../src/api/kind.ts';
import { kinds } from '../src/api/v1alpha1/index.ts';
import { repoRoot } from './lib/paths.ts';

type Schema = { [key: string]: unknown };

export const referenceFile = join(repoRoot, 'docs', 'reference.md');

/** One row of a field table. */
interface Field {
  path: string;
  type: string;
  default?: unknown;
  description: string;
  rules: string[];
}

const code = (text: string) => `\`${text}\``;
const props = (node: Schema) => (node.properties ?? {}) as Record<string, Schema>;
const isObject = (node: Schema) => node.type === 'object' && !node['x-kubernetes-preserve-unknown-fields'];
const mapValues = (node: Schema) =>
  typeof node.additionalProperties === 'object' ? (node.additionalProperties as Schema) : undefined;

/** `string`, `[]object`, `map[string]int-or-string`, `object (any fields)` */
function typeOf(node: Schema): string {
  if (node['x-kubernetes-int-or-string']) return 'int-or-string';
  if (node['x-kubernetes-preserve-unknown-fields']) return 'object (any fields)';
  if (node.type === 'array') return `[]${typeOf(node.items as Schema)}`;
  const values = mapValues(node);
  if (node.type === 'object' && values) return `map[string]${typeOf(values)}`;
  if (node.type === 'string' && node.format) return `string (${node.format as string})`;
  return (node.type as string | undefined) ?? 'any';
}

/** The value validations of one schema node, in words, as the API server applies them. */
function valueRules(node: Schema): string[] {
  const rules: string[] = [];
  const { minLength, maxLength, minimum, maximum, minItems, maxItems, maxProperties } =
    node as Record<string, number | undefined>;
  if (Array.isArray(node.enum)) rules.push(`one of ${(node.enum as unknown[]).map((v) => code(String(v))).join(', ')}`);
  if (minLength !== undefined && maxLength !== undefined) rules.push(`${minLength}–${maxLength} characters`);
  else if (maxLength !== undefined) rules.push(`at most ${maxLength} characters`);
  else if (minLength !== undefined) rules.push(`at least ${minLength} characters`);
  if (minimum !== undefined && maximum !== undefined) rules.push(`${minimum}–${maximum}`);
  else if (minimum !== undefined) rules.push(`at least ${minimum}`);
  else if (maximum !== undefined) rules.push(`at most ${maximum}`);
  if (typeof node.pattern === 'string') rules.push(`pattern ${code(node.pattern)}`);
  const items = (n: number) => `${n} item${n === 1 ? '' : 's'}`;
  if (minItems !== undefined) rules.push(`at least ${items(minItems)}`);
  if (maxItems !== undefined) rules.push(`at most ${items(maxItems)}`);
  if (maxProperties !== undefined) rules.push(`at most ${maxProperties} entries`);
  const keys = node['x-kubernetes-list-map-keys'] as string[] | undefined;
  if (node['x-kubernetes-list-type'] === 'map' && keys) rules.push(`a list keyed by ${keys.map(code).join(', ')}`);
  return rules;
}

function rulesOf(node: Schema, required: boolean): string[] {
  const rules = required ? ['required'] : [];
  rules.push(...valueRules(node));
  // Constraints of a list's items or a map's values that have no row of their own.
  const items = node.type === 'array' ? (node.items as Schema) : mapValues(node);
  if (items && !isObject(items)) {
    const inner = valueRules(items);
    if (inner.length > 0) rules.push(`${node.type === 'array' ? 'each item' : 'each value'}: ${inner.join(', ')}`);
  }
  for (const v of (node['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[]) {
    rules.push(`${prose(v.message)} (CEL ${code(v.rule)})`);
  }
  return rules;
}

/** A field's description, and that of its list items or map values when they have no row of their own. */
function describe(node: Schema): string {
  const own = (node.description as string | undefined) ?? '';
  const items = node.type === 'array' ? (node.items as Schema) : mapValues(node);
  const inner = items && !isObject(items) ? (items.description as string | undefined) : undefined;
  return inner ? `${own} ${node.type === 'array' ? 'Each item' : 'Each value'}: ${inner}` : own;
}

/** Every field under `node`, depth first, in the schema's order. */
function fields(node: Schema, path: string, out: Field[] = []): Field[] {
  const required = new Set((node.required ?? []) as string[]);
  for (const [name, child] of Object.entries(props(node))) {
    const childPath = `${path}.${name}`;
    out.push({
      path: childPath,
      type: typeOf(child),
      default: child.default,
      description: prose(describe(child)),
      rules: rulesOf(child, required.has(name)),
    });
    if (isObject(child)) fields(child, childPath, out);
    const items = child.type === 'array' ? (child.items as Schema) : undefined;
    if (items && isObject(items)) fields(items, `${childPath}[]`, out);
  }
  return out;
}

/** Prose from a schema, where `<loopback>` or `<namespace>` would be taken for an HTML tag. */
const prose = (text: string) => text.replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A table cell: one line, and a `|` (in patterns, CEL) that does not end the cell. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

function fieldTable(rows: Field[]): string {
  const lines = ['| Field | Type | Default | Description | Validation |', '|---|---|---|---|---|'];
  for (const f of rows) {
    const def = f.default === undefined ? '' : code(JSON.stringify(f.default));
    lines.push(`| ${[code(f.path), code(f.type), def, f.description, f.rules.join('; ')].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

const anchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');

function kindSection(def: KindDefinition): string {
  const crd = customResourceDefinition(def);
  const version = crd.spec.versions[0];
  if (!version) throw new Error(`${def.kind}: the CRD has no version`);
  const root = version.schema.openAPIV3Schema as unknown as Schema;
  const rootRules = (root['x-kubernetes-validations'] as { message: string }[]).map((v) => v.message);
  const subresources = ['status'];
  if (def.scale) {
    subresources.push(`scale (replicas ${code(def.scale.specReplicasPath)}, observed ${code(def.scale.statusReplicasPath)}, ` +
      `selector ${code(def.scale.labelSelectorPath)})`);
  }
  const columns = [
    '| Column | JSONPath | Description | Shown |',
    '|---|---|---|---|',
    ...def.printerColumns.map((c) =>
      `| ${[c.name, code(c.jsonPath), prose(c.description), c.priority ? '`-o wide`' : 'always'].map(cell).join(' | ')} |`),
  ];
  return [
    `## ${def.kind}`,
    '',
    prose(def.description),
    '',
    '| | |',
    '|---|---|',
    `| apiVersion | ${code(API_VERSION)} |`,
    `| kind | ${code(def.kind)} |`,
    `| resource, short names | ${code(def.plural)}, ${def.shortNames.map(code).join(', ')} (category ${code('fleetwright')}) |`,
    '| scope | Namespaced |',
    `| subresources | ${subresources.join('; ')} |`,
    `| metadata.name | ${rootRules.map((r) => cell(prose(r))).join('; ')} |`,
    '',
    `### ${def.kind} columns`,
    '',
    `What \`kubectl get ${def.shortNames[0] ?? def.plural}\` shows (\`-o wide\` adds the rest):`,
    '',
    columns.join('\n'),
    '',
    `### ${def.kind} spec`,
    '',
    prose((props(root).spec?.description as string | undefined) ?? ''),
    '',
    fieldTable(fields(props(root).spec as Schema, 'spec')),
    '',
    `### ${def.kind} status`,
    '',
    `${prose((props(root).status?.description as string | undefined) ?? '')} Written by Fleetwright; not for users to set.`,
    '',
    fieldTable(fields(props(root).status as Schema, 'status')),
    '',
  ].join('\n');
}

/** The whole of docs/reference.md. */
export function renderReference(defs: readonly KindDefinition[] = kinds): string {
  const contents = defs.flatMap((def) => [
    `- [${def.kind}](#${anchor(def.kind)}): ` +
    ['columns', 'spec', 'status'].map((part) => `[${part}](#${anchor(`${def.kind} ${part}`)})`).join(', '),
  ]);
  return [
    '<!-- Generated by `npm run generate` (hack/generate-reference.ts) from src/api/v1alpha1. Do not edit: change the zod schema instead. -->',
    `# API reference: ${API_VERSION}`,
    '',
    'Every field of the three kinds, from the zod schemas in `src/api/v1alpha1/`, the same schemas the CRDs in',
    '`crds/` are generated from: the types, defaults and validations below are the ones the API server applies at',
    '`kubectl apply`, and the ones the controller checks again when it reads an object. `kubectl explain',
    'browserpool.spec` (or `testrun`, `tunnel`) shows the same descriptions on a cluster. What the fields do, with',
    'examples: [the user guide](user-guide.md).',
    '',
    'Paths are written from the object\'s root: `[]` is each item of a list, `map[string]T` a map of string keys to',
    'T. "required" means the field must be set when its parent is; a field with a default is filled in by the API',
    'server when left out. A rule with CEL is a cross-field rule, checked at admission with the message shown.',
    '',
    '## Contents',
    '',
    ...contents,
    '',
    ...defs.map(kindSection),
  ].join('\n');
}

if (import.meta.main) {
  const wanted = renderReference();
  if (process.argv.includes('--check')) {
    let have = '';
    try {
      have = readFileSync(referenceFile, 'utf8');
    } catch {
      // Missing counts as drift.
    }
    if (have !== wanted) {
      console.error('docs/reference.md is out of date with src/api/v1alpha1.\nRun `npm run generate` and commit the result.');
      process.exit(1);
    }
    console.log('docs/reference.md matches src/api/v1alpha1');
  } else {
    writeFileSync(referenceFile, wanted);
    console.log('wrote docs/reference.md');
  }
}
