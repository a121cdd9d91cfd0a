import { isDeepStrictEqual } from 'node:util';
import type { KubeObject, ResourceType } from '../api/meta.ts';
import { objectPath } from './resource.ts';
import type { RestClient } from './rest.ts';

export const fieldManager = 'fleetwright';

function nameOf(obj: KubeObject): { namespace?: string; name: string } {
  return { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
}

/**
 * Writes `status` through the status subresource with server-side apply as
 * field manager `fleetwright`. Apply rather than merge patch: the controller
 * computes the whole status each pass, and apply makes the stored status
 * exactly that (a field it no longer sets is removed, where a merge patch
 * would leave it stale), needs no resourceVersion (a concurrent spec edit
 * causes no 409), and records which manager owns each field. Forced, as
 * controllers should: the status is the controller's alone. Another process
 * that writes a field of it (the report store's status.sessionsURL) passes
 * a `manager` of its own, so the controller's applies do not remove it.
 */
export function applyStatus<T extends KubeObject>(
  rest: RestClient,
  type: ResourceType,
  obj: KubeObject,
  status: Record<string, unknown>,
  manager = fieldManager,
): Promise<T> {
  const { namespace, name } = nameOf(obj);
  const body = { apiVersion: type.apiVersion, kind: type.kind, metadata: { name, namespace }, status };
  return rest.apply<T>(objectPath(type, { namespace, name }, 'status'), body, manager);
}

/**
 * applyStatus, unless the stored status already equals `status` (fields set
 * to undefined count as absent): an idle system makes no writes. Returns the
 * status written, or undefined when nothing was.
 */
export async function applyStatusIfChanged(
  rest: RestClient,
  type: ResourceType,
  obj: KubeObject & { status?: unknown },
  status: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const defined = JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
  if (isDeepStrictEqual(obj.status ?? {}, defined)) return undefined;
  await applyStatus(rest, type, obj, defined);
  return defined;
}

export const hasFinalizer = (obj: KubeObject, finalizer: string): boolean =>
  (obj.metadata.finalizers ?? []).includes(finalizer);

/**
 * Sets metadata.finalizers with the object's resourceVersion as a
 * precondition: a merge patch replaces the whole list, so without it a
 * finalizer added meanwhile by someone else would be dropped. A stale copy
 * gets 409 Conflict, which the driver retries quietly.
 */
function patchFinalizers<T extends KubeObject>(rest: RestClient, type: ResourceType, obj: KubeObject, list: string[]) {
  const patch = { metadata: { finalizers: list, resourceVersion: obj.metadata.resourceVersion } };
  return rest.mergePatch<T>(objectPath(type, nameOf(obj)), patch);
}

/** Adds `finalizer` unless present; returns the stored object, or `obj` when nothing had to change. */
export async function addFinalizer<T extends KubeObject>(
  rest: RestClient,
  type: ResourceType,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return patchFinalizers<T>(rest, type, obj, [...(obj.metadata.finalizers ?? []), finalizer]);
}

export async function removeFinalizer<T extends KubeObject>(
  rest: RestClient,
  type: ResourceType,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  const rest_ = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  return patchFinalizers<T>(rest, type, obj, rest_);
}
