import { describe, expect, it } from 'vitest';
import { type Tunnel, TunnelResource } from '../../../src/api/v1alpha1/index.ts';
import {
  aggregateConnections,
  type Connections,
  foldedEverywhere,
  type PathClaim,
  pathHolder,
  type PoolView,
  recordingCondition,
  type ReplicaCounts,
  servedVersions,
  type TunnelObservation,
  tunnelReadiness,
  tunnelStatus,
  tunnelUrl,
} from '../../../src/controllers/tunnel/plan.ts';

const now = new Date('2026-11-23T12:00:00Z');

const live = (identity: string, active: number, accepted: number): ReplicaCounts =>
  ({ identity, alive: true, counts: { active, accepted } });
const dead = (identity: string, active: number, accepted: number): ReplicaCounts =>
  ({ identity, alive: false, counts: { active, accepted } });

/** Runs passes one after another, each reading the status the one before wrote. */
function passes(...reports: ReplicaCounts[][]): Connections {
  let status: Connections = { gateways: [], activeConnections: 0, totalConnections: 0 };
  for (const r of reports) status = aggregateConnections(status, r);
  return status;
}

describe('aggregateConnections', () => {
  it('counts a new replica from zero', () => {
    expect(aggregateConnections({}, [live('b', 2, 5), live('a', 1, 3)])).toEqual({
      gateways: [{ identity: 'a', active: 1, accepted: 3 }, { identity: 'b', active: 2, accepted: 5 }],
      activeConnections: 3,
      totalConnections: 8,
    });
  });

  it('adds only what each replica accepted since it was last recorded', () => {
    const previous = { gateways: [{ identity: 'a', active: 1, accepted: 3 }], totalConnections: 10 };
    expect(aggregateConnections(previous, [live('a', 4, 7)])).toMatchObject({ activeConnections: 4, totalConnections: 14 });
  });

  it('counts nothing twice over repeated passes with the same reports', () => {
    const reports = [live('a', 1, 3), live('b', 0, 2), dead('c', 5, 9)];
    const once = aggregateConnections({ gateways: [{ identity: 'c', active: 5, accepted: 6 }], totalConnections: 6 }, reports);
    expect(once.totalConnections).toBe(6 + 3 + 2 + 3);
    expect(aggregateConnections(once, reports)).toEqual(once);
    expect(aggregateConnections(aggregateConnections(once, reports), reports)).toEqual(once);
  });

  it('counts a restarted replica (a new identity) from zero and forgets the old one', () => {
    const status = passes([live('gw-1', 2, 40)], [live('gw-2', 1, 3)]);
    expect(status).toEqual({ gateways: [{ identity: 'gw-2', active: 1, accepted: 3 }], activeConnections: 1, totalConnections: 43 });
  });

  it('adds a dead replica\'s last accepted connections once, and no longer its open ones', () => {
    const status = passes([live('a', 1, 3), live('b', 2, 4)], [live('a', 1, 3), dead('b', 3, 6)]);
    expect(status).toEqual({ gateways: [{ identity: 'a', active: 1, accepted: 3 }], activeConnections: 1, totalConnections: 9 });
    expect(aggregateConnections(status, [live('a', 1, 3), dead('b', 3, 6)])).toEqual(status);
    expect(aggregateConnections(status, [live('a', 1, 3)])).toEqual(status);
  });

  it('never counts backwards', () => {
    const previous = { gateways: [{ identity: 'a', active: 1, accepted: 9 }], totalConnections: 9 };
    expect(aggregateConnections(previous, [live('a', 0, 4)]).totalConnections).toBe(9);
  });
});

describe('foldedEverywhere', () => {
  it('holds once no Tunnel the replica reported records it any more', () => {
    const recording = { gateways: [{ identity: 'gw-1', active: 0, accepted: 2 }] };
    expect(foldedEverywhere('gw-1', [recording, {}])).toBe(false);
    expect(foldedEverywhere('gw-1', [{ gateways: [{ identity: 'gw-2', active: 0, accepted: 1 }] }, undefined, {}])).toBe(true);
  });
});

describe('pathHolder', () => {
  const claim = (key: string, path: string, creationTimestamp: string): PathClaim => ({ key, path, creationTimestamp });

  it('leaves a path to the Tunnel created first', () => {
    const older = claim('b/x', '/shared', '2026-11-23T10:00:00Z');
    const newer = claim('a/y', '/shared', '2026-11-23T11:00:00Z');
    expect(pathHolder(newer, [older, newer])).toBe(older);
    expect(pathHolder(older, [older, newer])).toBeUndefined();
  });

  it('breaks a tie of creation times by namespace/name', () => {
    const a = claim('a/t', '/p', '2026-11-23T10:00:00Z');
    const b = claim('b/t', '/p', '2026-11-23T10:00:00Z');
    expect(pathHolder(b, [a, b])).toBe(a);
    expect(pathHolder(a, [b])).toBeUndefined();
  });

  it('ignores Tunnels of other paths', () => {
    expect(pathHolder(claim('b/t', '/p', '2026-11-23T11:00:00Z'), [claim('a/t', '/q', '2026-11-23T10:00:00Z')])).toBeUndefined();
  });
});

