// The process shell every server shares (runProcess), and the three servers
// built on it, against a quiet fake API server: every list is empty, every
// watch stays open, every write is accepted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../../../src/controllers/config.ts';
import { controllers, runControllerCommand } from '../../../src/controllers/process.ts';
import { parseGatewayArgs } from '../../../src/gateway/config.ts';
import { runGateway } from '../../../src/gateway/index.ts';
import { parseReportStoreArgs } from '../../../src/reports/config.ts';
import { runReportStore } from '../../../src/reports/index.ts';
import { ProcessMetrics } from '../../../src/runtime/metrics.ts';
import { runProcess, type RunningProcess } from '../../../src/runtime/process.ts';

let api: Server | undefined;
let kubeconfig = '';
let running: RunningProcess[] = [];

beforeEach(async () => {
  api = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') return void res.flushHeaders();
    if (req.method !== 'GET') return void req.pipe(res);
    res.end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((resolve) => api?.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'fw-process-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    // client-node allows plain HTTP only with skipTLSVerify.
    'clusters': [{ name: 'fake', cluster: { 'server': `http://127.0.0.1:${(api.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
    'users': [{ name: 'u', user: { token: 't' } }],
    'contexts': [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
    'current-context': 'fake',
  }));
});

afterEach(async () => {
  await Promise.all(running.map((p) => p.shutdown()));
  running = [];
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
});

const local = '127.0.0.1:0';
const text = async (url: string) => (await fetch(url)).text();
/** The sample of rest_client_requests_total for successful GETs. */
const successfulGets = (metrics: string) =>
  Number(/^rest_client_requests_total\{method="GET",code="200"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);

describe('runProcess', () => {
  it('serves /metrics with the API requests the process made, answers its probes, and stops its parts once', async () => {
    let ready = false;
    const stops: string[] = [];
    const shell = await runProcess({
      logLevel: 'silent',
      kubeconfig,
      metrics: new ProcessMetrics(),
      metricsBind: { host: '127.0.0.1', port: 0 },
      probeBind: { host: '127.0.0.1', port: 0 },
      setup: ({ rest }) => ({
        start: async () => {
          await rest.get('/api/v1/namespaces');
        },
        notReady: () => (ready ? undefined : 'not yet'),
        stop: async (signal) => {
          stops.push(signal);
        },
      }),
    });
    const { metrics, probes } = shell.urls as { metrics: string; probes: string };

    expect(successfulGets(await text(`${metrics}/metrics`))).toBe(1);
    expect((await fetch(`${probes}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${probes}/readyz`);
    expect(notReady.status).toBe(500);
    expect(await notReady.text()).toBe('not yet\n');
    ready = true;
    expect((await fetch(`${probes}/readyz`)).status).toBe(200);

    await Promise.all([shell.shutdown('SIGTERM'), shell.shutdown('SIGINT')]);
    expect(stops).toEqual(['SIGTERM']);
    await expect(fetch(`${metrics}/metrics`)).rejects.toThrow();
  });
});

describe('every server process', () => {
  it('exports rest_client_requests_total for its requests to the API server', async () => {
    const silent = [`--kubeconfig=${kubeconfig}`, '--log-level=silent'];
    const controllerConfig = parseControllerArgs([
      ...silent, `--metrics-bind-address=${local}`, `--health-probe-bind-address=${local}`,
    ]);
    const processes = {
      controller: await runControllerCommand(controllerConfig, controllers(controllerConfig)),
      gateway: await runGateway(parseGatewayArgs([
        ...silent, `--bind-address=${local}`, `--metrics-bind-address=${local}`, '--shutdown-timeout=1s',
      ])),
      reportStore: await runReportStore(parseReportStoreArgs([
        ...silent, `--bind-address=${local}`, `--metrics-bind-address=${local}`, '--public-url=http://reports.example.com',
        `--path=${mkdtempSync(join(tmpdir(), 'fw-reports-'))}`,
      ])),
    };
    running = Object.values(processes);
    for (const [name, started] of Object.entries(processes)) {
      const metrics = await text(`${started.urls.metrics}/metrics`);
      expect(successfulGets(metrics), name).toBeGreaterThan(0);
    }
  });
});
