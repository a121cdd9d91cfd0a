import type { V1Affinity, V1Pod, V1Toleration, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/kind.ts';
import type { BrowserPoolSpec } from '../../api/v1alpha1/index.ts';
import { AGENT_ENV, AGENT_HEALTH_PATH } from '../../contracts/agent.ts';
import { POOL_LABEL, STATE_LABEL, WS_PATH_ANNOTATION } from '../../contracts/browser-lease.ts';
import { AGENT_HEALTH_PORT, AGENT_PORT } from '../../contracts/ports.ts';
import { podResources } from '../quantities.ts';

/** The label every node carries with its name: one topology domain per node. */
export const HOSTNAME_TOPOLOGY_KEY = 'kubernetes.io/hostname';

/**
 * A pool's browsers spread over nodes unless its template says how: one node lost or drained takes as few
 * of them as can be. ScheduleAnyway, not DoNotSchedule: the spread is a preference, never a reason to leave
 * a browser Pending. With DoNotSchedule, a pool that lost a node could not put its replacements on the
 * surviving ones (the lost node still counts as a domain), a pool with a nodeSelector matching one node
 * could not grow past maxSkew, and a cluster autoscaler would add nodes only to even out the count.
 */
export function defaultSpread(pool: string): V1TopologySpreadConstraint[] {
  return [{
    maxSkew: 1,
    topologyKey: HOSTNAME_TOPOLOGY_KEY,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: { [POOL_LABEL]: pool } },
  }];
}

export interface PoolIdentity {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * A browser pod of the pool: the agent of the operator's image (or
 * spec.image), owned by the pool so it goes with it, under the restricted
 * Pod Security Standard. `wsPath` is the pod's unguessable endpoint path.
 */
export function browserPod(pool: PoolIdentity, spec: BrowserPoolSpec, image: string, wsPath: string): V1Pod {
  const template = spec.template ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${pool.name}-`,
      namespace: pool.namespace,
      labels: { ...template.labels, [POOL_LABEL]: pool.name, [STATE_LABEL]: 'starting' },
      annotations: { ...template.annotations, [WS_PATH_ANNOTATION]: wsPath },
      ownerReferences: [
        { apiVersion: API_VERSION, kind: 'BrowserPool', name: pool.name, uid: pool.uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      // The agent drains sessions for 25 s on SIGTERM; this leaves it room to exit on its own.
      terminationGracePeriodSeconds: 30,
      // A dead browser means a new pod, never a restart in place: a restarted agent would come back under a lease
      // whose client is gone. The pool controller replaces failed pods, with a backoff when they keep failing.
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // The pod's pause process becomes PID 1 and reaps chromium's processes whose parent is gone (a chromium
      // and a crashpad handler every few runner shards); the agent, node, never waits for children not its own.
      shareProcessNamespace: true,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      ...(template.nodeSelector ? { nodeSelector: template.nodeSelector } : {}),
      // Opaque in our schema: the API server validates them when it admits the pod.
      ...(template.tolerations ? { tolerations: template.tolerations as V1Toleration[] } : {}),
      ...(template.affinity ? { affinity: template.affinity as V1Affinity } : {}),
      topologySpreadConstraints:
        (template.topologySpreadConstraints as V1TopologySpreadConstraint[] | undefined) ?? defaultSpread(pool.name),
      ...(template.priorityClassName ? { priorityClassName: template.priorityClassName } : {}),
      ...(template.imagePullSecrets ? { imagePullSecrets: template.imagePullSecrets } : {}),
      containers: [
        {
          name: 'agent',
          image: spec.image ?? image,
          imagePullPolicy: 'IfNotPresent',
          args: ['agent'],
          env: [
            { name: AGENT_ENV.podIP, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: AGENT_ENV.browser, value: spec.browser },
            { name: AGENT_ENV.wsPath, value: wsPath },
            { name: AGENT_ENV.port, value: String(AGENT_PORT) },
            { name: AGENT_ENV.healthPort, value: String(AGENT_HEALTH_PORT) },
            { name: AGENT_ENV.sessions, value: String(spec.sessionsPerBrowser) },
            { name: AGENT_ENV.launchArgs, value: JSON.stringify(spec.launch?.args ?? []) },
            ...(spec.launch?.env ?? []),
          ],
          ports: [
            { name: 'playwright', containerPort: AGENT_PORT },
            { name: 'health', containerPort: AGENT_HEALTH_PORT },
          ],
          terminationMessagePolicy: 'FallbackToLogsOnError',
          readinessProbe: {
            httpGet: { path: AGENT_HEALTH_PATH, port: AGENT_HEALTH_PORT },
            periodSeconds: 2,
            failureThreshold: 1,
          },
          ...(template.resources ? { resources: podResources(template.resources) } : {}),
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}