function tunnel(spec: object, name = 'remote', namespace = 'team'): Tunnel {
  return TunnelResource.parse({
    apiVersion: 'fleetwright.dev/v1alpha1',
    kind: 'Tunnel',
    metadata: { name, namespace, generation: 2, creationTimestamp: '2026-11-23T10:00:00Z' },
    spec: { poolRefs: [{ name: 'chromium' }], auth: { secretRef: { name: 'token' } }, ...spec },
  });
}

const pools = (entries: Record<string, PoolView>) => new Map(Object.entries(entries));

function observation(extra: Partial<TunnelObservation> = {}): TunnelObservation {
  return {
    tunnel: tunnel({}),
    pools: pools({ chromium: { playwrightVersion: '1.56.1' } }),
    secret: { data: { token: 'c2VjcmV0' } },
    liveReplicas: 2,
    url: 'wss://browsers.example.com/tunnels/team/remote',
    ...extra,
  };
}

describe('tunnelReadiness', () => {
  it('is Serving, with the URL and the number of live replicas, when nothing is missing', () => {
    expect(tunnelReadiness(observation())).toEqual({
      status: 'True',
      reason: 'Serving',
      message: 'serving at wss://browsers.example.com/tunnels/team/remote through 2 gateway replica(s)',
    });
  });

  it('names every missing pool', () => {
    const o = observation({ tunnel: tunnel({ poolRefs: [{ name: 'a' }, { name: 'chromium' }, { name: 'b' }] }) });
    expect(tunnelReadiness(o)).toEqual({
      status: 'False',
      reason: 'PoolNotFound',
      message: 'BrowserPools a, b do not exist in namespace team: create them or fix spec.poolRefs',
    });
  });

  it('is not held back by a pool that has not reported its Playwright version yet', () => {
    expect(tunnelReadiness(observation({ pools: pools({ chromium: {} }) })).reason).toBe('Serving');
  });

  it('names the missing Secret, and the key it lacks', () => {
    expect(tunnelReadiness(observation({ secret: undefined }))).toMatchObject({
      reason: 'SecretNotFound',
      message: expect.stringMatching(/^Secret token does not exist in namespace team: create it .* under key token/),
    });
    const keyed = observation({ tunnel: tunnel({ auth: { secretRef: { name: 'token', key: 'bearer' } } }) });
    expect(tunnelReadiness(keyed)).toMatchObject({
      reason: 'SecretKeyMissing',
      message: 'Secret token has no token under key bearer (missing or empty): add it, or fix spec.auth.secretRef.key',
    });
    expect(tunnelReadiness(observation({ secret: { data: { token: '' } } })).reason).toBe('SecretKeyMissing');
  });

  it('says which Tunnel keeps a path both claim', () => {
    const o = observation({ tunnel: tunnel({ path: '/shared' }), pathHolder: 'other/first' });
    expect(tunnelReadiness(o)).toMatchObject({
      reason: 'PathConflict',
      message: 'path /shared is also claimed by Tunnel other/first, which was created first and keeps it: ' +
        'set a different spec.path on this one',
    });
  });

  it('asks whether the gateway runs when no live replica serves the Tunnel', () => {
    expect(tunnelReadiness(observation({ liveReplicas: 0 }))).toEqual({
      status: 'False',
      reason: 'NoGateway',
      message: 'no gateway replica serves this Tunnel: is the fleetwright gateway running?',
    });
  });

  it('reports the first problem: pools, then the Secret, then the path, then the gateway', () => {
    const everything = { pools: pools({}), secret: undefined, pathHolder: 'other/first', liveReplicas: 0 };
    expect(tunnelReadiness(observation(everything)).reason).toBe('PoolNotFound');
    expect(tunnelReadiness(observation({ ...everything, pools: observation().pools })).reason).toBe('SecretNotFound');
    expect(tunnelReadiness(observation({ pathHolder: 'other/first', liveReplicas: 0 })).reason).toBe('PathConflict');
  });
});

describe('servedVersions', () => {
  it('lists the major.minor of each pool once, in poolRefs order, skipping pools without a version', () => {
    const t = tunnel({ poolRefs: [{ name: 'new' }, { name: 'old' }, { name: 'quiet' }, { name: 'also-new' }, { name: 'gone' }] });
    const p = pools({
      'new': { playwrightVersion: '1.57.0' },
      'old': { playwrightVersion: '1.56.1' },
      'quiet': {},
      'also-new': { playwrightVersion: '1.57.2' },
    });
    expect(servedVersions(t, p)).toEqual(['1.57', '1.56']);
  });

  it('lists every version a pool serves, each pool\'s default first', () => {
    const t = tunnel({ poolRefs: [{ name: 'multi' }, { name: 'old' }] });
    const p = pools({
      multi: { playwrightVersion: '1.65.1', playwrightVersions: ['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0'] },
      old: { playwrightVersion: '1.62.0' },
    });
    expect(servedVersions(t, p)).toEqual(['1.65', '1.66', '1.64', '1.63', '1.62']);
  });
});

