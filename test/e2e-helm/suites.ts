// What the suite runs through the installed operator besides config/samples:
// a second run of the sample suite, and a run that holds until the test opens
// a gate, so that it is certainly running while the operator is upgraded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { NODE_IP } from '../../hack/lib/node.ts';
import { getJson, type KubeObject } from './kube.ts';
import { samples } from './release.ts';

interface Shard {
  index: number;
  phase: string;
  runnerPod?: string;
  attempts?: number;
  passed?: number;
  failed?: number;
  report?: string;
}

export interface TestRun extends KubeObject {
  status?: {
    phase?: string;
    shards?: Shard[];
    summary?: { passed?: number; failed?: number; flaky?: number; skipped?: number };
    reportURL?: string;
    conditions?: { type: string; status: string; message?: string }[];
  };
}

export const getRun = (name: string) => getJson<TestRun>(['testrun.fleetwright.dev', name, '-n', samples]);

/** The run once it has finished, whichever way. */
export function finished(name: string): TestRun | undefined {
  const run = getRun(name);
  return ['Succeeded', 'Failed', 'Error'].includes(run?.status?.phase ?? '') ? run : undefined;
}

export const testRun = (name: string, suite: string, shards: number) => stringify({
  apiVersion: 'fleetwright.dev/v1alpha1',
  kind: 'TestRun',
  metadata: { name },
  spec: { poolRef: { name: 'chromium' }, source: { configMap: { name: suite } }, shards, timeoutSeconds: 300 },
});

/**
 * A server on the node's bridge address, which runner pods reach: GET /gate
 * answers `closed` until open() is called, then `open`. `asked` turns true
 * with the first request, so the test knows the suite is running.
 */
export class Gate {
  private server: Server | undefined;
  private opened = false;
  asked = false;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.asked = true;
      res.end(this.opened ? 'open' : 'closed');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, NODE_IP, resolve));
    return `http://${NODE_IP}:${(this.server.address() as AddressInfo).port}/gate`;
  }

  open(): void {
    this.opened = true;
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}

/** A one-test suite that loads a page on its browser, then waits until the gate at `url` opens. */
export const gatedSuite = (name: string, url: string) => stringify({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: {
    'playwright.config.ts': [
      'import { defineConfig } from \'@playwright/test\';',
      'export default defineConfig({ testDir: \'.\', reporter: \'list\', timeout: 240_000 });',
      '',
    ].join('\n'),
    'gated.spec.ts': [
      'import { expect, test } from \'@playwright/test\';',
      '',
      'test(\'holds its browser until the gate opens\', async ({ page }) => {',
      '  await page.setContent(\'<title>gated</title>\');',
      '  await expect(page).toHaveTitle(\'gated\');',
      `  const gate = async () => (await fetch(${JSON.stringify(url)})).text();`,
      '  await expect.poll(gate, { timeout: 230_000, intervals: [250] }).toBe(\'open\');',
      '  await expect(page).toHaveTitle(\'gated\');',
      '});',
      '',
    ].join('\n'),
  },
});
