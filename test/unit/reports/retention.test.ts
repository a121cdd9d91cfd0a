import { describe, expect, it } from 'vitest';
import type { RunView } from '../../../src/reports/auth.ts';
import { retentionPlan } from '../../../src/reports/retention.ts';
import type { StoredObject } from '../../../src/reports/storage.ts';

const now = new Date('2026-11-23T12:00:00Z');
/** uids as the API server makes them (UUIDs): 11111111-1111-4111-8111-111111111111 and so on. */
const uuid = (n: string) => `${n.repeat(8)}-${n.repeat(4)}-4${n.repeat(3)}-8${n.repeat(3)}-${n.repeat(12)}`;
const [uid1, uid2, uid3, uid4] = [uuid('1'), uuid('2'), uuid('3'), uuid('4')];
const day = 24 * 3600_000;
const ago = (ms: number) => new Date(now.getTime() - ms);
const object = (key: string, modified: Date): StoredObject => ({ key, size: 1, modified });
const run = (namespace: string, name: string, uid: string): RunView => ({ namespace, name, uid, shards: 1, phase: 'Failed' });

describe('retention', () => {
  it('deletes what no existing TestRun owns: a deleted run, and an earlier run of a name now reused', () => {
    const stored = [
      object(`ci/kept/${uid1}/blobs/1.zip`, ago(day)),
      object(`ci/kept/${uid1}/html/index.html`, ago(day)),
      object(`ci/gone/${uid2}/blobs/1.zip`, ago(1000)),
      object(`ci/reused/${uid3}/html/index.html`, ago(day)),
      object(`ci/reused/${uid4}/blobs/1.zip`, ago(1000)),
    ];
    const runs = [run('ci', 'kept', uid1), run('ci', 'reused', uid4)];
    expect(retentionPlan(stored, runs, now, 30 * day)).toEqual([
      { namespace: 'ci', name: 'gone', uid: uid2, prefix: `ci/gone/${uid2}/`, reason: 'deleted' },
      { namespace: 'ci', name: 'reused', uid: uid3, prefix: `ci/reused/${uid3}/`, reason: 'deleted' },
    ]);
  });

  it('deletes a report whose newest object is older than --max-age, even while its run exists', () => {
    const stored = [
      object(`ci/old/${uid1}/blobs/1.zip`, ago(40 * day)),
      object(`ci/old/${uid1}/html/index.html`, ago(31 * day)),
      object(`ci/fresh/${uid2}/blobs/1.zip`, ago(40 * day)),
      object(`ci/fresh/${uid2}/html/index.html`, ago(29 * day)),
    ];
    const runs = [run('ci', 'old', uid1), run('ci', 'fresh', uid2)];
    expect(retentionPlan(stored, runs, now, 30 * day)).toEqual([
      { namespace: 'ci', name: 'old', uid: uid1, prefix: `ci/old/${uid1}/`, reason: 'expired' },
    ]);
  });

  it('leaves keys alone that are not of the <namespace>/<name>/<uid>/ shape', () => {
    const others = ['README', 'ci/x', 'logs/app/2024/01.log'].map((key) => object(key, ago(90 * day)));
    expect(retentionPlan(others, [], now, day)).toEqual([]);
  });
});
