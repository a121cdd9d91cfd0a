// What the TestRun controller, the runner and the report store agree on.
//
// The controller mints one upload token per TestRun into a Secret it owns
// (reportTokenSecret), mounts it into the run's runner pods, and tells them
// where to upload. Each runner PUTs its shard's Playwright blob report with
// that token. The store accepts it only while the run exists with that uid
// and has not finished, so a token is useless for any other run and after
// its own. Once the run has finished, the store merges the shards' blobs
// into one HTML report, serves it at reportPath and writes that URL into
// status.reportURL. Readers authenticate with the namespace's read token
// (REPORT_READER_SECRET), created by the controller when it first needs it.

export const REPORT_TOKEN_KEY = 'token';
/** Label on a run's upload-token Secret; its value is the TestRun's name. */
export const REPORT_TOKEN_LABEL = 'fleetwright.dev/report-token';
/** The Secret with a TestRun's upload token: owned by the run, so it goes with it. */
export const reportTokenSecret = (run: string) => `${run}-report`;
/** The Secret with a namespace's read token for the reports of all its TestRuns (key REPORT_TOKEN_KEY). */
export const REPORT_READER_SECRET = 'fleetwright-reports';

/** Reports are uploaded and served below this path: `<namespace>/<testrun>/`, then a file or `shards/<index>`. */
export const REPORTS_PREFIX = '/reports/';
/** Where a runner PUTs the blob report (a zip) of shard `index` (1-based, as in --shard=i/n). */
export const shardUploadPath = (namespace: string, run: string, index: number) =>
  `${reportPath(namespace, run)}shards/${index}`;
/** Where the merged HTML report of a TestRun is served (index.html and what it loads, below it). */
export const reportPath = (namespace: string, run: string) =>
  `${REPORTS_PREFIX}${encodeURIComponent(namespace)}/${encodeURIComponent(run)}/`;

/** Runner environment: the URL to PUT this shard's blob report to. Unset: no report is uploaded. */
export const REPORT_UPLOAD_URL_ENV = 'FLEETWRIGHT_REPORT_UPLOAD_URL';
/** Runner environment: the file holding the upload token. */
export const REPORT_TOKEN_FILE_ENV = 'FLEETWRIGHT_REPORT_TOKEN_FILE';
/** Where the runner pod mounts the upload-token Secret. */
export const REPORT_TOKEN_DIR = '/var/run/fleetwright/report';

// The dependency cache: a suite's installed node_modules as a gzipped tar,
// kept by the report store per namespace under a key the runner computes
// (src/runner/cache-key.ts). A runner GETs it before installing and PUTs it
// after a miss, with its run's upload token, while the run has not finished.

/** The dependency cache is below this path: `<namespace>/<testrun>/<key>`. */
export const DEPENDENCIES_PREFIX = '/dependencies/';
/** Where a runner of TestRun `run` GETs or PUTs the cache entry `key` of its namespace. */
export const dependencyCachePath = (namespace: string, run: string, key: string) =>
  `${DEPENDENCIES_PREFIX}${encodeURIComponent(namespace)}/${encodeURIComponent(run)}/${encodeURIComponent(key)}`;
/** The keys a runner computes (src/runner/cache-key.ts) and the store accepts: `npm-node24-linux-x64-<sha256>`. */
export const DEPENDENCY_CACHE_KEY = /^[a-z]+-node[0-9]+-[a-z0-9]+-[a-z0-9]+-[0-9a-f]{64}$/;
/** Runner environment: the cache entry's URL without the key (ends in `/`). Unset: no cache, install every time. */
export const DEPENDENCY_CACHE_URL_ENV = 'FLEETWRIGHT_DEPENDENCY_CACHE_URL';
/** The cache entry's media type: `tar -cz` of the installed `node_modules`. */
export const DEPENDENCY_CACHE_TYPE = 'application/gzip';
