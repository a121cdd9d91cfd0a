// What the pool controller reads from a browser pod's agent (/status on its
// health port), against an HTTP server where the agent would listen: a
// loopback address of its own stands in for the pod IP.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_STATUS_PATH } from '../../../src/contracts/agent.ts';
import { AGENT_HEALTH_PORT } from '../../../src/contracts/ports.ts';
import { readPlaywrightVersions, servedVersions } from '../../../src/controllers/browserpool/agent.ts';

const POD_IP = '127.0.0.53';
let answer: { status: number; body: unknown } = { status: 200, body: {} };
let server: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== AGENT_STATUS_PATH) return void res.writeHead(404).end();
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(AGENT_HEALTH_PORT, POD_IP, resolve);
  });
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('readPlaywrightVersions', () => {
  it('reads every version an agent serves, the default first, beside what else /status says', async () => {
    answer = {
      status: 200,
      body: {
        browser: 'chromium',
        playwright: '1.65.1',
        playwrightVersions: ['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0'],
        running: ['1.65.1'],
        draining: false,
        active: 0,
      },
    };
    expect(await readPlaywrightVersions(POD_IP)).toEqual(['1.65.1', '1.66.0-alpha-2026-11-18', '1.64.1', '1.63.0']);
  });

  it('takes the one version of an agent older than playwrightVersions', async () => {
    answer = { status: 200, body: { browser: 'chromium', playwright: '1.64.1', draining: false } };
    expect(await readPlaywrightVersions(POD_IP)).toEqual(['1.64.1']);
  });

  it('fails on an answer without a version, or not 200, so that the pod is asked again', async () => {
    answer = { status: 200, body: { browser: 'chromium' } };
    await expect(readPlaywrightVersions(POD_IP)).rejects.toThrow(/status reports no Playwright version/);
    answer = { status: 200, body: { playwright: '1.65.1', playwrightVersions: ['not a version'] } };
    await expect(readPlaywrightVersions(POD_IP)).rejects.toThrow(/reports no Playwright version/);
    answer = { status: 503, body: {} };
    await expect(readPlaywrightVersions(POD_IP)).rejects.toThrow(/answered HTTP 503/);
  });
});

describe('servedVersions', () => {
  it('puts the default first and lists each version once', () => {
    expect(servedVersions({ playwright: '1.65.1', playwrightVersions: ['1.64.1', '1.65.1'] })).toEqual(['1.65.1', '1.64.1']);
    expect(servedVersions({ playwright: '1.65.1' })).toEqual(['1.65.1']);
  });
});
