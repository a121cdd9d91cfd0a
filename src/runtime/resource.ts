import type { KubeObject, ResourceType } from '../api/meta.ts';

/** A reconcile request: controller-runtime's `reconcile.Request`, plus its `namespace/name` key. */
export interface Request {
  namespace: string;
  name: string;
}

/** `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export const keyOf = (r: { namespace?: string; name: string }): string =>
  r.namespace ? `${r.namespace}/${r.name}` : r.name;

export const objectKey = (obj: KubeObject): string =>
  keyOf({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' });

export function parseKey(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The collection path: `/api/v1/namespaces/ns/configmaps`; all namespaces when `namespace` is empty. */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const root = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${type.plural}`;
}

export function objectPath(type: ResourceType, r: { namespace?: string; name: string }, subresource?: string): string {
  const base = `${collectionPath(type, r.namespace)}/${encodeURIComponent(r.name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

/** The API group of an apiVersion (`apps/v1` -> `apps`, `v1` -> ``): owner references match by group and kind. */
export const groupOf = (apiVersion: string): string =>
  apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
