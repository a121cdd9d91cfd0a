import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BrowserPoolSpec, RecordingPolicy as ApiRecordingPolicy, TestRunSpec, TunnelSpec } from '../../src/api/v1alpha1/index.ts';
import { isContainedPath } from '../../src/contracts/suite-layout.ts';
import { RecordingPolicy } from '../../src/contracts/tunnel-session.ts';

describe('schema defaults', () => {
  it('gives a BrowserPool one chromium browser serving one session at a time', () => {
    expect(BrowserPoolSpec.parse({})).toEqual({
      browser: 'chromium',
      replicas: 1,
      sessionsPerBrowser: 1,
      maxSessionSeconds: 3600,
    });
  });

  it('fills autoscaling defaults only when autoscaling is set', () => {
    expect(BrowserPoolSpec.parse({ autoscaling: { maxReplicas: 3 } }).autoscaling).toEqual({
      minReplicas: 0,
      maxReplicas: 3,
      idleBuffer: 1,
      scaleDownDelaySeconds: 60,
    });
  });

  it('runs a TestRun in one shard with two infrastructure retries and an hour deadline', () => {
    const spec = TestRunSpec.parse({ poolRef: { name: 'p' }, source: { configMap: { name: 'suite' } } });
    expect(spec).toMatchObject({
      shards: 1,
      retries: 2,
      timeoutSeconds: 3600,
      priority: 0,
      cleanupPolicy: 'Always',
    });
    expect(spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  it('looks for tests in /tests of an image source', () => {
    const spec = TestRunSpec.parse({
      poolRef: { name: 'p' },
      source: { image: {} },
      runner: { image: 'suite:1' },
    });
    expect(spec.source.image).toEqual({ workingDir: '/tests' });
  });

  it('reads a Tunnel token from the key "token" and bounds connections and time', () => {
    expect(TunnelSpec.parse({ poolRefs: [{ name: 'p' }], auth: { secretRef: { name: 's' } } })).toEqual({
      poolRefs: [{ name: 'p' }],
      auth: { secretRef: { name: 's', key: 'token' } },
      maxConnections: 100,
      allowExposeNetwork: true,
      allowCDP: true,
      idleTimeoutSeconds: 300,
      maxSessionSeconds: 3600,
      queueTimeoutSeconds: 30,
      recording: { video: 'Never', log: 'Never' },
      liveView: { takeover: false },
    });
  });
});

describe('a git source', () => {
  const run = (git: Record<string, unknown>) => ({ poolRef: { name: 'p' }, source: { git } });
  const messages = (spec: unknown) => {
    const parsed = TestRunSpec.safeParse(spec);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes a repository URL alone, leaving revision, path and credentials unset', () => {
    const spec = TestRunSpec.parse(run({ url: 'https://git.example.com/team/e2e.git' }));
    expect(spec.source.git).toEqual({ url: 'https://git.example.com/team/e2e.git' });
  });

  it('takes a revision, a path and a Secret', () => {
    const git = { url: 'http://10.244.0.1:8418/e2e.git', revision: 'release/1.2', path: 'apps/web/e2e', secretRef: { name: 'git' } };
    expect(TestRunSpec.parse(run(git)).source.git).toEqual(git);
  });

  it.each(['git://host/e2e.git', 'file:///srv/e2e', '/srv/e2e.git', 'e2e', 'https://'])(
    'refuses %s: git fetches https, http and ssh only', (url) => {
      expect(messages(run({ url }))).toContain('source.git.url: url must be an https://, http:// or ssh:// URL, or [user@]host:path');
    });

  it.each(['ssh://git@github.com/team/e2e.git', 'ssh://10.244.0.1:2222/srv/e2e.git', 'git@github.com:team/e2e.git',
    'gitolite@git.example.com:/srv/e2e.git', 'host:e2e.git'])('takes the ssh URL %s with a Secret, and not without', (url) => {
    expect(messages(run({ url, secretRef: { name: 'deploy-key' } }))).toEqual([]);
    expect(messages(run({ url }))).toEqual([
      'source.git.secretRef: an ssh url needs secretRef: a Secret with keys identity (the private key) and known_hosts',
    ]);
  });

  it.each(['https://me:ghp_secret@github.com/team/e2e.git', 'https://ghp_secret@github.com/team/e2e.git',
    'ssh://git:hunter22@github.com/team/e2e.git'])('refuses credentials in the URL %s and names secretRef', (url) => {
    expect(messages(run({ url, secretRef: { name: 'git' } }))).toContain(
      'source.git.url: url must not carry credentials: put them in a Secret and name it in secretRef');
  });

  it.each([
    ['apps/e2e', true], ['e2e', true], ['a/.hidden/b', true],
    ['../other', false], ['a/../../b', false], ['/etc', false], ['a//b', false], ['a/', false], ['.', false], ['a/./b', false],
    ['a\\b', false], ['', false],
  ])('takes path %j only when isContainedPath does (%s)', (path, contained) => {
    expect(isContainedPath(path)).toBe(contained);
    expect(TestRunSpec.safeParse(run({ url: 'https://h/r.git', path })).success).toBe(contained);
  });

  it('accepts the git sample of config/samples', () => {
    const docs = parseAllDocuments(readFileSync(new URL('../../config/samples/git/testrun.yaml', import.meta.url), 'utf8'));
    const run = docs.map((d) => d.toJS() as { kind: string; spec: unknown }).find((d) => d.kind === 'TestRun');
    expect(TestRunSpec.safeParse(run?.spec).success).toBe(true);
  });

  it('refuses a git source beside another source', () => {
    expect(messages({ poolRef: { name: 'p' }, source: { configMap: { name: 's' }, git: { url: 'https://h/r.git' } } }))
      .toContain('source: source must set exactly one of configMap, image or git');
  });
});

describe('a Tunnel\'s recording policies', () => {
  it('are the ones the gateway and the agent agree on (the API declares its own, importing nothing of ours)', () => {
    expect(ApiRecordingPolicy.options).toEqual(RecordingPolicy.options);
  });
});
