import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { collectionPath, objectPath } from '../../../src/runtime/resource.ts';
import { configMaps, secrets } from '../../fixtures/runtime/toy.ts';
import { useNamespace } from '../helpers.ts';
import { ControllerProcess, eventually, rest } from './support.ts';

const ns = useNamespace('rt-process');
const local = ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0'];

/** The names issue 3 lists: controller-runtime's, so that its dashboards work. */
const metricNames = [
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds',
  'controller_runtime_active_workers',
  'controller_runtime_max_concurrent_reconciles',
  'workqueue_depth',
  'workqueue_adds_total',
  'workqueue_retries_total',
  'workqueue_queue_duration_seconds',
  'workqueue_work_duration_seconds',
  'workqueue_longest_running_processor_seconds',
  'workqueue_unfinished_work_seconds',
  'fleetwright_leader',
  'process_resident_memory_bytes',
];

let running: ControllerProcess[] = [];
const start = (args: string[], env?: Record<string, string>) => {
  const p = new ControllerProcess(args, env);
  running.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
  running = [];
});

describe('fleetwright controller, the process', () => {
  it('serves /metrics that promtool accepts, with controller-runtime\'s names, and exits 0 on SIGTERM', async () => {
    const proc = start([...local, `--watch-namespace=${ns.name}`]);
    const api = rest();
    await api.create(collectionPath(configMaps, ns.name), {
      metadata: { name: 'm', labels: { toy: 'source' }, annotations: { 'toy/fail-times': '1' } },
      data: { a: 'b' },
    });
    await eventually('the Secret', () => api.get(objectPath(secrets, { namespace: ns.name, name: 'm' })));

    const metrics = await (await fetch(`${await proc.url('metrics')}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    expect(check.error, 'promtool missing: run bash hack/setup.sh (Debian package prometheus)').toBeUndefined();
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const present = new Set(metrics.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
    for (const name of metricNames) {
      expect([...present].some((p) => p === name || p === `${name}_bucket`), name).toBe(true);
    }
    expect(metrics).toMatch(/^controller_runtime_reconcile_total\{controller="toy",result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^controller_runtime_reconcile_errors_total\{controller="toy"\} 1$/m);
    expect(metrics).toMatch(/^fleetwright_leader 1$/m);

    expect(await proc.kill('SIGTERM')).toBe(0);
    expect(proc.logged('stopped')).toBe(true);
  });

  it('answers /healthz at once but /readyz only once the caches have synced', async () => {
    const unreachable = JSON.parse(readFileSync(inject('kubeconfig'), 'utf8')) as {
      clusters: { cluster: { server: string } }[];
    };
    for (const c of unreachable.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const path = join(mkdtempSync(join(tmpdir(), 'fw-rt-')), 'kubeconfig');
    writeFileSync(path, JSON.stringify(unreachable));
    const proc = start([...local, `--watch-namespace=${ns.name}`, `--kubeconfig=${path}`]);
    const probes = await proc.url('health probes');
    expect((await fetch(`${probes}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${probes}/readyz`);
    expect(notReady.status).toBe(500);
    expect(await notReady.text()).toMatch(/not synced/);

    const ready = start([...local, `--watch-namespace=${ns.name}`]);
    const readyProbes = await ready.url('health probes');
    await eventually('/readyz to answer 200', async () => (await fetch(`${readyProbes}/readyz`)).status === 200);
    expect(ready.logged('caches synced')).toBe(true);
  });
});
