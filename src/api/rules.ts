import type { z } from 'zod';

/**
 * A cross-field rule, stated once for both places that enforce it: the API
 * server evaluates `cel` at admission (an `x-kubernetes-validations` entry in
 * the generated CRD), and the controller evaluates `holds` when it parses an
 * object that was stored before the rule existed. test/unit/rules.test.ts and
 * the invalid-manifest corpus keep the two sides in agreement.
 */
export interface Rule<T> {
  /** CEL expression over `self`, as in x-kubernetes-validations. */
  cel: string;
  /** The same rule in TypeScript. */
  holds: (value: T) => boolean;
  /** What the user reads when it fails: name the fields and the fix. */
  message: string;
  /** JSONPath of the field to blame, relative to the object the rule sits on. */
  fieldPath?: string;
}

interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

/** Attaches rules to a schema: a zod refinement plus the CRD's CEL validation. */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.holds(value)) {
        ctx.addIssue({ code: 'custom', message: rule.message, path: pathOf(rule.fieldPath) });
      }
    }
  }) as S;
  const existing = (schema.meta()?.['x-kubernetes-validations'] as CelValidation[] | undefined) ?? [];
  const validations: CelValidation[] = rules.map(({ cel, message, fieldPath }) =>
    fieldPath ? { rule: cel, message, fieldPath } : { rule: cel, message },
  );
  return refined.meta({
    ...schema.meta(),
    'x-kubernetes-validations': [...existing, ...validations],
  }) as S;
}

/** `.spec.autoscaling.maxReplicas` -> ['spec', 'autoscaling', 'maxReplicas'] */
function pathOf(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter(Boolean) : [];
}
