import type { KubeObject, OwnerReference, ResourceType } from '../api/meta.ts';
import { groupOf, type Request } from './resource.ts';

/** The reference a child carries to the object that controls it; the garbage collector deletes it with its owner. */
export function controllerReference(owner: KubeObject): OwnerReference {
  const { apiVersion, kind, metadata } = owner;
  if (!apiVersion || !kind || !metadata.name || !metadata.uid) {
    throw new Error(
      `cannot reference ${kind ?? 'object'} ${metadata.namespace ?? ''}/${metadata.name ?? ''} as owner: ` +
      'apiVersion, kind, name and uid are all needed; pass the object as read from the API server or the cache',
    );
  }
  return { apiVersion, kind, name: metadata.name, uid: metadata.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * The owners of `obj` to reconcile, as controller-runtime's
 * EnqueueRequestForOwner with OnlyControllerOwner: the controller reference
 * whose group and kind are `ownerType`'s (any version). Owners live in the
 * child's namespace, or are cluster-scoped.
 */
export function ownerRequests(obj: KubeObject, ownerType: ResourceType): Request[] {
  const group = groupOf(ownerType.apiVersion);
  return (obj.metadata.ownerReferences ?? [])
    .filter((ref) => ref.controller === true && ref.kind === ownerType.kind && groupOf(ref.apiVersion) === group)
    .map((ref) => ({ namespace: ownerType.namespaced ? obj.metadata.namespace ?? '' : '', name: ref.name }));
}

export const isControlledBy = (obj: KubeObject, owner: KubeObject): boolean =>
  (obj.metadata.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === owner.metadata.uid);
