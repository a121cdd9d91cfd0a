// The runner's install decision and its outcomes, with real npm on the host:
// nothing here reaches a registry (a stale lockfile fails before any fetch; the
// unreachable registry is a closed port on loopback; a cache hit comes from a
// loopback server standing in for the report store).
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { create as createTar } from 'tar';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runnerFailureMessage, runnerFailureReason } from '../../../src/contracts/runner-failure.ts';
import { DEPENDENCY_CACHE_URL_ENV } from '../../../src/contracts/report-store.ts';
import { DependenciesError, type InstallContext, installDependencies } from '../../../src/runner/install.ts';

const root = resolve(import.meta.dirname, '../../..');
const fixture = join(root, 'test/fixtures/webserver-bin');
const appNodeModules = join(root, 'node_modules');
const log = pino({ level: 'silent' });

let scratch: string;
let source: string;
let work: string;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'fw-install-'));
  source = join(scratch, 'source');
  work = join(scratch, 'work');
  cpSync(fixture, source, { recursive: true });
  mkdirSync(work);
});

afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** npm's own cache empty, as in a fresh runner pod: a tarball cached on the host would spare npm the registry. */
const context = (env: NodeJS.ProcessEnv = process.env, tokenFile?: string): InstallContext => ({
  source,
  workRoot: work,
  appNodeModules,
  env: { ...env, npm_config_cache: join(scratch, 'npm-cache') },
  log,
  ...(tokenFile ? { tokenFile } : {}),
});

const failure = async (ctx: InstallContext) => {
  const err = await installDependencies(ctx).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DependenciesError);
  return (err as Error).message;
};

describe('installDependencies', () => {
  it('installs nothing for a suite without package.json', async () => {
    rmSync(join(source, 'package.json'));
    expect(await installDependencies(context())).toBeUndefined();
  });

  it('refuses a suite with dependencies and no lockfile, saying to commit one', async () => {
    rmSync(join(source, 'package-lock.json'));
    expect(await failure(context())).toMatch(/no lockfile: commit one/);
  });

  it('says the lockfile is out of date when package.json asks for more than it holds', async () => {
    const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
    manifest.devDependencies['left-pad'] = '1.3.0';
    writeFileSync(join(source, 'package.json'), JSON.stringify(manifest));
    const message = await failure(context());
    expect(message).toMatch(/^lockfile out of date with package.json: run the install locally/);
    expect(message).toMatch(/npm (error|ERR!)/);
  }, 60_000);

  it('says the registry is unreachable, with npm\'s last lines and the token masked', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as AddressInfo;
    closed.close();
    writeFileSync(join(source, '.npmrc'),
      `registry=http://127.0.0.1:${port}/\n//127.0.0.1:${port}/:_authToken=npm_SECRETSECRET\nfetch-retries=0\n`);
    const message = await failure(context());
    expect(message).toMatch(/^the registry is unreachable from the runner pod/);
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('SECRETSECRET');
    const terminated = runnerFailureMessage('DependenciesFailed', message);
    expect(runnerFailureReason(terminated)).toBe('DependenciesFailed');
    expect(Buffer.byteLength(terminated)).toBeLessThanOrEqual(4096);
  }, 60_000);

  describe('with a cache', () => {
    let store: Server;
    let authorization: string | undefined;
    const servers: Server[] = [];
    afterAll(() => servers.forEach((s) => s.close()));

    it('restores node_modules from a hit without installing, and links fleetwright\'s Playwright in', async () => {
      const packed = join(scratch, 'entry');
      mkdirSync(join(packed, 'node_modules/http-server/bin'), { recursive: true });
      writeFileSync(join(packed, 'node_modules/http-server/package.json'), '{"name":"http-server","version":"14.1.1"}');
      const tgz = join(scratch, 'entry.tgz');
      await createTar({ gzip: true, cwd: packed, file: tgz }, ['node_modules']);
      store = createServer((req, res) => {
        authorization = req.headers.authorization;
        res.writeHead(200, { 'content-type': 'application/gzip' }).end(readFileSync(tgz));
      });
      servers.push(store);
      await new Promise<void>((done) => store.listen(0, '127.0.0.1', done));
      const token = join(scratch, 'token');
      writeFileSync(token, 'upload-token\n');
      const url = `http://127.0.0.1:${(store.address() as AddressInfo).port}/dependencies/ci/checkout/`;
      // No npm on the PATH: a hit must not install.
      const nodeModules = await installDependencies(context({ [DEPENDENCY_CACHE_URL_ENV]: url, PATH: '' }, token));
      expect(nodeModules).toBe(join(work, 'dependencies/node_modules'));
      expect(authorization).toBe('Bearer upload-token');
      expect(JSON.parse(readFileSync(join(nodeModules ?? '', 'http-server/package.json'), 'utf8')).version).toBe('14.1.1');
      const link = join(nodeModules ?? '', '@playwright/test');
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(join(appNodeModules, '@playwright/test'));
    });
  });
});
