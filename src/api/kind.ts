import { z } from 'zod';
import { type Rule, withRules } from './rules.ts';

export const GROUP = 'fleetwright.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'fleetwright';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Everything the CRD says about a kind, next to the schemas that define its fields. */
export interface KindDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: Spec;
  status: Status;
  /** Longest metadata.name, so names of child objects and label values stay within 63 characters. */
  maxNameLength: number;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

/** Object metadata as the controller reads it; the API server owns its validation. */
export const ObjectMeta = z
  .object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    deletionTimestamp: z.union([z.string(), z.date()]).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .loose();

/**
 * The whole object, as stored: the spec is validated with its defaults and
 * rules; the status is the controller's own and only type-checked loosely.
 */
export function resourceSchema<Spec extends z.ZodType, Status extends z.ZodType>(
  def: KindDefinition<Spec, Status>,
) {
  return withRules(
    z.object({
      apiVersion: z.literal(API_VERSION),
      kind: z.literal(def.kind),
      metadata: ObjectMeta,
      spec: def.spec,
      status: def.status.optional(),
    }),
    [nameRule(def)],
  );
}

/** The one rule on the object's root, checked at admission and by the controller. */
export function nameRule(def: KindDefinition): Rule<{ metadata: { name: string } }> {
  return {
    cel: `self.metadata.name.size() <= ${def.maxNameLength}`,
    holds: (o) => o.metadata.name.length <= def.maxNameLength,
    message: `metadata.name must be at most ${def.maxNameLength} characters: the names of the ${def.kind}'s pods and labels are derived from it`,
    fieldPath: '.metadata.name',
  };
}
