// The TestRun controller's side of the report store: the runner pod that
// uploads, the Secrets it makes, the shard status it reads from a summary,
// and status.reportURL kept as the store wrote it.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SecretObject } from '../../../src/api/builtin.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { TestRunSpec } from '../../../src/api/v1alpha1/index.ts';
import { planShard, type RunnerView } from '../../../src/controllers/testrun/plan.ts';
import { runnerPod } from '../../../src/controllers/testrun/pod.ts';
import {
  dependencyCacheUrl,
  ensureReportSecrets,
  tokenSecret,
  tokenSecretState,
  uploadUrl,
  withReportURL,
} from '../../../src/controllers/testrun/report.ts';
import { readerSecret } from '../../../src/controllers/store-secrets.ts';
import type { ShardSummary } from '../../../src/contracts/shard-summary.ts';
import { ApiError, type RestClient } from '../../../src/runtime/rest.ts';
import type { Reader } from '../../../src/runtime/store.ts';

const owner = { apiVersion: 'fleetwright.dev/v1alpha1', kind: 'TestRun', name: 'checkout', uid: 'uid-1', controller: true, blockOwnerDeletion: true };
const run: KubeObject = {
  apiVersion: 'fleetwright.dev/v1alpha1',
  kind: 'TestRun',
  metadata: { name: 'checkout', namespace: 'team-a', uid: 'uid-1' },
};
const spec = {
  poolRef: { name: 'chromium' },
  source: { configMap: { name: 'suite' } },
  shards: 2,
  retries: 2,
  timeoutSeconds: 600,
  exposeNetwork: '<loopback>',
  priority: 0,
  cleanupPolicy: 'Always',
} as TestRunSpec;

type Pod = {
  spec: {
    securityContext: Record<string, unknown>;
    volumes?: { name: string; secret?: Record<string, unknown> }[];
    containers: {
      env: { name: string; value: string }[];
      volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
    }[];
  };
};
type ReportTarget = { uploadUrl: string; cacheUrl: string; secret: string };
const podOf = (report?: ReportTarget, env?: { name: string; value: string }[]) => runnerPod({
  run: { namespace: 'team-a', name: 'checkout', owner },
  spec: env ? { ...spec, runner: { env } } : spec,
  image: 'fleetwright:dev',
  index: 2,
  attempt: 1,
  endpoint: 'ws://10.244.0.9:3000/pw',
  browser: 'chromium',
  sessions: 1,
  deadlineSeconds: 600,
  ...(report ? { report } : {}),
}) as unknown as Pod;

