import { describe, expect, it } from 'vitest';
import type { RunView } from '../../../src/reports/auth.ts';
import { mergeAction } from '../../../src/reports/merge.ts';
import type { StoredObject } from '../../../src/reports/storage.ts';

const uid = '22222222-2222-4222-8222-222222222222';
/** The uid of an earlier run of the same name. */
const earlier = '11111111-1111-4111-8111-111111111111';
const url = 'https://reports.example.com/reports/ci/checkout/';
const run: RunView = { namespace: 'ci', name: 'checkout', uid: uid, shards: 2, phase: 'Failed' };
const at = new Date('2026-11-23T12:00:00Z');
const stored = (...keys: string[]): StoredObject[] => keys.map((key) => ({ key, size: 1, modified: at }));

describe('when a run is merged', () => {
  it('once it has finished and some shard uploaded a report, with every uploaded blob', () => {
    const blobs = stored(`ci/checkout/${uid}/blobs/2.zip`, `ci/checkout/${uid}/blobs/1.zip`);
    expect(mergeAction(run, blobs, url)).toEqual({
      kind: 'merge',
      blobs: [`ci/checkout/${uid}/blobs/1.zip`, `ci/checkout/${uid}/blobs/2.zip`],
    });
    // A part of an earlier merge that did not get as far as index.html is merged again.
    expect(mergeAction(run, [...blobs, ...stored(`ci/checkout/${uid}/html/data/a.zip`)], url)).toMatchObject({ kind: 'merge' });
  });

  it('not while it runs, nor when no shard uploaded anything', () => {
    const blobs = stored(`ci/checkout/${uid}/blobs/1.zip`);
    expect(mergeAction({ ...run, phase: 'Running' }, blobs, url)).toMatchObject({ kind: 'none' });
    expect(mergeAction({ ...run, phase: undefined }, blobs, url)).toMatchObject({ kind: 'none' });
    expect(mergeAction(run, [], url)).toEqual({ kind: 'none', why: 'no shard uploaded a report' });
    // Blobs of an earlier run of the same name are not this run's.
    expect(mergeAction(run, stored(`ci/checkout/${earlier}/blobs/1.zip`), url)).toMatchObject({ kind: 'none' });
  });

  it('not again once index.html is stored: then only status.reportURL is written, if it is not yet', () => {
    const merged = stored(`ci/checkout/${uid}/blobs/1.zip`, `ci/checkout/${uid}/html/index.html`);
    expect(mergeAction(run, merged, url)).toEqual({ kind: 'publish' });
    expect(mergeAction({ ...run, reportURL: url }, merged, url)).toEqual({ kind: 'none', why: 'merged and published' });
    expect(mergeAction({ ...run, reportURL: 'http://old/reports/ci/checkout/' }, merged, url)).toEqual({ kind: 'publish' });
  });
});
