// Metric labels follow the Kubernetes convention that an object is its
// namespace and its name: a series of one pool, TestRun or Tunnel says which
// namespace it is in, so same-named objects of two teams never merge.
import { describe, expect, it } from 'vitest';
import { labelNames } from './metric-names.ts';

/** Labels that name a namespaced object by its name alone. */
const OBJECT_NAMES = ['pool', 'tunnel'];

describe('the metrics of the controller, the gateway and the report store', () => {
  it('carry `namespace` on every series labelled with a pool or a Tunnel', () => {
    const missing = Object.entries(labelNames()).flatMap(([component, metrics]) => [...metrics]
      .filter(([, labels]) => labels.some((l) => OBJECT_NAMES.includes(l)) && !labels.includes('namespace'))
      .map(([name, labels]) => `${component}: ${name}{${labels.join(',')}}`));
    expect(missing).toEqual([]);
  });

  it('include the per-pool and per-Tunnel series this rule is about', () => {
    const { controller, gateway } = labelNames();
    expect(controller.get('fleetwright_testrun_duration_seconds')).toEqual(['namespace', 'pool', 'result']);
    expect(controller.get('fleetwright_tests_total')).toEqual(['namespace', 'pool', 'result']);
    expect(controller.get('fleetwright_testrun_queue_seconds')).toEqual(['namespace', 'pool']);
    expect(gateway.get('fleetwright_browser_acquire_seconds')).toEqual(['namespace', 'pool', 'source']);
    expect(gateway.get('fleetwright_tunnel_connections_total')).toEqual(['namespace', 'tunnel', 'result']);
  });
});
