import type { ContainerState, NodeObject, PodObject } from '../../api/builtin.ts';
import {
  type BrowserState,
  IDLE_SINCE_ANNOTATION,
  PLAYWRIGHT_VERSIONS_ANNOTATION,
  STATE_LABEL,
} from '../../contracts/browser-lease.ts';
import { sessionsOf } from '../../leasing/lease.ts';
import { podNodeLost } from '../../leasing/nodes.ts';
import type { BrowserPodView } from './plan.ts';

/** Waiting reasons after which a container will not start without a change to the pod or the node. */
const STUCK_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

const firstLine = (text: string) => text.trim().split('\n')[0]?.slice(0, 300) ?? '';

function describeTermination(t: NonNullable<ContainerState['terminated']>): string {
  const what = `exit code ${t.exitCode ?? '?'}${t.reason ? ` (${t.reason})` : ''}`;
  return t.message ? `${what}: ${firstLine(t.message)}` : what;
}

const STATES: readonly string[] = ['starting', 'idle', 'leased', 'draining', 'failed'] satisfies BrowserState[];

/** The pool's view of one pod; `nodeOf` looks its Node up by name (none known: the pod's node is not lost). */
export function browserPodView(
  pod: PodObject,
  nodeOf: (name: string) => NodeObject | undefined = () => undefined,
): BrowserPodView {
  const { metadata, status } = pod;
  const label = metadata.labels?.[STATE_LABEL] ?? 'starting';
  const container = status?.containerStatuses?.find((c) => c.name === 'agent');
  const terminated = container?.state?.terminated;
  const waiting = container?.state?.waiting;
  const finished = status?.phase === 'Failed' || status?.phase === 'Succeeded';
  const stuck = waiting?.reason !== undefined && STUCK_REASONS.has(waiting.reason);
  const created = new Date(metadata.creationTimestamp as string);
  const idleSince = metadata.annotations?.[IDLE_SINCE_ANNOTATION];
  // Only the list: a pod annotated by a controller before it (one version) is asked again.
  const playwrightVersions = metadata.annotations?.[PLAYWRIGHT_VERSIONS_ANNOTATION]?.split(',').filter(Boolean);
  const nodeLost = podNodeLost(pod, nodeOf);
  let failure: string | undefined;
  if (terminated) failure = describeTermination(terminated);
  else if (stuck) failure = `${waiting.reason}${waiting.message ? `: ${firstLine(waiting.message)}` : ''}`;
  return {
    name: metadata.name ?? '',
    state: (STATES.includes(label) ? label : 'starting') as BrowserState,
    ready: status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    // An evicted pod has no terminated container; its creation time is the only sure date it has.
    ...(finished ? { finishedAt: new Date(terminated?.finishedAt ?? created) } : {}),
    terminating: metadata.deletionTimestamp !== undefined,
    idleSince: idleSince ? new Date(idleSince) : created,
    sessions: sessionsOf(pod),
    ...(failure ? { failure } : {}),
    stuck,
    createdAt: created,
    ...(playwrightVersions?.length ? { playwrightVersions } : {}),
    ...(nodeLost ? { nodeLost } : {}),
  };
}
