import { API_VERSION } from './kind.ts';

// The three kinds as the runtime's informers and REST paths address them
// (structurally a runtime ResourceType; api/ imports nothing of ours).
export const BROWSER_POOL = { apiVersion: API_VERSION, kind: 'BrowserPool', plural: 'browserpools', namespaced: true };
export const TEST_RUN = { apiVersion: API_VERSION, kind: 'TestRun', plural: 'testruns', namespaced: true };
export const TUNNEL = { apiVersion: API_VERSION, kind: 'Tunnel', plural: 'tunnels', namespaced: true };
/** Where a Tunnel's token lives; the Tunnel controller and the gateway both watch them. */
export const SECRET = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
