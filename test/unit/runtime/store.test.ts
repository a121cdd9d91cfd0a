import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { Store } from '../../../src/runtime/store.ts';

const obj = (namespace: string, name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, resourceVersion: '1', ...extra },
});

describe('Store', () => {
  it('finds objects by key, namespace, label and owner', () => {
    const s = new Store();
    s.upsert(obj('a', 'p1', { labels: { app: 'x', tier: 'web' }, ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'o', uid: 'u1' }] }));
    s.upsert(obj('a', 'p2', { labels: { app: 'x' } }));
    s.upsert(obj('b', 'p3', { labels: { app: 'x', tier: 'web' } }));
    expect(s.get('a/p1')?.metadata.name).toBe('p1');
    expect(s.size).toBe(3);
    const names = (list: KubeObject[]) => list.map((o) => o.metadata.name).sort();
    expect(names(s.list({ namespace: 'a' }))).toEqual(['p1', 'p2']);
    expect(names(s.list({ labels: { tier: 'web' } }))).toEqual(['p1', 'p3']);
    expect(names(s.list({ namespace: 'a', labels: { app: 'x', tier: 'web' } }))).toEqual(['p1']);
    expect(names(s.list({ labels: { app: 'nope' } }))).toEqual([]);
    expect(names(s.ownedBy('u1'))).toEqual(['p1']);
    expect(names(s.list())).toEqual(['p1', 'p2', 'p3']);
  });

  it('re-indexes an object whose labels and owners changed, and forgets it on removal', () => {
    const s = new Store();
    s.upsert(obj('a', 'p1', { labels: { state: 'idle' }, ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'o', uid: 'u1' }] }));
    const old = s.upsert(obj('a', 'p1', { resourceVersion: '2', labels: { state: 'leased' } }));
    expect(old?.metadata.resourceVersion).toBe('1');
    expect(s.list({ labels: { state: 'idle' } })).toEqual([]);
    expect(s.list({ labels: { state: 'leased' } })).toHaveLength(1);
    expect(s.ownedBy('u1')).toEqual([]);
    expect(s.remove(obj('a', 'p1'))?.metadata.resourceVersion).toBe('2');
    expect(s.list({ namespace: 'a' })).toEqual([]);
    expect(s.remove(obj('a', 'p1'))).toBeUndefined();
  });

  it('hands out read-only objects: mutating one throws instead of corrupting the cache', () => {
    const s = new Store();
    s.upsert(obj('a', 'p1', { labels: { app: 'x' } }));
    const cached = s.get('a/p1') as KubeObject;
    expect(() => {
      (cached.metadata.labels as Record<string, string>).app = 'y';
    }).toThrow(TypeError);
  });
});
