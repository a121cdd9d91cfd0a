import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository this checkout is. */
export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Git-ignored per-checkout state: certificates, etcd data, logs, pid files, kubeconfig. */
export const stateDir = process.env.FLEETWRIGHT_STATE_DIR ?? join(repoRoot, '.fleetwright');

/** Built binaries and extracted tools, shared by every checkout on the machine. */
export const cacheDir = process.env.FLEETWRIGHT_CACHE_DIR ?? join(homedir(), '.cache', 'fleetwright');

export const kubeconfigPath = join(stateDir, 'kubeconfig');
