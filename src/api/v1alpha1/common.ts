import { z } from 'zod';

// Patterns follow k8s.io/apimachinery validation; the API server compiles
// them as RE2, so nothing here may use lookaround or backreferences.
export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const ENV_NAME = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';
const CONFIG_KEY = '^[-._a-zA-Z0-9]+$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const QUANTITY =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const CONDITION_TYPE =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
const CONDITION_REASON = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

export const objectName = (what: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(new RegExp(DNS_SUBDOMAIN), `must be a lowercase DNS subdomain name (${what})`)
    .describe(`Name of the ${what}, in the same namespace.`);

export const LocalObjectReference = (what: string) =>
  z.object({ name: objectName(what) }).describe(`Reference to a ${what} in the same namespace.`);

export const count = (description: string) => z.int().min(0).max(1_000_000).describe(description);

export const seconds = (description: string, min: number, max: number) =>
  z.int().min(min).max(max).describe(description);

export const StringMap = (description: string) =>
  z.record(z.string().max(317), z.string().max(4096)).meta({ maxProperties: 64 }).describe(description);

export const LabelMap = (description: string) =>
  z
    .record(
      z.string().max(317),
      z.string().max(63).regex(new RegExp(LABEL_VALUE), 'must be a valid label value'),
    )
    .meta({ maxProperties: 64 })
    .describe(description);

export const EnvVar = z
  .object({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(new RegExp(ENV_NAME), 'must be a valid environment variable name')
      .describe('Name of the environment variable.'),
    value: z.string().max(32_768).default('').describe('Value of the environment variable.'),
  })
  .describe('An environment variable with a literal value.');

export const EnvList = (description: string) =>
  z
    .array(EnvVar)
    .max(128)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .describe(description);

/**
 * A container image reference: the API server refuses a pod whose image has leading or trailing whitespace.
 * The class is spelled out because \s differs between JavaScript and RE2 (U+FEFF).
 */
export const image = (description: string) =>
  z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[^\t\n\v\f\r ]+$/, 'must be an image reference without whitespace')
    .describe(description);

export const Args = (description: string) => z.array(z.string().max(4096)).max(128).describe(description);

export const secretKey = z
  .string()
  .min(1)
  .max(253)
  .regex(new RegExp(CONFIG_KEY), 'must be a valid Secret or ConfigMap key');

const Quantity = z
  .union([z.int().min(0), z.string().max(64).regex(new RegExp(QUANTITY), 'must be a Kubernetes quantity')])
  .meta({ 'x-kubernetes-int-or-string': true })
  .describe('A Kubernetes quantity, for example 500m or 1Gi.');

const ResourceList = z
  .record(z.string().max(253), Quantity)
  .meta({ maxProperties: 16 })
  .describe('Quantities by resource name (cpu, memory, ephemeral-storage).');

export const ResourceRequirements = z
  .object({
    requests: ResourceList.optional().describe('Minimum resources the scheduler reserves for the container.'),
    limits: ResourceList.optional().describe('Maximum resources the container may use.'),
  })
  .describe('Compute resources of the container, as in a Pod.');

/** A Kubernetes type we pass through to pods unchanged; the API server validates it there. */
export const Opaque = (description: string) =>
  z.object({}).loose().meta({ 'x-kubernetes-preserve-unknown-fields': true }).describe(description);

export const Condition = z
  .object({
    type: z.string().max(316).regex(new RegExp(CONDITION_TYPE)).describe('Type of condition in CamelCase.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(new RegExp(CONDITION_REASON))
      .describe('Machine-readable CamelCase reason for the condition\'s last transition.'),
    message: z.string().max(32_768).describe('Human-readable message with details about the transition.'),
    lastTransitionTime: z.iso
      .datetime()
      .describe('When the condition last changed from one status to another.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The .metadata.generation the condition was set from.'),
  })
  .describe('A metav1.Condition.');

export type Condition = z.infer<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .max(16)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Latest observations of the object, one entry per condition type.');

export const observedGeneration = z
  .int()
  .min(0)
  .describe('The .metadata.generation this status was computed from.');
