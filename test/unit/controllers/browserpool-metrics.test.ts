import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { BrowserPoolMetrics } from '../../../src/controllers/browserpool/metrics.ts';

const pool = (namespace: string, name: string, spec: object, status?: object): KubeObject =>
  ({ metadata: { namespace, name }, spec, ...(status ? { status } : {}) }) as KubeObject;

describe('BrowserPoolMetrics', () => {
  it('reports each cached pool\'s browsers by state, its queue and its cap at scrape time', async () => {
    const registry = new Registry();
    let pools = [
      pool('team-a', 'chromium', { replicas: 3, autoscaling: { minReplicas: 1, maxReplicas: 8 } },
        { idle: 0, busy: 3, starting: 1, waiting: 2 }),
      pool('team-b', 'chromium', { replicas: 2 }, { idle: 2, busy: 0, starting: 0, waiting: 0 }),
    ];
    new BrowserPoolMetrics(registry, () => pools);
    const text = await registry.metrics();
    expect(text).toContain('fleetwright_pool_browsers{namespace="team-a",pool="chromium",state="idle"} 0');
    expect(text).toContain('fleetwright_pool_browsers{namespace="team-a",pool="chromium",state="busy"} 3');
    expect(text).toContain('fleetwright_pool_browsers{namespace="team-a",pool="chromium",state="starting"} 1');
    expect(text).toContain('fleetwright_pool_waiting{namespace="team-a",pool="chromium"} 2');
    expect(text).toContain('fleetwright_pool_max_browsers{namespace="team-a",pool="chromium"} 8');
    expect(text).toContain('fleetwright_pool_browsers{namespace="team-b",pool="chromium",state="idle"} 2');
    expect(text).toContain('fleetwright_pool_max_browsers{namespace="team-b",pool="chromium"} 2');

    // A deleted pool leaves no series behind; a new one without status yet reports zeros.
    pools = [pool('team-b', 'firefox', { replicas: 1 })];
    const after = await registry.metrics();
    expect(after).not.toContain('pool="chromium"');
    expect(after).toContain('fleetwright_pool_browsers{namespace="team-b",pool="firefox",state="starting"} 0');
    expect(after).toContain('fleetwright_pool_waiting{namespace="team-b",pool="firefox"} 0');
    expect(after).toContain('fleetwright_pool_max_browsers{namespace="team-b",pool="firefox"} 1');
  });

  it('counts the browser pods it removed by reason, as they are removed', async () => {
    const registry = new Registry();
    const metrics = new BrowserPoolMetrics(registry, () => []);
    const chromium = pool('team-a', 'chromium', { replicas: 2 });
    metrics.browserRemoved(chromium, 'NodeLost');
    metrics.browserRemoved(chromium, 'NodeLost');
    metrics.browserRemoved(chromium, 'Recycled');
    const text = await registry.metrics();
    expect(text).toContain('fleetwright_pool_browsers_removed_total{namespace="team-a",pool="chromium",reason="NodeLost"} 2');
    expect(text).toContain('fleetwright_pool_browsers_removed_total{namespace="team-a",pool="chromium",reason="Recycled"} 1');
  });
});
