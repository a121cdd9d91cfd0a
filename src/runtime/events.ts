import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type KubeObject, microTime } from '../api/meta.ts';
import type { RestClient } from './rest.ts';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  /** UpperCamelCase, machine-readable: `ScaledUp`, `PoolNotFound`. */
  reason: string;
  /** What the controller did or failed to do: `Scale`, `Reconcile`. */
  action: string;
  /** For humans; the API server refuses more than 1 kB. */
  note: string;
}

/**
 * Records events.k8s.io/v1 Events about objects (what `kubectl events` and
 * `kubectl describe` show). Best effort, as client-go's recorder: a failed
 * Event is logged, never fails a reconcile. Series aggregation is left out.
 */
export class EventRecorder {
  private readonly rest: RestClient;
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(rest: RestClient, options: { controller: string; instance: string; log: Logger }) {
    this.rest = rest;
    this.controller = options.controller;
    this.instance = options.instance;
    this.log = options.log;
  }

  async emit(regarding: KubeObject, spec: EventSpec, now = new Date()): Promise<void> {
    const { name = '', namespace = 'default', uid, resourceVersion } = regarding.metadata;
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
      eventTime: microTime(now),
      reportingController: this.controller,
      reportingInstance: this.instance,
      action: spec.action,
      reason: spec.reason,
      note: spec.note.length > 1024 ? `${spec.note.slice(0, 1021)}...` : spec.note,
      type: spec.type,
      regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name, namespace, uid, resourceVersion },
    };
    try {
      await this.rest.create(`/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
    } catch (err) {
      this.log.warn({ err: String(err), reason: spec.reason, namespace, name }, 'could not record Event');
    }
  }
}
