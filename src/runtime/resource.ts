/**
 * What the runtime knows about a kind: enough to build its REST paths. The
 * runtime is generic over kinds; controllers pass descriptors like
 * `{ apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true }`.
 */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  deletionTimestamp?: string;
  [field: string]: unknown;
}

/** Any object as the API server sends it: plain JSON, dates as strings. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

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
