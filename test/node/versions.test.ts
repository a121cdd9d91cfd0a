import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { chromium as chromium164 } from 'playwright-core-1-64';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensurePlaywrightVariantImage } from '../../hack/lib/images.ts';
import { installedPlaywrights } from '../../src/agent/versions.ts';
import { AGENT_METRICS_PATH } from '../../src/contracts/agent.ts';
import { PLAYWRIGHT_VERSION_ANNOTATION, PLAYWRIGHT_VERSIONS_ANNOTATION } from '../../src/contracts/browser-lease.ts';
import { AGENT_HEALTH_PORT } from '../../src/contracts/ports.ts';
import { useNamespace } from '../integration/helpers.ts';
import { apply, poolManifest, poolPods, startGateway, useController, useLeaser, waitForPool } from './pools.ts';

const OLDER = '1.64.1';
const pinned = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
}).dependencies['playwright-core'];
/** Every version the project's image serves, the pinned one first. */
const served = installedPlaywrights().map((p) => p.version);
const minor = (v: string | undefined) => v?.split('.').slice(0, 2).join('.');

const ns = useNamespace('versions');
const controller = useController(() => ns.name);
const leasers = useLeaser(() => ns.name);
let olderImage = '';

beforeAll(() => {
  apply(ns.name, `
apiVersion: v1
kind: Secret
metadata: { name: clients-token }
stringData: { token: not-used-here }
---
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: clients }
spec:
  poolRefs: [{ name: current }, { name: older }]
  auth: { secretRef: { name: clients-token, key: token } }
`);
  olderImage = ensurePlaywrightVariantImage(OLDER, inject('image'), (line) => console.log(`[image] ${line}`));
}, 300_000);

/** Leases are held for the Tunnel `clients`: a holder that exists, so the pool does not reclaim them. */
const lease = (pool: string, holder: string) =>
  leasers.leaser.lease({ namespace: ns.name, name: pool }, { holder, kind: 'Tunnel', ref: `${ns.name}/clients` }, { timeoutMs: 60_000 });

describe('the Playwright version of a pool', () => {
  it('is the version of the playwright-core the project pins, for a pool of the default image', async () => {
    apply(ns.name, poolManifest('current', 'replicas: 1'));
    const pool = await waitForPool(ns.name, 'current', 'a Playwright version', (p) => p.status?.playwrightVersion !== undefined);
    expect(pool.status?.playwrightVersion).toBe(pinned);
    expect(pool.status?.playwrightVersions).toEqual(served);
    const [pod] = await poolPods(ns.name, 'current');
    expect(pod?.metadata.annotations?.[PLAYWRIGHT_VERSION_ANNOTATION]).toBe(pinned);
    expect(pod?.metadata.annotations?.[PLAYWRIGHT_VERSIONS_ANNOTATION]).toBe(served.join(','));
  });

  it(`is ${OLDER} for a pool of the ${OLDER} image, whose browsers a Playwright ${OLDER} client uses`, async () => {
    apply(ns.name, poolManifest('older', `replicas: 1\nimage: ${olderImage}`));
    const pool = await waitForPool(ns.name, 'older', 'a Playwright version', (p) => p.status?.playwrightVersion !== undefined);
    expect(pool.status?.playwrightVersion).toBe(OLDER);

    const held = await lease('older', 'client-of-1-64');
    try {
      const about = await fetch(new URL('/json/version', held.endpoint.replace(/^ws:/, 'http:')));
      // The variant image has 1.64 in place of playwright-core; the project's other aliases stay, 1.64's once.
      expect(await about.json()).toEqual({
        Browser: 'chromium',
        Playwright: OLDER,
        PlaywrightVersions: [OLDER, ...served.slice(1).filter((v) => minor(v) !== minor(OLDER))],
      });
      // The agent refuses a client of a minor it does not serve (Playwright's server would, too).
      await expect(chromium.connect(held.endpoint, { timeout: 10_000 })).rejects.toThrow(
        new RegExp(`428 Precondition Required[\\s\\S]*your client is ${minor(pinned)?.replace('.', '\\.')}`),
      );
      const browser = await chromium164.connect(held.endpoint, { timeout: 10_000 });
      try {
        const page = await browser.newPage();
        // A page served on the host's loopback is out of reach of a browser in a pod.
        await page.setContent('<title>served by Playwright 1.64</title><p id="answer">42</p>');
        expect(await page.title()).toBe('served by Playwright 1.64');
        expect(await page.locator('#answer').textContent()).toBe('42');
      } finally {
        await browser.close();
      }
    } finally {
      await held.release();
    }
  });
});

