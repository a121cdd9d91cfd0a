// Objects a controller keeps as it wants them (a pool's NetworkPolicy and
// PodDisruptionBudget): written with server-side apply only when the cache
// holds something else, so that an idle controller makes no writes.
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, ResourceType } from '../api/meta.ts';
import { keyOf, objectPath } from '../runtime/resource.ts';
import type { RestClient } from '../runtime/rest.ts';
import { fieldManager } from '../runtime/status.ts';
import type { Reader } from '../runtime/store.ts';

/** Whether the stored object already is `desired`: same spec, labels and owners. */
export function matchesStored(stored: KubeObject | undefined, desired: KubeObject): boolean {
  if (!stored) return false;
  const labels = desired.metadata.labels ?? {};
  return isDeepStrictEqual(stored.spec, desired.spec) &&
    Object.entries(labels).every(([k, v]) => stored.metadata.labels?.[k] === v) &&
    isDeepStrictEqual(stored.metadata.ownerReferences, desired.metadata.ownerReferences);
}

/**
 * Server-side applies `desired` unless the cache holds it as it is. Apply creates or updates in one call and
 * takes the fields back from anyone who edited them. Returns whether it wrote.
 */
export async function ensureApplied(rest: RestClient, cache: Reader, type: ResourceType, desired: KubeObject) {
  const ref = { namespace: desired.metadata.namespace ?? '', name: desired.metadata.name ?? '' };
  if (matchesStored(cache.get(keyOf(ref)), desired)) return false;
  await rest.apply(objectPath(type, ref), desired, fieldManager);
  return true;
}
