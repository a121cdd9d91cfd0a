/** metav1.Condition, as every Fleetwright status carries them. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** metav1.Time is RFC 3339 with whole seconds. */
export const metaTime = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * The conditions with `update` set (apimachinery's meta.SetStatusCondition):
 * lastTransitionTime moves only when the status flips, while reason, message
 * and observedGeneration always follow the latest pass. Returns a new array
 * in the same order; a new type goes last.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === update.type);
  const existing = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...update,
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : metaTime(now),
  };
  if (existing) list[i] = next;
  else list.push(next);
  return list;
}

export const findCondition = (conditions: readonly Condition[] | undefined, type: string): Condition | undefined =>
  conditions?.find((c) => c.type === type);

export const isConditionTrue = (conditions: readonly Condition[] | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === 'True';

export const removeCondition = (conditions: readonly Condition[] | undefined, type: string): Condition[] =>
  (conditions ?? []).filter((c) => c.type !== type);
