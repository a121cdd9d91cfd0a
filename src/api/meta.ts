// The Kubernetes object model as the API server sends it (apimachinery's
// meta/v1, small): what every kind shares, ours and the built-in ones. The
// runtime is generic over kinds and reads objects through these types; the
// typed handles of kinds (objects.ts, builtin.ts) extend KubeObject.

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
  creationTimestamp?: string;
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

/** metav1.MicroTime, which Lease and Event times take: RFC 3339 with exactly six fractional digits. */
export const microTime = (date: Date): string => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
