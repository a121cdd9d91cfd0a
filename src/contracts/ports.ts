// The ports Fleetwright's processes listen on, each declared once. The pods
// the controller builds and the probes it sends use the agent's and the
// runner's; the Helm chart passes the others as flags (the defaults here are
// the chart's, and controller-runtime's for the controller).

/** A browser pod's agent: the Playwright endpoint that lease holders connect to. */
export const AGENT_PORT = 3000;
/** A browser pod's agent: /healthz (readiness), /status (the pool controller reads it), /metrics. */
export const AGENT_HEALTH_PORT = 3001;
/** A runner pod: `GET /progress`, the shard's running counts. */
export const PROGRESS_PORT = 7357;
/** `fleetwright controller`: --metrics-bind-address and --health-probe-bind-address. */
export const CONTROLLER_METRICS_PORT = 8080;
export const CONTROLLER_PROBE_PORT = 8081;
/** `fleetwright gateway`: Tunnels, /healthz and /readyz (--bind-address); /metrics (--metrics-bind-address). */
export const GATEWAY_PORT = 8080;
export const GATEWAY_METRICS_PORT = 9090;
/** `fleetwright report-store`: uploads, reports, /healthz and /readyz (--bind-address); /metrics. */
export const REPORT_STORE_PORT = 8082;
export const REPORT_STORE_METRICS_PORT = 9091;
