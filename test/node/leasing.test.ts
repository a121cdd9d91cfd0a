import { describe, expect, it } from 'vitest';
import { type PodObject as BrowserPod, POD } from '../../src/api/builtin.ts';
import type { Lease } from '../../src/contracts/browser-lease.ts';
import { type ObjectRef, leaseFirst, releaseBrowser } from '../../src/leasing/acquire.ts';
import { leaseOf } from '../../src/leasing/lease.ts';
import { collectionPath } from '../../src/runtime/resource.ts';
import type { RestClient } from '../../src/runtime/rest.ts';
import { rest } from '../integration/runtime/support.ts';
import { useNamespace } from '../integration/helpers.ts';
import { core, isReady, pod, SERVER, waitForPod } from './pods.ts';

/** A taker without a cache: the pool's idle pods straight from the API server, then the first one it wins. */
async function acquireBrowser(client: RestClient, pool: ObjectRef, lease: Lease): Promise<BrowserPod | undefined> {
  const list = await client.get<{ items: BrowserPod[] }>(collectionPath(POD, pool.namespace), {
    labelSelector: `fleetwright.dev/pool=${pool.name},fleetwright.dev/state=idle`,
  });
  return leaseFirst(client, list.items, lease);
}

const ns = useNamespace('leasing');
const pool = () => ({ namespace: ns.name, name: 'race' });
const lease = (holder: string): Lease => ({ holder, kind: 'TestRun', ref: `${ns.name}/race`, since: new Date().toISOString() });

describe('browser leases on real pods', () => {
  it('lets exactly 5 of 50 concurrent takers lease a pool of 5, each browser once', async () => {
    const labels = { 'fleetwright.dev/pool': 'race', 'fleetwright.dev/state': 'idle' };
    for (let i = 0; i < 5; i++) {
      await core().createNamespacedPod({ namespace: ns.name, body: pod(`browser-${i}`, ['node', '-e', SERVER], {}, labels) });
    }
    for (let i = 0; i < 5; i++) await waitForPod(ns.name, `browser-${i}`, isReady);

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => acquireBrowser(rest(), pool(), lease(`taker-${i}`))),
    );
    const won = results.filter((p): p is BrowserPod => p !== undefined);
    expect(won).toHaveLength(5);
    expect(new Set(won.map((p) => p.metadata?.name)).size).toBe(5);

    // What the API server holds agrees: every pod leased, each by the taker that was told it won.
    const pods = await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'fleetwright.dev/pool=race' });
    const holders = new Map(won.map((p) => [p.metadata?.name, leaseOf(p)?.holder]));
    for (const p of pods.items) {
      expect(p.metadata?.labels?.['fleetwright.dev/state']).toBe('leased');
      const holder = leaseOf({ metadata: { annotations: p.metadata?.annotations } })?.holder;
      expect(holder).toBe(holders.get(p.metadata?.name));
    }
  });

  it('frees a browser only for its holder, and the next taker gets it', async () => {
    const pods = await core().listNamespacedPod({ namespace: ns.name, labelSelector: 'fleetwright.dev/pool=race' });
    const taken = pods.items[0];
    const holder = leaseOf({ metadata: { annotations: taken?.metadata?.annotations } })?.holder ?? '';
    const ref = { namespace: ns.name, name: taken?.metadata?.name ?? '' };

    expect(await releaseBrowser(rest(), ref, 'someone-else')).toBe(false);
    expect(await acquireBrowser(rest(), pool(), lease('late'))).toBeUndefined();

    expect(await releaseBrowser(rest(), ref, holder)).toBe(true);
    const next = await acquireBrowser(rest(), pool(), lease('late'));
    expect(next?.metadata?.name).toBe(ref.name);
    expect(leaseOf(next ?? {})?.holder).toBe('late');
  });
});
