// What the TestRun controller and a runner pod's fetch-source init container
// agree on: the controller pins the commit and writes these into the pod;
// `fleetwright fetch-source` checks that commit out into the shared emptyDir,
// where the runner container reads the suite.

/** The init container that fetches a git source. */
export const FETCH_SOURCE_CONTAINER = 'fetch-source';
/** The repository URL, without credentials. */
export const GIT_URL_ENV = 'FLEETWRIGHT_GIT_URL';
/** The revision the commit was pinned from, for messages. */
export const GIT_REVISION_ENV = 'FLEETWRIGHT_GIT_REVISION';
/** The 40-hex commit to fetch. */
export const GIT_COMMIT_ENV = 'FLEETWRIGHT_GIT_COMMIT';
/** The project's folder inside the repository; unset: its root. */
export const GIT_PATH_ENV = 'FLEETWRIGHT_GIT_PATH';
/** The name of the Secret mounted at GIT_CREDENTIALS_DIR; unset: no credentials. */
export const GIT_SECRET_ENV = 'FLEETWRIGHT_GIT_SECRET';
/** Where the credentials Secret is mounted, one file per key. */
export const GIT_CREDENTIALS_DIR = '/var/run/fleetwright/git';
/** The emptyDir both containers mount. */
export const GIT_SOURCE_ROOT = '/var/run/fleetwright/source';
/** The checked-out commit inside GIT_SOURCE_ROOT. */
export const GIT_TREE_DIR = `${GIT_SOURCE_ROOT}/tree`;
/** Its git data, beside the tree so that the runner's copy of the suite leaves it behind. */
export const GIT_DATA_DIR = `${GIT_SOURCE_ROOT}/git`;
