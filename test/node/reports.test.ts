// The merged Playwright report of a TestRun, end to end on the real node: the
// controller mints the run's upload token, each runner pod writes its shard's
// blob report and uploads it to `fleetwright report-store` (on this host, at
// the node's bridge address), the store merges them once the run has
// finished and publishes status.reportURL, and chromium opens it there.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_IP } from '../../hack/lib/node.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { SECRET } from '../../src/api/builtin.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { TEST_RUN } from '../../src/api/resources.ts';
import { REPORT_READER_SECRET, REPORT_TOKEN_KEY, reportTokenSecret } from '../../src/contracts/report-store.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { kubectlInBackground, useNamespace } from '../integration/helpers.ts';
import { type ControllerProcess, eventually, rest, startReportStore } from '../integration/runtime/support.ts';
import { apply, poolManifest, useController, waitForPool } from './pools.ts';

const ns = useNamespace('reports');
const suiteDir = join(repoRoot, 'test', 'fixtures', 'report-suite');
let storeDir = '';
let store: ControllerProcess;
let storeAddress = '';
const storeUrl = () => storeAddress;

type RunObject = KubeObject & {
  status?: {
    phase?: string;
    reportURL?: string;
    summary?: { passed?: number; failed?: number };
    shards?: { report?: string }[];
  };
};
const getRun = (name: string) => rest().get<RunObject>(objectPath(TEST_RUN, { namespace: ns.name, name }));

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'fleetwright-reports-'));
  // Runner pods reach this host at the bridge address, as they would reach the store's Service.
  ({ store, url: storeAddress } = await startReportStore(NODE_IP, [
    '--metrics-bind-address=0',
    `--watch-namespace=${ns.name}`,
    '--backend=filesystem',
    `--path=${storeDir}`,
    '--log-level=debug',
  ]));
  const data = Object.fromEntries(readdirSync(suiteDir).filter((f) => f.endsWith('.ts') && !f.includes('s3'))
    .map((f) => [f, readFileSync(join(suiteDir, f), 'utf8')]));
  await rest().create(`/api/v1/namespaces/${ns.name}/configmaps`, { metadata: { name: 'suite' }, data });
});
const controller = useController(() => ns.name, () => [`--report-store-url=${storeUrl()}`, '--log-level=debug']);
/** The run's upload token and the namespace's read token, for the check that no process logged them. */
const tokens: string[] = [];
const secretToken = async (name: string) => {
  const secret = await rest().get<{ data: Record<string, string> }>(objectPath(SECRET, { namespace: ns.name, name }));
  return Buffer.from(secret.data[REPORT_TOKEN_KEY] ?? '', 'base64').toString('utf8');
};

afterAll(async () => {
  await store?.kill('SIGTERM');
  rmSync(storeDir, { recursive: true, force: true });
});

describe('the report of a TestRun', () => {
  it('merges both shards\' blob reports into one HTML report that chromium opens at status.reportURL, trace included', async () => {
    apply(ns.name, poolManifest('browsers', 'replicas: 2'));
    await waitForPool(ns.name, 'browsers', 'two idle', (p) => p.status?.idle === 2, 120_000);
    apply(ns.name, `
apiVersion: fleetwright.dev/v1alpha1
kind: TestRun
metadata: { name: checkout }
spec: { poolRef: { name: browsers }, source: { configMap: { name: suite } }, shards: 2 }
`);
    const run = await eventually('the run finished with its report URL', async () => {
      const r = await getRun('checkout');
      return r.status?.reportURL ? r : undefined;
    }, 120_000);
    expect(run.status).toMatchObject({ phase: 'Failed', summary: { passed: 3, failed: 1 } });
    expect(run.status?.shards?.map((s) => s.report)).toEqual(['Uploaded', 'Uploaded']);
    const url = `${storeUrl()}/reports/${ns.name}/checkout/`;
    expect(run.status?.reportURL).toBe(url);

    const token = await secretToken(REPORT_READER_SECRET);
    tokens.push(token, await secretToken(reportTokenSecret('checkout')));
    expect((await fetch(url)).status).toBe(401);

    // The trace viewer needs a secure context for its service worker; the bridge address is plain http.
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [`--unsafely-treat-insecure-origin-as-secure=${storeUrl()}`],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${url}?token=${token}`);
      expect(page.url()).toBe(url);
      const titles = page.locator('.test-file-test .test-file-title');
      await titles.first().waitFor();
      // Every shard's tests, each exactly once.
      expect((await titles.allTextContents()).sort()).toEqual([
        'cart has a check-out button',
        'cart lists its items',
        'checkout asks for a card',
        'checkout confirms the order',
      ]);
      await page.getByText('checkout confirms the order').click();
      await page.getByRole('link', { name: 'View Trace' }).first().click();
      await page.waitForURL(/\/trace\/index\.html/);
      const snapshot = page.frameLocator('iframe.snapshot-visible[name=snapshot]');
      await snapshot.getByRole('button', { name: 'Pay' }).waitFor({ timeout: 15_000 });
    } finally {
      await browser.close();
    }
  }, 180_000);

  it('is deleted with its TestRun', async () => {
    const uid = (await getRun('checkout')).metadata.uid ?? '';
    const stored = join(storeDir, ns.name, 'checkout', uid);
    expect(existsSync(stored)).toBe(true);
    expect((await kubectlInBackground(['delete', 'tr', 'checkout', '-n', ns.name, '--wait=true', '--timeout=60s'])).status).toBe(0);
    await eventually('the report deleted', () => !existsSync(stored));
  });

  it('has its tokens logged by neither the controller nor the store at debug level: whole, in base64, or a prefix', () => {
    const text = JSON.stringify([...controller.process.lines, ...store.lines]);
    expect(tokens).toHaveLength(2);
    // Both logs cover the run: the controller's reconciles of it and the store's uploads and merge.
    expect(controller.process.lines.filter((l) => JSON.stringify(l).includes('checkout')).length).toBeGreaterThan(0);
    expect(store.lines.filter((l) => JSON.stringify(l).includes('checkout')).length).toBeGreaterThan(0);
    for (const token of tokens) {
      for (const form of [token, Buffer.from(token).toString('base64'), token.slice(0, 12)]) {
        expect(text.includes(form), `the controller or store logged ${form}`).toBe(false);
      }
    }
  });
});
