import { API_VERSION } from './kind.ts';
import type { ResourceType } from './meta.ts';

// The three kinds as the runtime's informers and REST paths address them.
export const BROWSER_POOL: ResourceType = { apiVersion: API_VERSION, kind: 'BrowserPool', plural: 'browserpools', namespaced: true };
export const TEST_RUN: ResourceType = { apiVersion: API_VERSION, kind: 'TestRun', plural: 'testruns', namespaced: true };
export const TUNNEL: ResourceType = { apiVersion: API_VERSION, kind: 'Tunnel', plural: 'tunnels', namespaced: true };
