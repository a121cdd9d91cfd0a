import { describe, expect, it } from 'vitest';
import type { PodObject } from '../../../src/api/builtin.ts';
import { browserPodView } from '../../../src/controllers/browserpool/view.ts';

type PodParts = Partial<PodObject> & { labels?: Record<string, string>; annotations?: Record<string, string> };
const pod = (extra: PodParts): PodObject => ({
  metadata: {
    name: 'chromium-abcde',
    creationTimestamp: '2026-11-23T12:00:00Z',
    labels: extra.labels ?? { 'fleetwright.dev/state': 'idle' },
    annotations: extra.annotations ?? {},
    ...extra.metadata,
  },
  status: extra.status ?? { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

describe('browserPodView', () => {
  it('reads state, readiness, sessions and idle-since from the pod', () => {
    const view = browserPodView(pod({ annotations: { 'fleetwright.dev/sessions': '4', 'fleetwright.dev/idle-since': '2026-11-23T12:05:00Z' } }));
    expect(view).toEqual({
      name: 'chromium-abcde',
      state: 'idle',
      ready: true,
      terminating: false,
      idleSince: new Date('2026-11-23T12:05:00Z'),
      sessions: 4,
      stuck: false,
      createdAt: new Date('2026-11-23T12:00:00Z'),
    });
    expect(browserPodView(pod({ labels: {} })).idleSince).toEqual(new Date('2026-11-23T12:00:00Z'));
  });

  it('says when the pod\'s node is lost, though the pod itself still reads Ready', () => {
    const bound = { ...pod({}), spec: { nodeName: 'fw-node2' } };
    const node = (status: string) => () => ({ metadata: { name: 'fw-node2' }, status: { conditions: [{ type: 'Ready', status }] } });
    expect(browserPodView(bound, node('Unknown'))).toMatchObject({ ready: true, nodeLost: 'node fw-node2 is NotReady (Ready=Unknown)' });
    expect(browserPodView(bound, node('True')).nodeLost).toBeUndefined();
  });

  it('reads the Playwright versions the agent reported, the default first', () => {
    const view = browserPodView(pod({ annotations: {
      'fleetwright.dev/playwright-version': '1.65.1',
      'fleetwright.dev/playwright-versions': '1.65.1,1.66.0-alpha-2026-11-18,1.64.1,1.63.0',
    } }));
    expect(view.playwrightVersions).toEqual(['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0']);
  });

  it('has a pod annotated with one version only (by an older controller) asked again', () => {
    const view = browserPodView(pod({ annotations: { 'fleetwright.dev/playwright-version': '1.64.1' } }));
    expect(view.playwrightVersions).toBeUndefined();
  });

  it('says why a failed agent stopped, from its termination message', () => {
    const view = browserPodView(pod({
      status: {
        phase: 'Failed',
        containerStatuses: [{
          name: 'agent',
          state: { terminated: { exitCode: 1, reason: 'Error', message: 'the warm browser died\nmore', finishedAt: '2026-11-23T12:10:00Z' } },
        }],
      },
    }));
    expect(view).toMatchObject({ finishedAt: new Date('2026-11-23T12:10:00Z'), failure: 'exit code 1 (Error): the warm browser died' });
  });

  it('marks a pod whose image cannot be pulled as stuck, with the reason', () => {
    const view = browserPodView(pod({
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'agent', state: { waiting: { reason: 'ErrImageNeverPull', message: 'not present' } } }],
      },
    }));
    expect(view).toMatchObject({ stuck: true, ready: false, failure: 'ErrImageNeverPull: not present' });
    expect(view.finishedAt).toBeUndefined();
  });
});