describe('a runner pod of a run with a report store', () => {
  const report = {
    uploadUrl: uploadUrl('http://store.fw.svc:8082/', 'team-a', 'checkout', 2),
    cacheUrl: dependencyCacheUrl('http://store.fw.svc:8082/', 'team-a', 'checkout'),
    secret: 'checkout-report',
  };

  it('is told where to upload its shard and where the dependency cache is, and mounts only the token, read-only', () => {
    const pod = podOf(report);
    const container = pod.spec.containers[0]!;
    expect(container.env).toEqual(expect.arrayContaining([
      { name: 'FLEETWRIGHT_REPORT_UPLOAD_URL', value: 'http://store.fw.svc:8082/reports/team-a/checkout/shards/2' },
      { name: 'FLEETWRIGHT_REPORT_TOKEN_FILE', value: '/var/run/fleetwright/report/token' },
      { name: 'FLEETWRIGHT_DEPENDENCY_CACHE_URL', value: 'http://store.fw.svc:8082/dependencies/team-a/checkout/' },
    ]));
    expect(container.volumeMounts).toContainEqual({ name: 'report-token', mountPath: '/var/run/fleetwright/report', readOnly: true });
    expect(pod.spec.volumes).toContainEqual({
      name: 'report-token',
      secret: { secretName: 'checkout-report', items: [{ key: 'token', path: 'token' }], defaultMode: 0o440 },
    });
  });

  it('runs as before under the restricted standard, with the token readable by the runner\'s group only', () => {
    expect(podOf(report).spec.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('lets the user\'s env turn the upload off', () => {
    const env = podOf(report, [{ name: 'FLEETWRIGHT_REPORT_UPLOAD_URL', value: '' }]).spec.containers[0]!.env;
    expect(env.filter((e) => e.name === 'FLEETWRIGHT_REPORT_UPLOAD_URL').at(-1)?.value).toBe('');
  });

  it('has none of it without a report store', () => {
    const pod = podOf();
    expect(pod.spec.containers[0]!.env.map((e) => e.name)).not.toContain('FLEETWRIGHT_REPORT_UPLOAD_URL');
    expect(pod.spec.volumes?.map((v) => v.name)).toEqual(['source']);
    expect(pod.spec.securityContext).not.toHaveProperty('fsGroup');
  });

  it('escapes the names in the upload path', () => {
    expect(uploadUrl('http://s:8082', 'ns', 'a b', 1)).toBe('http://s:8082/reports/ns/a%20b/shards/1');
  });
});

describe('the report Secrets', () => {
  it('give each run a fresh token, owned by the run and labelled with its name', () => {
    const a = tokenSecret({ namespace: 'team-a', name: 'checkout', owner });
    const b = tokenSecret({ namespace: 'team-a', name: 'checkout', owner });
    expect(a.metadata).toMatchObject({
      name: 'checkout-report',
      namespace: 'team-a',
      labels: { 'fleetwright.dev/report-token': 'checkout' },
      ownerReferences: [owner],
    });
    const token = Buffer.from(a.data.token ?? '', 'base64').toString();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(b.data.token).not.toBe(a.data.token);
  });

  it('give the namespace one reader token that belongs to no run', () => {
    const reader = readerSecret('team-a');
    expect(reader.metadata).toEqual({ name: 'fleetwright-reports', namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'fleetwright' } });
    expect(Buffer.from(reader.data.token, 'base64').toString()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tell the run\'s own token Secret from one left by an earlier run of the same name', () => {
    const ours = tokenSecret({ namespace: 'team-a', name: 'checkout', owner }) as SecretObject;
    expect(tokenSecretState(undefined, run)).toBe('missing');
    expect(tokenSecretState(ours, run)).toBe('ours');
    const old = { ...ours, metadata: { ...ours.metadata, ownerReferences: [{ ...owner, uid: 'uid-0' }] } };
    expect(tokenSecretState(old, run)).toBe('foreign');
    expect(tokenSecretState({ ...ours, data: {} }, run)).toBe('foreign');
  });
});

/** A RestClient that records creates and answers with `answers[name]` (an error) or the body. */
function fakeRest(answers: Record<string, Error> = {}) {
  const created: { path: string; name: string }[] = [];
  const rest = {
    create: async (path: string, body: KubeObject) => {
      created.push({ path, name: body.metadata.name ?? '' });
      const error = answers[body.metadata.name ?? ''];
      if (error) throw error;
      return body;
    },
  } as unknown as RestClient;
  return { rest, created };
}
const reader = (objects: SecretObject[]): Reader<SecretObject> => ({
  get: (key: string) => objects.find((o) => `${o.metadata.namespace}/${o.metadata.name}` === key),
} as unknown as Reader<SecretObject>);
const log = pino({ level: 'silent' });
const forbidden = (name: string) =>
  new ApiError('POST', '/api/v1/namespaces/team-a/secrets', 403, { reason: 'Forbidden', message: `secrets "${name}" is forbidden` });

describe('ensureReportSecrets', () => {
  it('creates the run\'s token and the namespace\'s reader Secret when the cache has neither', async () => {
    const { rest, created } = fakeRest();
    expect(await ensureReportSecrets({ rest, secrets: reader([]), log }, run, owner)).toEqual({ ok: true, secret: 'checkout-report' });
    expect(created).toEqual([
      { path: '/api/v1/namespaces/team-a/secrets', name: 'checkout-report' },
      { path: '/api/v1/namespaces/team-a/secrets', name: 'fleetwright-reports' },
    ]);
  });

  it('creates nothing that is there, and takes 409 as there', async () => {
    const ours = tokenSecret({ namespace: 'team-a', name: 'checkout', owner }) as SecretObject;
    const { rest, created } = fakeRest();
    expect(await ensureReportSecrets({ rest, secrets: reader([ours, readerSecret('team-a')]), log }, run, owner))
      .toMatchObject({ ok: true });
    expect(created).toEqual([]);
    const exists = new ApiError('POST', '/x', 409, { reason: 'AlreadyExists' });
    const racing = fakeRest({ 'checkout-report': exists, 'fleetwright-reports': exists });
    expect(await ensureReportSecrets({ rest: racing.rest, secrets: reader([]), log }, run, owner))
      .toEqual({ ok: true, secret: 'checkout-report' });
  });

  it('says what to fix when the token Secret cannot be made, so that the run goes on without reports', async () => {
    const { rest } = fakeRest({ 'checkout-report': forbidden('checkout-report') });
    const setup = await ensureReportSecrets({ rest, secrets: reader([]), log }, run, owner);
    expect(setup.ok).toBe(false);
    expect(setup.ok ? '' : setup.message).toMatch(
      /^cannot create Secret checkout-report in namespace team-a \(POST .*403 Forbidden.*\): its shards run without uploading .* may create Secrets/,
    );
  });

  it('mounts no Secret that is not the run\'s own', async () => {
    const ours = tokenSecret({ namespace: 'team-a', name: 'checkout', owner }) as SecretObject;
    const old = { ...ours, metadata: { ...ours.metadata, ownerReferences: [{ ...owner, uid: 'uid-0' }] } };
    const { rest, created } = fakeRest();
    const setup = await ensureReportSecrets({ rest, secrets: reader([old]), log }, run, owner);
    expect(setup).toMatchObject({ ok: false, message: expect.stringContaining('is not this TestRun\'s upload token') });
    expect(created).toEqual([]);
  });

  it('still uploads when only the reader Secret cannot be made, and warns', async () => {
    const { rest } = fakeRest({ 'fleetwright-reports': forbidden('fleetwright-reports') });
    const setup = await ensureReportSecrets({ rest, secrets: reader([]), log }, run, owner);
    expect(setup).toMatchObject({ ok: true, secret: 'checkout-report', warning: expect.stringContaining('nobody can read it') });
  });
});

describe('the shard report in status', () => {
  const summary = (report?: ShardSummary['report'], reportError?: string): ShardSummary => ({
    passed: 3, failed: 0, flaky: 0, skipped: 0, durationMs: 900, status: 'passed', failures: [], truncated: 0, errors: [],
    ...(report ? { report } : {}),
    ...(reportError ? { reportError } : {}),
  });
  const finished = (s: ShardSummary) => planShard({
    index: 1,
    status: { index: 1, phase: 'Running', attempts: 1, runnerPod: 'run-1-1', browserPod: 'b' },
    runners: new Map([[1, { name: 'run-1-1', attempt: 1, phase: 'Succeeded', terminating: false, exitCode: 0, summary: s } as RunnerView]]),
    browserOf: () => ({ name: 'b', lost: false }),
    runnerName: () => 'run-1-1',
  }, 2);

  it('comes from the runner\'s summary', () => {
    expect(finished(summary('uploaded')).status).toMatchObject({ phase: 'Succeeded', report: 'Uploaded' });
    expect(finished(summary()).status.report).toBeUndefined();
  });

  it('says why an upload failed, and the shard still passes with its counts', () => {
    const plan = finished(summary('failed', 'the report store answered HTTP 413: too large'));
    expect(plan.status).toMatchObject({
      phase: 'Succeeded',
      passed: 3,
      report: 'Failed',
      message: 'the shard\'s report was not uploaded: the report store answered HTTP 413: too large',
    });
    expect(plan.actions).toContainEqual(expect.objectContaining({
      reason: 'ShardPassed',
      note: expect.stringContaining('; the shard\'s report was not uploaded: the report store answered HTTP 413'),
    }));
  });

  it('keeps the message within the status field\'s limit', () => {
    const many = { ...summary('failed', 'x'.repeat(1000)), failed: 1, status: 'failed' as const,
      errors: ['e'.repeat(3000)], failures: [{ title: 't', error: 'y'.repeat(3000) }] };
    expect(finished(many).status.message?.length).toBeLessThanOrEqual(4096);
  });
});

describe('status.reportURL', () => {
  it('is carried into the status the controller rebuilds, as the report store wrote it', () => {
    const next = { phase: 'Running', summary: { passed: 1 } };
    expect(withReportURL(next, { phase: 'Running', reportURL: 'http://store/reports/ns/run/' }))
      .toEqual({ ...next, reportURL: 'http://store/reports/ns/run/' });
    expect(withReportURL(next, { phase: 'Running' })).toEqual(next);
    expect(withReportURL(next, undefined)).toEqual(next);
  });
});
