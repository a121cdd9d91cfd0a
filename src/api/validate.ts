import type { z } from 'zod';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Parses an object read from the API server. A stored object can predate a
 * rule or a bound (CRDs evolve, and ratcheting keeps old objects), so a
 * failure is data for a condition, never an exception.
 */
export function parseResource<S extends z.ZodType>(schema: S, object: unknown): Parsed<z.output<S>> {
  const result = schema.safeParse(object);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: describeIssues(result.error.issues) };
}

/** `spec.autoscaling.minReplicas: autoscaling.minReplicas must be ...; spec.shards: Too big: ...` */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
