// The CLI's command lines, its kubeconfig lookup (as kubectl's), its error
// messages, and the TestRun and snippet it makes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/runtime/usage.ts';
import { explain, loadTarget } from '../../../src/cli/kube.ts';
import { defaultName, parseRunArgs, repositoryName, testRunManifest } from '../../../src/cli/run.ts';
import { tunnelSnippet } from '../../../src/cli/tunnel.ts';
import { ApiError } from '../../../src/runtime/rest.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'fleetwright-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('fleetwright run arguments', () => {
  it('names the registry Secret of the suite\'s install with --npmrc-secret', () => {
    const parsed = parseRunArgs(['./e2e', '--pool', 'chromium', '--npmrc-secret', 'npmrc']);
    expect(parsed?.request.npmrcSecret).toBe('npmrc');
    const manifest = testRunManifest(parsed!.request, 'e2e-1', 'e2e-1-tests');
    expect(manifest.spec).toMatchObject({ dependencies: { npmrcSecretRef: { name: 'npmrc' } } });
  });

  it('takes a folder and a pool, and passes what follows -- to playwright test', () => {
    const parsed = parseRunArgs(['./e2e', '--pool', 'chromium', '--shards=4', '-f', '-n', 'team-a', '--', '--grep', '@smoke']);
    expect(parsed?.request).toEqual({
      dir: './e2e', pool: 'chromium', shards: 4, follow: true, playwrightArgs: ['--grep', '@smoke'],
      timeoutSeconds: undefined, ttlSeconds: undefined,
    });
    expect(parsed?.values.namespace).toBe('team-a');
    expect(parseRunArgs(['.', '--pool', 'p', '--help'])).toBeUndefined();
  });

  it('says what is missing or wrong, and where the help is', () => {
    expect(() => parseRunArgs(['--pool', 'p'])).toThrow(/expected one folder.*got none/);
    expect(() => parseRunArgs(['a', 'b', '--pool', 'p'])).toThrow(/got a b/);
    expect(() => parseRunArgs(['.'])).toThrow('--pool is required');
    expect(() => parseRunArgs(['.', '--pool', 'p', '--shards', '0'])).toThrow('--shards=0: expected a whole number from 1 to 100');
    expect(() => parseRunArgs(['.', '--pool', 'p', '--name', 'Bad_Name'])).toThrow(/--name=Bad_Name: expected at most 50/);
    expect(() => parseRunArgs(['.', '--pool', 'p', '--colour'])).toThrow(UsageError);
    expect(() => parseRunArgs(['.', '--pool', 'p', '--colour'])).toThrow(/Unknown option '--colour'.*see fleetwright run --help/);
  });

  it('names the run after its folder', () => {
    expect(defaultName('/work/My E2E_tests/', 'a1b2c')).toBe('my-e2e-tests-a1b2c');
    expect(defaultName('/', 'a1b2c')).toBe('run-a1b2c');
    expect(defaultName(`/x/${'long-'.repeat(20)}`, 'a1b2c').length).toBeLessThanOrEqual(50);
  });

  it('takes --git instead of a folder, with its revision, path and Secret', () => {
    const parsed = parseRunArgs(['--git', 'https://git.example.com/team/app.git', '--revision', 'main', '--path', 'e2e',
      '--secret', 'git', '--pool', 'chromium']);
    expect(parsed?.request).toEqual({
      git: { url: 'https://git.example.com/team/app.git', revision: 'main', path: 'e2e', secret: 'git' },
      pool: 'chromium', shards: 1, follow: false, playwrightArgs: [], timeoutSeconds: undefined, ttlSeconds: undefined,
    });
    expect(parseRunArgs(['--git=http://10.244.0.1:8418/suite.git', '--pool', 'p'])?.request.git)
      .toEqual({ url: 'http://10.244.0.1:8418/suite.git' });
  });

  it('says what is wrong with --git', () => {
    const url = 'https://git.example.com/team/app.git';
    expect(() => parseRunArgs(['.', '--git', url, '--pool', 'p']))
      .toThrow('--git runs a repository, not a folder: drop ., or drop --git');
    expect(() => parseRunArgs(['--git', 'git://github.com/team/app.git', '--pool', 'p']))
      .toThrow('--git=git://github.com/team/app.git: expected an https://, http:// or ssh:// repository URL, or [user@]host:path');
    expect(() => parseRunArgs(['--git', 'git@github.com:team/app.git', '--pool', 'p']))
      .toThrow('--git=git@github.com:team/app.git: an ssh URL needs --secret, a Secret with keys identity (the private ' +
        'key) and known_hosts');
    expect(parseRunArgs(['--git', 'git@github.com:team/app.git', '--secret', 'deploy-key', '--pool', 'p'])?.request.git)
      .toEqual({ url: 'git@github.com:team/app.git', secret: 'deploy-key' });
    expect(() => parseRunArgs(['--git', 'https://me:tok@github.com/team/app.git', '--pool', 'p']))
      .toThrow('--git: the URL must not carry credentials: put them in a Secret and pass --secret');
    expect(() => parseRunArgs(['.', '--revision', 'main', '--pool', 'p']))
      .toThrow('--revision goes with --git: it says which part of the repository to run');
    expect(() => parseRunArgs(['--git', url])).toThrow('--pool is required');
  });

  it('makes a TestRun of the repository, named after it', () => {
    const request = parseRunArgs(['--git', 'https://git.example.com/team/My-App.git/', '--path', 'e2e', '--secret', 'git',
      '--pool', 'chromium'])!.request;
    expect(repositoryName(request.git!.url)).toBe('My-App');
    expect(testRunManifest(request, 'my-app-1a2b3').spec).toEqual({
      poolRef: { name: 'chromium' },
      source: { git: { url: 'https://git.example.com/team/My-App.git/', path: 'e2e', secretRef: { name: 'git' } } },
      shards: 1,
    });
  });

  it('makes a TestRun of the ConfigMap, with the arguments for the runner', () => {
    const request = parseRunArgs(['e2e', '--pool', 'chromium', '--shards', '2', '--ttl', '600', '--', '--project', 'mobile'])!.request;
    expect(testRunManifest(request, 'e2e-1a2b3', 'e2e-1a2b3-tests')).toEqual({
      apiVersion: 'fleetwright.dev/v1alpha1',
      kind: 'TestRun',
      metadata: { name: 'e2e-1a2b3', labels: { 'app.kubernetes.io/managed-by': 'fleetwright-cli' } },
      spec: {
        poolRef: { name: 'chromium' },
        source: { configMap: { name: 'e2e-1a2b3-tests' } },
        shards: 2,
        runner: { args: ['--project', 'mobile'] },
        ttlSecondsAfterFinished: 600,
      },
    });
  });
});

