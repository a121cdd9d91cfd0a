import { describe, expect, it } from 'vitest';
import { authorizeRead, authorizeUpload, type RunView, type TokenSecretView } from '../../../src/reports/auth.ts';

const run: RunView = { namespace: 'ci', name: 'checkout', uid: 'uid-2', shards: 2, phase: 'Running' };
const secret: TokenSecretView = {
  namespace: 'ci',
  name: 'checkout-report',
  ownerLabel: 'checkout',
  ownerUids: ['uid-2'],
  token: 'run-token',
};
const upload = (over: Partial<Parameters<typeof authorizeUpload>[0]> = {}) =>
  authorizeUpload({
    namespace: 'ci',
    name: 'checkout',
    index: 1,
    run,
    token: 'run-token',
    secret,
    tokenOfOtherRun: (t) => t === 'other-run-token',
    ...over,
  });

describe('who may upload a shard\'s report', () => {
  it('the run\'s own token, while the run has not finished, for shards 1..spec.shards', () => {
    expect(upload()).toEqual({ ok: true, run });
    expect(upload({ index: 2 })).toMatchObject({ ok: true });
    expect(upload({ run: { ...run, phase: undefined } })).toMatchObject({ ok: true });
    expect(upload({ run: { ...run, phase: 'Queued' } })).toMatchObject({ ok: true });
  });

  it('404 for a run that does not exist, whatever the token', () => {
    expect(upload({ run: undefined })).toMatchObject({ ok: false, status: 404, failure: 'not_found' });
  });

  it('401 without a token or with a wrong one, and says where the token is', () => {
    expect(upload({ token: undefined })).toMatchObject({ ok: false, status: 401, failure: 'unauthorized' });
    expect(upload({ token: undefined })).toMatchObject({ message: expect.stringContaining('Secret checkout-report, key token') });
    expect(upload({ token: 'guess' })).toMatchObject({ ok: false, status: 401, failure: 'unauthorized' });
    expect(upload({ token: 'run-token'.slice(0, 5) })).toMatchObject({ status: 401 });
  });

  it('403 for the token of another run', () => {
    expect(upload({ token: 'other-run-token' })).toMatchObject({ ok: false, status: 403, failure: 'forbidden' });
  });

  it('takes no token from a Secret that is not this incarnation of the run\'s own', () => {
    // Left from a deleted run of the same name: owned by the old uid.
    expect(upload({ secret: { ...secret, ownerUids: ['uid-1'] } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, ownerUids: [] } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, ownerLabel: 'other' } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, ownerLabel: undefined } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, name: 'checkout-token' } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, namespace: 'other' } })).toMatchObject({ status: 401 });
    expect(upload({ secret: { ...secret, token: undefined } })).toMatchObject({ status: 401 });
    expect(upload({ secret: undefined })).toMatchObject({ status: 401 });
  });

  it('409 once the run has finished: its token is no longer valid', () => {
    for (const phase of ['Succeeded', 'Failed', 'Error']) {
      const decision = upload({ run: { ...run, phase } });
      expect(decision).toMatchObject({ ok: false, status: 409, failure: 'finished' });
      expect(decision).toMatchObject({ message: `TestRun ci/checkout has finished (${phase}): its upload token is no longer valid` });
    }
    // A wrong token hears 401 first: a stranger learns nothing of the run's phase.
    expect(upload({ run: { ...run, phase: 'Failed' }, token: 'guess' })).toMatchObject({ status: 401 });
  });

  it('400 for a shard past spec.shards', () => {
    expect(upload({ index: 3 })).toMatchObject({ ok: false, status: 400, failure: 'bad_request' });
    expect(upload({ index: 3 })).toMatchObject({ message: 'TestRun ci/checkout has 2 shards: shard 3 does not exist' });
  });
});

describe('who may read a namespace\'s reports', () => {
  const read = (over: Partial<Parameters<typeof authorizeRead>[0]>) => authorizeRead({ namespace: 'ci', readerToken: 'read', ...over });

  it('the read token as a bearer, in ?token= (then a cookie is set) or in the cookie', () => {
    expect(read({ bearer: 'read' })).toEqual({ ok: true, setCookie: false });
    expect(read({ query: 'read' })).toEqual({ ok: true, setCookie: true });
    expect(read({ cookie: 'read' })).toEqual({ ok: true, setCookie: false });
    expect(read({ bearer: 'read', query: 'read' })).toEqual({ ok: true, setCookie: false });
  });

  it('nobody else: no token, a wrong one, or any token when the namespace has no read Secret', () => {
    expect(read({})).toMatchObject({ ok: false, status: 401, message: expect.stringContaining('Secret fleetwright-reports') });
    expect(read({ bearer: 'wrong' })).toMatchObject({ ok: false, status: 401 });
    expect(read({ query: 'wrong', cookie: 'read' })).toMatchObject({ ok: false, status: 401 });
    expect(read({ query: '' })).toMatchObject({ ok: false, status: 401 });
    expect(read({ readerToken: undefined, bearer: 'read' })).toMatchObject({ ok: false, status: 401 });
    // Missing Secret and wrong token sound the same.
    expect(read({ readerToken: undefined, bearer: 'x' })).toEqual(read({ bearer: 'x' }));
  });
});
