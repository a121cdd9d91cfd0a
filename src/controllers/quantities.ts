import type { z } from 'zod';
import type { ResourceRequirements } from '../api/v1alpha1/index.ts';

/** Our schemas take quantities as int-or-string; a pod spec carries strings. */
export function podResources(resources: z.infer<typeof ResourceRequirements>) {
  const asStrings = (list?: Record<string, string | number>) =>
    list && Object.fromEntries(Object.entries(list).map(([name, value]) => [name, String(value)]));
  return { requests: asStrings(resources.requests), limits: asStrings(resources.limits) };
}
