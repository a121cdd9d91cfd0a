import type { KubeObject } from '../api/meta.ts';
import { objectKey } from './resource.ts';

/** What a controller reads: a frozen snapshot per object, never a live API call (client-go's Indexer, read side). */
export interface Reader<T extends KubeObject = KubeObject> {
  /** By `namespace/name` (or `name` when cluster-scoped). */
  get(key: string): T | undefined;
  /** Every object, or those of one namespace, optionally with all the given labels. */
  list(options?: { namespace?: string; labels?: Record<string, string> }): T[];
  /** Objects with an ownerReference to this uid (a BrowserPool's Pods). */
  ownedBy(ownerUid: string): T[];
  readonly size: number;
}

type Index = Map<string, Set<string>>;

function addTo(index: Index, value: string, key: string): void {
  let keys = index.get(value);
  if (!keys) index.set(value, (keys = new Set()));
  keys.add(key);
}

function removeFrom(index: Index, value: string, key: string): void {
  const keys = index.get(value);
  if (!keys) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const indexValues = (obj: KubeObject) => ({
  namespace: [obj.metadata.namespace ?? ''],
  owner: (obj.metadata.ownerReferences ?? []).map((r) => r.uid),
  label: Object.entries(obj.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`),
});

type IndexName = keyof ReturnType<typeof indexValues>;

/**
 * The informer's in-memory copy of one resource type, indexed by namespace,
 * owner uid and label. Objects are deep-frozen: a reconciler that mutates
 * what it read would corrupt every other reader (controller-runtime warns
 * about the same with its cache; here it throws).
 */
export class Store<T extends KubeObject = KubeObject> implements Reader<T> {
  private readonly objects = new Map<string, T>();
  private readonly indexes: Record<IndexName, Index> = { namespace: new Map(), owner: new Map(), label: new Map() };

  get size(): number {
    return this.objects.size;
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  list(options: { namespace?: string; labels?: Record<string, string> } = {}): T[] {
    const candidates: Set<string>[] = [];
    if (options.namespace !== undefined) candidates.push(this.indexes.namespace.get(options.namespace) ?? new Set());
    for (const [k, v] of Object.entries(options.labels ?? {})) {
      candidates.push(this.indexes.label.get(`${k}=${v}`) ?? new Set());
    }
    if (candidates.length === 0) return [...this.objects.values()];
    candidates.sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = candidates as [Set<string>, ...Set<string>[]];
    return [...smallest].filter((key) => rest.every((s) => s.has(key))).map((key) => this.objects.get(key) as T);
  }

  ownedBy(ownerUid: string): T[] {
    return [...(this.indexes.owner.get(ownerUid) ?? [])].map((key) => this.objects.get(key) as T);
  }

  /** Stores `obj` and returns the object it replaced, if any. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.objects.get(key);
    if (old) this.unindex(key, old);
    this.objects.set(key, deepFreeze(obj));
    for (const [name, values] of Object.entries(indexValues(obj)) as [IndexName, string[]][]) {
      for (const v of values) addTo(this.indexes[name], v, key);
    }
    return old;
  }

  /** Removes the object with `obj`'s key and returns what was stored. */
  remove(obj: KubeObject): T | undefined {
    const key = objectKey(obj);
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.objects.delete(key);
    return old;
  }

  private unindex(key: string, obj: T): void {
    for (const [name, values] of Object.entries(indexValues(obj)) as [IndexName, string[]][]) {
      for (const v of values) removeFrom(this.indexes[name], v, key);
    }
  }
}