describe('tunnelUrl', () => {
  it('joins the gateway URL and the path, or gives the path alone', () => {
    expect(tunnelUrl('https://gw.example.com/', '/tunnels/a/b')).toBe('https://gw.example.com/tunnels/a/b');
    expect(tunnelUrl(undefined, '/tunnels/a/b')).toBe('/tunnels/a/b');
  });
});

describe('tunnelStatus', () => {
  it('writes URL, versions, counts and Ready with the observed generation', () => {
    const { status } = tunnelStatus({
      previous: undefined,
      generation: 2,
      observed: observation(),
      replicas: [live('gw-1', 1, 4)],
      sessions: { store: false },
      now,
    });
    expect(status).toEqual({
      url: 'wss://browsers.example.com/tunnels/team/remote',
      versions: ['1.56'],
      activeConnections: 1,
      totalConnections: 4,
      gateways: [{ identity: 'gw-1', active: 1, accepted: 4 }],
      observedGeneration: 2,
      conditions: [{
        type: 'Ready',
        status: 'True',
        reason: 'Serving',
        message: expect.stringContaining('serving at') as string,
        observedGeneration: 2,
        lastTransitionTime: '2026-11-23T12:00:00Z',
      }],
    });
  });

  it('says what is wrong with an invalid spec, and still follows the replicas\' counts', () => {
    const { status, ready } = tunnelStatus({
      previous: { gateways: [{ identity: 'gw-1', active: 1, accepted: 4 }], totalConnections: 4 },
      generation: 3,
      observed: { invalid: 'spec.poolRefs: Too small: expected array to have >=1 items' },
      replicas: [live('gw-1', 0, 5)],
      sessions: { store: false },
      now,
    });
    expect(ready).toEqual({
      status: 'False',
      reason: 'InvalidSpec',
      message: 'spec.poolRefs: Too small: expected array to have >=1 items: fix the Tunnel with kubectl edit or apply',
    });
    expect(status).toMatchObject({ url: undefined, activeConnections: 0, totalConnections: 5 });
  });
});

describe('recordingCondition', () => {
  const recording = tunnel({ recording: { video: 'OnAbnormalClose' } });

  it('is absent on a Tunnel that records nothing, with or without a report store', () => {
    expect(recordingCondition(tunnel({}), { store: false })).toBeUndefined();
    expect(recordingCondition(tunnel({}), { store: true })).toBeUndefined();
  });

  it('says that nothing is stored, and which controller flag to set, when there is no report store', () => {
    expect(recordingCondition(recording, { store: false })).toEqual({
      status: 'False',
      reason: 'NoReportStore',
      message: expect.stringMatching(/sessions are served but neither recorded nor listed\. Set --report-store-url on the controller/) as string,
    });
  });

  it('says why the session token cannot be had, in the words of the Secret check', () => {
    expect(recordingCondition(recording, { store: true, problem: 'Secret remote-sessions in namespace team is not ...' }))
      .toEqual({ status: 'False', reason: 'SessionTokenUnavailable', message: 'Secret remote-sessions in namespace team is not ...' });
  });

  it('is True once the report store takes the sessions', () => {
    expect(recordingCondition(recording, { store: true })).toMatchObject({ status: 'True', reason: 'Recording' });
  });
});

describe('tunnelStatus and sessions', () => {
  const pass = (previous: Parameters<typeof tunnelStatus>[0]['previous'], spec: object, store: boolean) => tunnelStatus({
    previous,
    generation: 2,
    observed: observation({ tunnel: tunnel(spec) }),
    replicas: [],
    sessions: store ? { store: true } : { store: false },
    now,
  });
  const types = (status: Record<string, unknown>) => (status.conditions as { type: string }[]).map((c) => c.type);

  it('keeps status.sessionsURL as the report store wrote it, so that an idle Tunnel is not written again', () => {
    const url = 'https://reports.example.com/sessions/team/remote/';
    expect(pass({ sessionsURL: url }, {}, true).status.sessionsURL).toBe(url);
    expect(pass(undefined, {}, true).status).not.toHaveProperty('sessionsURL');
  });

  it('adds the Recording condition beside Ready, and takes it back once the Tunnel records nothing', () => {
    const recorded = pass(undefined, { recording: { log: 'Always' } }, false);
    expect(types(recorded.status)).toEqual(['Ready', 'Recording']);
    expect(recorded.recording?.reason).toBe('NoReportStore');
    // Not recording never keeps a Tunnel from serving.
    expect(recorded.ready.reason).toBe('Serving');
    const previous = { conditions: recorded.status.conditions as never };
    expect(types(pass(previous, {}, false).status)).toEqual(['Ready']);
  });

  it('gives an invalid Tunnel no Recording condition', () => {
    const { status } = tunnelStatus({
      previous: undefined, generation: 1, observed: { invalid: 'x' }, replicas: [], sessions: { store: false }, now,
    });
    expect(types(status)).toEqual(['Ready']);
  });
});
