// The end of `fleetwright run --follow` with a report store, and the reports
// `fleetwright status` lists: from TestRuns as the API server sends them.
import { describe, expect, it } from 'vitest';
import { waitForReport } from '../../../src/cli/follow.ts';
import type { TestRunObject as RunObject } from '../../../src/api/objects.ts';
import { awaitsReport, reportLines } from '../../../src/cli/render.ts';
import { statusTables } from '../../../src/cli/status.ts';

const URL_IN_CLUSTER = 'http://fleetwright-report-store.fleetwright-system.svc:8082/reports/team-a/checkout/';

function run(status: RunObject['status']): RunObject {
  return {
    metadata: { name: 'checkout', namespace: 'team-a', creationTimestamp: '2026-11-23T10:00:00Z' },
    spec: { poolRef: { name: 'chromium' }, shards: 2 },
    status,
  };
}
const shards = (a: 'Uploaded' | 'Failed' | undefined, b: 'Uploaded' | 'Failed' | undefined) => [
  { index: 1, phase: 'Succeeded' as const, passed: 3, failed: 0, ...(a ? { report: a } : {}) },
  { index: 2, phase: 'Failed' as const, passed: 1, failed: 1, ...(b ? { report: b } : {}) },
];

describe('the report at the end of a run', () => {
  it('is waited for once the run has finished and a shard uploaded, and only then', () => {
    expect(awaitsReport(run({ phase: 'Failed', shards: shards('Uploaded', 'Failed') }))).toBe(true);
    expect(awaitsReport(run({ phase: 'Running', shards: shards('Uploaded', undefined) }))).toBe(false);
    expect(awaitsReport(run({ phase: 'Failed', shards: shards('Failed', 'Failed') }))).toBe(false);
    expect(awaitsReport(run({ phase: 'Failed', shards: shards(undefined, undefined) }))).toBe(false);
    expect(awaitsReport(run({ phase: 'Failed', shards: shards('Uploaded', 'Uploaded'), reportURL: URL_IN_CLUSTER })))
      .toBe(false);
  });

  it('is printed with how to get the read token, and a port-forward for an in-cluster URL', () => {
    expect(reportLines(run({ phase: 'Failed', shards: shards('Uploaded', 'Uploaded'), reportURL: URL_IN_CLUSTER }))).toEqual([
      `Report: ${URL_IN_CLUSTER}`,
      '  It opens with the read token of namespace team-a:',
      '    kubectl get secret fleetwright-reports -n team-a -o jsonpath=\'{.data.token}\' | base64 -d',
      '  in a browser as ?token=<token> on the URL, or as the header Authorization: Bearer <token>.',
      '  From outside the cluster:',
      '    kubectl port-forward -n fleetwright-system service/fleetwright-report-store 8082:8082',
      '    then http://localhost:8082/reports/team-a/checkout/?token=<token>',
    ]);
    const reportURL = 'https://reports.example.com/reports/team-a/checkout/';
    const outside = reportLines(run({ phase: 'Succeeded', shards: shards('Uploaded', 'Uploaded'), reportURL }));
    expect(outside[0]).toBe('Report: https://reports.example.com/reports/team-a/checkout/');
    expect(outside.join('\n')).not.toContain('port-forward');
  });

  it('names the shards missing from it, or says there is none', () => {
    const partial = reportLines(run({ phase: 'Failed', shards: shards('Uploaded', 'Failed'), reportURL: URL_IN_CLUSTER }));
    expect(partial[1]).toMatch(/^ {2}Not in it: shard\(s\) 2, whose report was not uploaded/);
    expect(reportLines(run({ phase: 'Failed', shards: shards('Failed', 'Failed') }))[0])
      .toBe('No report: no shard\'s report was uploaded.');
    expect(reportLines(run({ phase: 'Failed', shards: shards('Uploaded', 'Failed') })))
      .toEqual(['The merged report is not ready yet; fleetwright status -n team-a shows its URL once it is.']);
    // No report store: nothing to say.
    expect(reportLines(run({ phase: 'Succeeded', shards: shards(undefined, undefined) }))).toEqual([]);
  });

  it('is read again until the report store has written status.reportURL, within the time allowed', async () => {
    const waiting = run({ phase: 'Failed', shards: shards('Uploaded', 'Uploaded') });
    const answers = [waiting, waiting, { ...waiting, status: { ...waiting.status, reportURL: URL_IN_CLUSTER } }];
    let reads = 0;
    const read = async () => answers[reads++] as RunObject;
    const got = await waitForReport(waiting, read, { intervalMs: 5, timeoutMs: 5_000 });
    expect(got.status?.reportURL).toBe(URL_IN_CLUSTER);
    expect(reads).toBe(3);

    const started = Date.now();
    const late = await waitForReport(waiting, async () => waiting, { intervalMs: 10, timeoutMs: 100 });
    expect(late.status?.reportURL).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const stopped = await waitForReport(waiting, async () => waiting, { intervalMs: 10_000, signal: stop.signal });
    expect(stopped.status?.reportURL).toBeUndefined();
  });
});

describe('fleetwright status', () => {
  it('lists the runs\' reports under the TestRuns table', () => {
    const now = Date.parse('2026-11-23T10:05:00Z');
    const lines = statusTables({
      pools: [],
      runs: [run({ phase: 'Failed', shards: shards('Uploaded', 'Uploaded'), reportURL: URL_IN_CLUSTER })],
      tunnels: [],
    }, now, { namespace: 'team-a', allNamespaces: false });
    const at = lines.indexOf('TestRuns:');
    expect(lines.slice(at + 3, at + 7)).toEqual([
      '',
      'Reports (add ?token=$(kubectl get secret fleetwright-reports -o jsonpath=\'{.data.token}\' | base64 -d)):',
      'RUN        URL',
      `checkout   ${URL_IN_CLUSTER}`,
    ]);
    const where = { namespace: 'team-a', allNamespaces: false };
    const none = statusTables({ pools: [], runs: [run({ phase: 'Running' })], tunnels: [] }, now, where);
    expect(none.join('\n')).not.toContain('Reports');
  });
});
