import { describe, expect, it } from 'vitest';
import type { RunView } from '../../../src/reports/auth.ts';
import { retentionPlan } from '../../../src/reports/retention.ts';
import type { StoredObject } from '../../../src/reports/storage.ts';

const now = new Date('2026-11-23T12:00:00Z');
const day = 24 * 3600_000;
const ago = (ms: number) => new Date(now.getTime() - ms);
const object = (key: string, modified: Date): StoredObject => ({ key, size: 1, modified });
const run = (namespace: string, name: string, uid: string): RunView => ({ namespace, name, uid, shards: 1, phase: 'Failed' });

describe('retention', () => {
  it('deletes what no existing TestRun owns: a deleted run, and an earlier run of a name now reused', () => {
    const stored = [
      object('ci/kept/uid-1/blobs/1.zip', ago(day)),
      object('ci/kept/uid-1/html/index.html', ago(day)),
      object('ci/gone/uid-2/blobs/1.zip', ago(1000)),
      object('ci/reused/uid-3/html/index.html', ago(day)),
      object('ci/reused/uid-4/blobs/1.zip', ago(1000)),
    ];
    const runs = [run('ci', 'kept', 'uid-1'), run('ci', 'reused', 'uid-4')];
    expect(retentionPlan(stored, runs, now, 30 * day)).toEqual([
      { namespace: 'ci', name: 'gone', uid: 'uid-2', prefix: 'ci/gone/uid-2/', reason: 'deleted' },
      { namespace: 'ci', name: 'reused', uid: 'uid-3', prefix: 'ci/reused/uid-3/', reason: 'deleted' },
    ]);
  });

  it('deletes a report whose newest object is older than --max-age, even while its run exists', () => {
    const stored = [
      object('ci/old/uid-1/blobs/1.zip', ago(40 * day)),
      object('ci/old/uid-1/html/index.html', ago(31 * day)),
      object('ci/fresh/uid-2/blobs/1.zip', ago(40 * day)),
      object('ci/fresh/uid-2/html/index.html', ago(29 * day)),
    ];
    const runs = [run('ci', 'old', 'uid-1'), run('ci', 'fresh', 'uid-2')];
    expect(retentionPlan(stored, runs, now, 30 * day)).toEqual([
      { namespace: 'ci', name: 'old', uid: 'uid-1', prefix: 'ci/old/uid-1/', reason: 'expired' },
    ]);
  });

  it('leaves keys alone that are not of the <namespace>/<name>/<uid>/ shape', () => {
    expect(retentionPlan([object('README', ago(90 * day)), object('ci/x', ago(90 * day))], [], now, day)).toEqual([]);
  });
});
