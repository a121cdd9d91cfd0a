import { z } from 'zod';
import type { KindDefinition } from '../kind.ts';
import { withRules } from '../rules.ts';
import {
  Args,
  Conditions,
  count,
  EnvList,
  LabelMap,
  image,
  LocalObjectReference,
  objectName,
  Opaque,
  observedGeneration,
  ResourceRequirements,
  StringMap,
  seconds,
} from './common.ts';

export const Browser = z
  .enum(['chromium', 'firefox', 'webkit'])
  .describe('Browser engine the pool runs: chromium, firefox or webkit.');

const Autoscaling = withRules(
  z
    .object({
      minReplicas: z
        .int()
        .min(0)
        .max(1000)
        .default(0)
        .describe('Fewest browser pods the pool keeps, even when idle.'),
      maxReplicas: z
        .int()
        .min(1)
        .max(1000)
        .describe('Most browser pods the pool runs; demand above it waits and sets ScalingLimited.'),
      idleBuffer: z
        .int()
        .min(0)
        .max(1000)
        .default(1)
        .describe('Idle browsers kept ready on top of busy ones and waiting lease requests.'),
      scaleDownDelaySeconds: seconds(
        'How long a browser must stay idle before it is removed when demand falls.',
        0,
        86_400,
      ).default(60),
    })
    .describe(
      'Scale with demand: desired = clamp(busy + waiting + idleBuffer, minReplicas, maxReplicas). ' +
      'When set, spec.replicas is not used.',
    ),
  [
    {
      cel: 'self.minReplicas <= self.maxReplicas',
      holds: (a) => a.minReplicas <= a.maxReplicas,
      message: 'autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas',
      fieldPath: '.minReplicas',
    },
  ],
);

const Launch = z
  .object({
    args: Args(
      'Extra command-line arguments for the browser, after the ones Fleetwright always sets.',
    ).optional(),
    env: EnvList('Environment variables for the browser process.').optional(),
  })
  .describe('How the agent launches the browser. Clients cannot change it.');

const PodTemplate = z
  .object({
    labels: LabelMap('Labels added to every browser pod.').optional(),
    annotations: StringMap('Annotations added to every browser pod.').optional(),
    resources: ResourceRequirements.optional(),
    nodeSelector: StringMap('Node labels a browser pod must match to be scheduled.').optional(),
    tolerations: z
      .array(Opaque('A corev1.Toleration.'))
      .max(32)
      .optional()
      .describe('Tolerations of browser pods.'),
    affinity: Opaque('A corev1.Affinity for browser pods.').optional(),
    topologySpreadConstraints: z
      .array(Opaque('A corev1.TopologySpreadConstraint.'))
      .max(16)
      .optional()
      .describe(
        'How browser pods spread over the cluster. Unset: over nodes (kubernetes.io/hostname, maxSkew 1, ' +
        'ScheduleAnyway); set: used as given, so [] turns spreading off.',
      ),
    priorityClassName: objectName('PriorityClass').optional().describe('PriorityClass of browser pods.'),
    imagePullSecrets: z
      .array(LocalObjectReference('Secret'))
      .max(16)
      .optional()
      .describe('Secrets used to pull the browser image.'),
  })
  .describe('Scheduling and metadata applied to every browser pod of the pool.');

/** spec.replicas when the manifest gives none: what the API server stores for a pool that never asked for a size. */
export const DEFAULT_REPLICAS = 1;

export const BrowserPoolSpec = z
  .object({
    browser: Browser.default('chromium'),
    image: image('Container image of the browser pods; defaults to the operator\'s own agent image.').optional(),
    replicas: z
      .int()
      .min(0)
      .max(1000)
      .default(DEFAULT_REPLICAS)
      .describe(
        'Number of browser pods to keep when autoscaling is not set. Target of the scale subresource; ignored ' +
        'while autoscaling is set (the ScaleIgnored condition says so).',
      ),
    autoscaling: Autoscaling.optional(),
    sessionsPerBrowser: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('Clients one browser serves at once; each gets its own browser context.'),
    maxSessionSeconds: seconds('Longest a lease may last before it is reclaimed.', 1, 86_400).default(3600),
    recycleAfterSessions: z
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('Replace a browser pod after it has served this many sessions. Unset: never.'),
    launch: Launch.optional(),
    template: PodTemplate.optional(),
  })
  .describe('Desired state of a pool of pre-warmed browsers.');

export const BrowserPoolStatus = z
  .object({
    replicas: count('Browser pods that exist, in any state.').optional(),
    desiredReplicas: count(
      'Browser pods the pool aims for now: spec.replicas, or with autoscaling ' +
      'clamp(busy + waiting + idleBuffer, minReplicas, maxReplicas).',
    ).optional(),
    readyReplicas: count('Browser pods whose agent is ready.').optional(),
    idle: count('Ready browsers with no lease.').optional(),
    busy: count('Browsers leased to a TestRun or Tunnel.').optional(),
    starting: count('Browser pods not ready yet.').optional(),
    waiting: count('Lease requests waiting for a browser of this pool.').optional(),
    selector: z
      .string()
      .max(1024)
      .optional()
      .describe('Label selector of the pool\'s pods, for the scale subresource.'),
    playwrightVersion: z
      .string()
      .max(32)
      .optional()
      .describe(
        'Default Playwright version of the pool\'s browser servers (x.y.z), as their agents report it: the one ' +
        'served from the pre-launched (warm) browser.',
      ),
    playwrightVersions: z
      .array(z.string().max(32))
      .max(16)
      .optional()
      .describe(
        'Every Playwright version the pool\'s browser servers serve, as their agents report them, the default ' +
        'first; a client of any of their major.minor versions can connect.',
      ),
    observedGeneration: observedGeneration.optional(),
    conditions: Conditions.optional(),
  })
  .describe('Observed state of the pool.');

export const BrowserPoolKind = {
  kind: 'BrowserPool',
  plural: 'browserpools',
  singular: 'browserpool',
  shortNames: ['bp'],
  description: 'A pool of pre-warmed browser pods running Playwright browser servers, scaled with demand.',
  spec: BrowserPoolSpec,
  status: BrowserPoolStatus,
  maxNameLength: 50,
  printerColumns: [
    { name: 'Browser', type: 'string', jsonPath: '.spec.browser', description: 'Browser engine.' },
    {
      name: 'Desired',
      type: 'integer',
      jsonPath: '.status.desiredReplicas',
      description: 'Browser pods the pool aims for (with autoscaling, what demand asks for; not spec.replicas).',
    },
    { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready browser pods.' },
    { name: 'Idle', type: 'integer', jsonPath: '.status.idle', description: 'Ready browsers with no lease.' },
    { name: 'Busy', type: 'integer', jsonPath: '.status.busy', description: 'Leased browsers.' },
    {
      name: 'Playwright',
      type: 'string',
      jsonPath: '.status.playwrightVersion',
      description: 'Default Playwright version of the browser servers (the warm one).',
      priority: 1,
    },
    {
      name: 'Serves',
      type: 'string',
      jsonPath: '.status.playwrightVersions',
      description: 'Every Playwright version the browser servers serve.',
      priority: 1,
    },
    {
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: 'Time since creation.',
    },
  ],
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  },
} satisfies KindDefinition<typeof BrowserPoolSpec, typeof BrowserPoolStatus>;

export type BrowserPoolSpec = z.infer<typeof BrowserPoolSpec>;
export type BrowserPoolStatus = z.infer<typeof BrowserPoolStatus>;
