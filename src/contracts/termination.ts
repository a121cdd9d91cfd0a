// A container's termination message: how the agent, the runner and the
// fleetwright reporter tell the controllers why they stopped or what they
// found, through the pod status (containerStatuses[].state.terminated.message).

/** Where to write the message instead of Kubernetes' default terminationMessagePath. */
export const TERMINATION_LOG_ENV = 'FLEETWRIGHT_TERMINATION_LOG';
/** Kubernetes' default terminationMessagePath. */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
/** The kubelet keeps at most 4096 bytes of a container's termination message (and cuts the rest). */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

/** Where a process writes its termination message, from its environment. */
export const terminationLogOf = (env: NodeJS.ProcessEnv): string => env[TERMINATION_LOG_ENV] || DEFAULT_TERMINATION_LOG;