describe('a Tunnel over pools of two Playwright versions', () => {
  const tunnelUrl = (gateway: string, tunnel: string) =>
    `${gateway.replace('http', 'ws')}/tunnels/${ns.name}/${tunnel}`;
  const headers = { Authorization: 'Bearer not-used-here' };

  it('sends each client to the pool whose default is its version, serves the other versions of a pool\'s image, ' +
    'and refuses other versions with 428 naming them', async () => {
    apply(ns.name, `
apiVersion: fleetwright.dev/v1alpha1
kind: Tunnel
metadata: { name: only-current }
spec:
  poolRefs: [{ name: current }]
  auth: { secretRef: { name: clients-token, key: token } }
`);
    const gateway = startGateway(ns.name, 'versions');
    try {
      const base = await gateway.url('Tunnels');
      const landedOn = async (connect: () => Promise<{ close(): Promise<void> }>) => {
        const browser = await connect();
        const started = gateway.lines.filter((l) => l.msg === 'session started').at(-1);
        await browser.close();
        const [pod] = (await poolPods(ns.name, 'current')).filter((p) => p.metadata.name === started?.pod);
        return pod ? 'current' : 'older';
      };
      expect(await landedOn(() => chromium.connect(tunnelUrl(base, 'clients'), { headers, timeout: 60_000 })))
        .toBe('current');
      // Both pools serve 1.64; the one whose default it is (its browsers wait warm) is preferred.
      expect(await landedOn(() => chromium164.connect(tunnelUrl(base, 'clients'), { headers, timeout: 60_000 })))
        .toBe('older');
      // The project's image serves 1.64 too, from 1.64's own run-server; 1.65 from the warm browser.
      expect(await landedOn(() => chromium164.connect(tunnelUrl(base, 'only-current'), { headers, timeout: 60_000 })))
        .toBe('current');
      expect(await landedOn(() => chromium.connect(tunnelUrl(base, 'only-current'), { headers, timeout: 60_000 })))
        .toBe('current');
      const [pod] = await poolPods(ns.name, 'current');
      const metrics = await (await fetch(`http://${pod?.status?.podIP}:${AGENT_HEALTH_PORT}${AGENT_METRICS_PATH}`)).text();
      const sessions = (mode: string, playwright: string) => Number(new RegExp(
        `^fleetwright_agent_sessions_total\\{mode="${mode}",playwright="${playwright}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
      expect(sessions('warm', minor(pinned) ?? '')).toBeGreaterThanOrEqual(2);
      expect(sessions('fresh', '1.64')).toBeGreaterThanOrEqual(1);
      expect(sessions('warm', '1.64')).toBe(0);
      const refused = await fetch(`${tunnelUrl(base, 'only-current').replace(/^ws/, 'http')}/json/version`, {
        headers: { ...headers, 'user-agent': 'Playwright/1.62.0 (x64; debian 12) node/24.21' },
      });
      expect(refused.status).toBe(428);
      const minors = [...new Set(served.map(minor))].join('/').replaceAll('.', '\\.');
      expect(await refused.text()).toMatch(new RegExp(`serves Playwright ${minors} \\(pool current\\); your client is 1\\.62`));
    } finally {
      await gateway.kill('SIGTERM');
    }
  });
});

describe('the controller process', () => {
  it('logged no reconcile errors', () => {
    expect(controller.process.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
