import { describe, expect, it } from 'vitest';
import type { PodObject } from '../../../src/api/builtin.ts';
import { UNSEEN_FOR_AT_MOST_MS, UnseenPods } from '../../../src/controllers/browserpool/unseen-pods.ts';

const pod = (name: string, extra: Partial<PodObject['metadata']> = {}): PodObject => ({
  metadata: { name, resourceVersion: '1', ...extra },
});
const names = (pods: PodObject[]) => pods.map((p) => p.metadata.name).sort();
const at = (ms: number) => new Date(Date.parse('2026-12-07T04:00:00Z') + ms);

describe('UnseenPods', () => {
  it('shows the pods a pass created until the cache has them, then the cache\'s', () => {
    const unseen = new UnseenPods();
    unseen.created('pool-uid', pod('p-a'), at(0));
    unseen.created('pool-uid', pod('p-b'), at(0));
    // The next pass, with only one of them in the cache: both are there, so none is created again.
    expect(names(unseen.overlay('pool-uid', [pod('p-a', { resourceVersion: '2' })], at(10)))).toEqual(['p-a', 'p-b']);
    expect(unseen.overlay('pool-uid', [pod('p-a', { resourceVersion: '2' })], at(10))[0]?.metadata.resourceVersion).toBe('2');
    // Once the cache has both, the cache alone: a pod deleted by someone else afterwards is gone for the pass too.
    expect(names(unseen.overlay('pool-uid', [pod('p-a'), pod('p-b')], at(20)))).toEqual(['p-a', 'p-b']);
    expect(names(unseen.overlay('pool-uid', [pod('p-a')], at(30)))).toEqual(['p-a']);
  });

  it('shows the pods a pass deleted as terminating until the cache does, or drops them', () => {
    const unseen = new UnseenPods();
    unseen.deleted('pool-uid', pod('p-a'), at(0));
    unseen.deleted('pool-uid', pod('p-b'), at(0));
    const stale = unseen.overlay('pool-uid', [pod('p-a'), pod('p-b'), pod('p-c')], at(10));
    expect(stale.map((p) => [p.metadata.name, p.metadata.deletionTimestamp])).toEqual([
      ['p-a', at(0).toISOString()], ['p-b', at(0).toISOString()], ['p-c', undefined],
    ]);
    // The cache shows one terminating and the other gone: both writes are seen, and the cache speaks alone.
    const terminating = pod('p-a', { deletionTimestamp: at(5).toISOString() });
    expect(unseen.overlay('pool-uid', [terminating, pod('p-c')], at(20))).toEqual([terminating, pod('p-c')]);
    expect(unseen.overlay('pool-uid', [pod('p-a'), pod('p-c')], at(30))).toEqual([pod('p-a'), pod('p-c')]);
  });

  it('takes a pod created then deleted before the cache saw either for gone', () => {
    const unseen = new UnseenPods();
    unseen.created('pool-uid', pod('p-a'), at(0));
    unseen.deleted('pool-uid', pod('p-a'), at(5));
    expect(unseen.overlay('pool-uid', [], at(10))).toEqual([]);
  });

  it('forgets a write the cache never shows, and keeps pools apart', () => {
    const unseen = new UnseenPods();
    unseen.created('pool-uid', pod('p-a'), at(0));
    expect(names(unseen.overlay('other-uid', [], at(10)))).toEqual([]);
    expect(names(unseen.overlay('pool-uid', [], at(UNSEEN_FOR_AT_MOST_MS)))).toEqual(['p-a']);
    expect(unseen.overlay('pool-uid', [], at(UNSEEN_FOR_AT_MOST_MS + 1))).toEqual([]);
    expect(unseen.overlay('pool-uid', [], at(0))).toEqual([]);
  });
});