const kubeconfig = (name: string, server: string, namespace?: string) => {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    'clusters': [{ name: `${name}-cluster`, cluster: { server } }],
    'users': [{ name: `${name}-user`, user: { token: 'x' } }],
    'contexts': [
      { name, context: { cluster: `${name}-cluster`, user: `${name}-user`, ...(namespace ? { namespace } : {}) } },
    ],
    'current-context': name,
  }));
  return path;
};

describe('finding the cluster as kubectl does', () => {
  it('reads --kubeconfig, else $KUBECONFIG (the first file\'s context wins), else ~/.kube/config', () => {
    const a = kubeconfig('a', 'https://127.0.0.1:6443', 'team-a');
    const b = kubeconfig('b', 'https://10.0.0.1:6443');
    expect(loadTarget({ kubeconfig: b }, { KUBECONFIG: a })).toMatchObject({ context: 'b', namespace: 'default' });
    const list = `${join(tmp, 'missing')}:${a}:${b}`;
    expect(loadTarget({}, { KUBECONFIG: list })).toMatchObject({ context: 'a', namespace: 'team-a', server: 'https://127.0.0.1:6443' });
    expect(loadTarget({ context: 'b' }, { KUBECONFIG: list })).toMatchObject({ context: 'b', server: 'https://10.0.0.1:6443' });
    expect(loadTarget({ namespace: 'other' }, { KUBECONFIG: a }).namespace).toBe('other');
  });

  it('says what to fix when there is no kubeconfig or no such context', () => {
    expect(() => loadTarget({}, {}, join(tmp, 'no-home'))).toThrow(/no kubeconfig: set KUBECONFIG, pass --kubeconfig/);
    expect(() => loadTarget({ kubeconfig: join(tmp, 'nope') }, {})).toThrow(/--kubeconfig .*nope: no such file/);
    expect(() => loadTarget({}, { KUBECONFIG: join(tmp, 'nope') })).toThrow(/names no existing file/);
    expect(() => loadTarget({ context: 'c' }, { KUBECONFIG: kubeconfig('d', 'https://x') })).toThrow(
      /--context c: no such context in KUBECONFIG=.* \(it has: d\)/);
  });

  it('tells an unreachable cluster, bad credentials and missing CRDs apart', () => {
    const target = loadTarget({}, { KUBECONFIG: kubeconfig('e', 'https://127.0.0.1:1') });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(String(explain(refused, target))).toMatch(
      /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\): is the cluster running\? The address comes from context "e"/);
    expect(String(explain(new ApiError('GET', '/x', 401, { reason: 'Unauthorized' }), target))).toMatch(/did not accept the credentials/);
    const missing = new ApiError('GET', '/apis/fleetwright.dev/v1alpha1/namespaces/x/testruns', 404,
      { reason: 'NotFound', message: 'the server could not find the requested resource' });
    expect(String(explain(missing, target))).toMatch(/Fleetwright's CRDs are not installed/);
    const other = new Error('something else');
    expect(explain(other, target)).toBe(other);
  });
});

