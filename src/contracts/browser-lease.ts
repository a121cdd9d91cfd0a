// How a browser pod says who holds it, and how a taker asks for one: the
// labels and annotations the BrowserPool controller, the TestRun controller
// and the gateway read and write on browser pods and on lease requests
// (coordination.k8s.io Lease objects), through the API server. The code that
// takes, gives back and queues is src/leasing/.
import { z } from 'zod';

export const POOL_LABEL = 'fleetwright.dev/pool';
export const STATE_LABEL = 'fleetwright.dev/state';
export const LEASE_ANNOTATION = 'fleetwright.dev/lease';
/**
 * The TestRun a leased browser serves, by name, as a label: the run's NetworkPolicy selects its browsers by it
 * (a selector cannot match the lease annotation). Written and removed in the same patch as the annotation.
 */
export const LEASED_TO_LABEL = 'fleetwright.dev/leased-to';
/** Leases a browser pod has served; each acquire adds one (recycleAfterSessions reads it). */
export const SESSIONS_ANNOTATION = 'fleetwright.dev/sessions';
/** When the pod last became idle (scaleDownDelaySeconds counts from it). */
export const IDLE_SINCE_ANNOTATION = 'fleetwright.dev/idle-since';
/** The agent's unguessable WebSocket path; handed only to the lease holder. */
export const WS_PATH_ANNOTATION = 'fleetwright.dev/ws-path';
/** The Playwright version (x.y.z) the pod's agent serves by default (warm), as it reported it. */
export const PLAYWRIGHT_VERSION_ANNOTATION = 'fleetwright.dev/playwright-version';
/**
 * Every Playwright version the pod's agent serves, as it reported them, comma-separated, the default first
 * (`1.65.1,1.66.0-alpha-2026-11-18,1.64.1,1.63.0`); the pool reports them and the gateway routes clients by them.
 */
export const PLAYWRIGHT_VERSIONS_ANNOTATION = 'fleetwright.dev/playwright-versions';

/**
 * Written "false" with each lease and removed with each return: the cluster autoscaler does not remove a node
 * with a leased browser (its own convention; kubectl drain and the Eviction API heed the pool's
 * PodDisruptionBudget instead).
 */
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

export type BrowserState = 'starting' | 'idle' | 'leased' | 'draining' | 'failed';

/** Who holds a browser, as written in the pod's fleetwright.dev/lease annotation. */
export const Lease = z.object({
  /** A unique id of the taker: a TestRun shard attempt or a gateway connection. */
  holder: z.string().min(1),
  kind: z.enum(['TestRun', 'Tunnel']),
  /** namespace/name of the TestRun or Tunnel. */
  ref: z.string().min(1),
  since: z.iso.datetime(),
});
export type Lease = z.infer<typeof Lease>;

/** Marks a Lease object as a browser lease request (leader election Leases have no such label). */
export const REQUEST_LABEL = 'fleetwright.dev/lease-request';
/** The lease to write on the browser pod once granted: its holder, kind and ref. */
export const REQUEST_ANNOTATION = 'fleetwright.dev/request';
export const PRIORITY_ANNOTATION = 'fleetwright.dev/priority';

export const RequestedLease = Lease.omit({ since: true });
export type RequestedLease = z.infer<typeof RequestedLease>;
