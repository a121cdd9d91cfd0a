import { z } from 'zod';
import type { KindDefinition } from '../kind.ts';
import {
  Conditions,
  count,
  LocalObjectReference,
  objectName,
  observedGeneration,
  seconds,
  secretKey,
} from './common.ts';

/** When a Tunnel keeps a recording of a session (spec.recording). */
export const RecordingPolicy = z.enum(['Never', 'Always', 'OnAbnormalClose']);

export const TunnelSpec = z
  .object({
    poolRefs: z
      .array(LocalObjectReference('BrowserPool'))
      .min(1)
      .max(8)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe(
        'The BrowserPools whose browsers this Tunnel hands out. A client goes to the first pool of the browser ' +
        'it connects with (chromium.connect(), firefox.connect(): 400 naming the served browsers when none is) ' +
        'whose Playwright major.minor version equals its own (read from its User-Agent; 428 naming the served ' +
        'versions when none does); a client that sends neither goes to the first pool.',
      ),
    path: z
      .string()
      .max(512)
      .regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be an absolute URL path of letters, digits and ._~/-')
      .optional()
      .describe('URL path the gateway serves this Tunnel at. Unset: /tunnels/<namespace>/<name>.'),
    auth: z
      .object({
        secretRef: z
          .object({
            name: objectName('Secret'),
            key: secretKey.default('token').describe('Key in the Secret whose value is the bearer token.'),
          })
          .describe('Secret holding the token clients must present.'),
      })
      .describe(
        'How clients authenticate: a bearer token in Authorization, or ?token= for clients without headers.',
      ),
    maxConnections: z
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe('Most client connections served at once.'),
    idleTimeoutSeconds: seconds('Close a connection after this long without traffic.', 1, 86_400).default(
      300,
    ),
    maxSessionSeconds: seconds('Longest a client may hold a browser.', 1, 86_400).default(3600),
    allowExposeNetwork: z
      .boolean()
      .default(true)
      .describe(
        'Whether clients may use connectOptions.exposeNetwork, which lets the browser reach the client\'s own ' +
        'network through the connection. When false such clients are refused with 403.',
      ),
    allowCDP: z
      .boolean()
      .default(true)
      .describe(
        'Whether clients may speak the Chrome DevTools Protocol at <path>/cdp (Puppeteer, connectOverCDP, ' +
        '@playwright/mcp --cdp-endpoint) to the Tunnel\'s Chromium pools; each such session gets a browser of its ' +
        'own, discarded afterwards. When false such clients are refused with 403.',
      ),
    recording: z
      .object({
        video: RecordingPolicy.default('Never').describe('A webm of what the session\'s pages showed.'),
        log: RecordingPolicy.default('Never').describe(
          'The session\'s console messages, page errors, navigations and responses with their status, as JSON lines.',
        ),
      })
      .default({ video: 'Never', log: 'Never' })
      .describe(
        'What the browser pod records of each session, and when it keeps it: Never, Always, or OnAbnormalClose ' +
        '(only when the session ended by a timeout, a lost browser or client, or an error close code). Kept ' +
        'recordings go to the report store beside the session\'s record (fleetwright sessions lists them).',
      ),
    liveView: z
      .object({
        takeover: z
          .boolean()
          .default(false)
          .describe(
            'Whether a viewer who also has the Tunnel\'s token (?takeover=) may click and type into the session\'s page.',
          ),
      })
      .default({ takeover: false })
      .describe('The live view of a running session: …/sessions/<id>/live under the Tunnel\'s URL, with the report read token.'),
    queueTimeoutSeconds: seconds(
      'How long a client waits for a free browser before it gets 503 with Retry-After.',
      0,
      3600,
    ).default(30),
  })
  .describe('An authenticated WebSocket/HTTP entry point that hands each client a browser from a pool.');

export const TunnelStatus = z
  .object({
    url: z.string().max(2048).optional().describe('Where clients connect, as served by the gateway.'),
    activeConnections: count('Client connections open now, over all gateway replicas.').optional(),
    totalConnections: count('Client connections accepted since the Tunnel was created.').optional(),
    sessionsURL: z
      .string()
      .max(2048)
      .optional()
      .describe('Where the report store lists this Tunnel\'s recent sessions (read token); set by the report store.'),
    versions: z
      .array(z.string().max(32))
      .max(8)
      .optional()
      .describe('Playwright major.minor versions this Tunnel serves, from its pools\' status.'),
    gateways: z
      .array(
        z.object({
          identity: z.string().max(253).describe('The gateway replica process.'),
          active: count('Its open connections.'),
          accepted: count('Connections it accepted since it started.'),
        }),
      )
      .max(64)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['identity'] })
      .optional()
      .describe('Connections of this Tunnel as each live gateway replica last reported them.'),
    observedGeneration: observedGeneration.optional(),
    conditions: Conditions.optional(),
  })
  .describe('Observed state of the Tunnel.');

export const TunnelKind = {
  kind: 'Tunnel',
  plural: 'tunnels',
  singular: 'tunnel',
  shortNames: ['tun'],
  description: 'An authenticated WebSocket/HTTP gateway entry point that hands each client a leased browser.',
  spec: TunnelSpec,
  status: TunnelStatus,
  maxNameLength: 63,
  printerColumns: [
    { name: 'Pool', type: 'string', jsonPath: '.spec.poolRefs[0].name', description: 'First BrowserPool served.' },
    { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'Where clients connect.' },
    {
      name: 'Active',
      type: 'integer',
      jsonPath: '.status.activeConnections',
      description: 'Open connections.',
    },
    {
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: 'Time since creation.',
    },
  ],
} satisfies KindDefinition<typeof TunnelSpec, typeof TunnelStatus>;

export type TunnelSpec = z.infer<typeof TunnelSpec>;
export type TunnelStatus = z.infer<typeof TunnelStatus>;

/** The URL path a Tunnel is served at: spec.path, else /tunnels/<namespace>/<name>. */
export function tunnelPath(tunnel: {
  metadata: { namespace?: string; name?: string };
  spec: { path?: string };
}): string {
  return tunnel.spec.path ?? `/tunnels/${tunnel.metadata.namespace}/${tunnel.metadata.name}`;
}