describe('fleetwright tunnel', () => {
  const tunnel = (status: object, allowExposeNetwork = true, allowCDP = true) => ({
    apiVersion: 'fleetwright.dev/v1alpha1' as const,
    kind: 'Tunnel',
    metadata: { name: 'dev', namespace: 'team-a' },
    spec: {
      poolRefs: [{ name: 'chromium' }], auth: { secretRef: { name: 'dev-token', key: 'token' } }, maxConnections: 10,
      idleTimeoutSeconds: 300, maxSessionSeconds: 3600, allowExposeNetwork, allowCDP, queueTimeoutSeconds: 30,
      recording: { video: 'Never' as const, log: 'Never' as const }, liveView: { takeover: false },
    },
    status,
  });
  const ready = [{ type: 'Ready', status: 'True' as const, reason: 'Serving', message: '', lastTransitionTime: '' }];

  it('prints a connect() snippet with the URL and the token from the environment, never the token', () => {
    const { snippet, warnings } = tunnelSnippet(tunnel({
      url: 'wss://browsers.example.com/tunnels/team-a/dev', versions: ['1.65'], conditions: ready,
    }), '-n team-a');
    expect(warnings).toEqual([]);
    const text = snippet.join('\n');
    expect(text).toContain('const browser = await chromium.connect(\'wss://browsers.example.com/tunnels/team-a/dev\', {');
    expect(text).toContain('  headers: { Authorization: `Bearer ${process.env.FLEETWRIGHT_TOKEN}` },');
    expect(text).toContain('export FLEETWRIGHT_TOKEN=$(fleetwright tunnel dev -n team-a --print-token)');
    expect(text).toContain('use a Playwright 1.65 client');
    const several = tunnelSnippet(tunnel({
      url: 'wss://browsers.example.com/tunnels/team-a/dev', versions: ['1.65', '1.66', '1.64', '1.63'], conditions: ready,
    }), '-n team-a');
    expect(several.snippet.join('\n')).toContain('use a Playwright 1.65, 1.66, 1.64 or 1.63 client');
    expect(text).toContain('// exposeNetwork: \'<loopback>\'');
  });

  it('warns when the Tunnel is not Ready or its URL lacks the gateway\'s address', () => {
    const { snippet, warnings } = tunnelSnippet(tunnel({
      url: '/tunnels/team-a/dev',
      conditions: [{ type: 'Ready', status: 'False' as const, reason: 'NoGateway', message: 'no gateway serves it', lastTransitionTime: '' }],
    }, false), '-n team-a');
    expect(warnings).toEqual([
      'Tunnel team-a/dev is not Ready (NoGateway): no gateway serves it',
      expect.stringMatching(/status\.url is a path only: the controller runs without --gateway-url/),
    ]);
    expect(snippet.join('\n')).toContain('wss://<gateway address>/tunnels/team-a/dev');
    expect(snippet.join('\n')).toContain('refuses exposeNetwork');
  });

  it('prints how Puppeteer, connectOverCDP and @playwright/mcp reach the CDP endpoint, unless allowCDP is false', () => {
    const url = 'wss://browsers.example.com/tunnels/team-a/dev';
    const text = tunnelSnippet(tunnel({ url, conditions: ready }), '-n team-a').snippet.join('\n');
    expect(text).toContain(`puppeteer.connect({ browserWSEndpoint: \`${url}/cdp?token=\${process.env.FLEETWRIGHT_TOKEN}\` })`);
    expect(text).toContain('chromium.connectOverCDP(\'https://browsers.example.com/tunnels/team-a/dev/cdp\', ' +
      '{ headers: { Authorization: `Bearer ${process.env.FLEETWRIGHT_TOKEN}` } })');
    expect(text).toContain('npx @playwright/mcp --cdp-endpoint https://browsers.example.com/tunnels/team-a/dev/cdp ' +
      '--cdp-header "Authorization: Bearer $FLEETWRIGHT_TOKEN"');
    const refused = tunnelSnippet(tunnel({ url, conditions: ready }, true, false), '-n team-a').snippet.join('\n');
    expect(refused).toContain('refuses Chrome DevTools Protocol clients: allowCDP is false');
    expect(refused).not.toContain('/cdp');
  });
});
