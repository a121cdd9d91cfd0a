import { setTimeout as sleep } from 'node:timers/promises';
import { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject, ObjectMeta, ResourceType } from '../api/meta.ts';
import { collectionPath, objectKey } from './resource.ts';
import { ApiError, isGone, type RestClient } from './rest.ts';
import { Store } from './store.ts';

export interface EventHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions {
  /** Watch one namespace only; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
  /** `metadata.name=x`: the API server filters lists and watches by these fields too. */
  fieldSelector?: string;
  /** Objects per list page (client-go's reflector pages by 500 too). */
  pageSize?: number;
  /**
   * What of each object the cache keeps (client-go's SetTransform): it runs once per object as it arrives,
   * before the store and the handlers see it. Unset: everything but metadata.managedFields.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

/**
 * The object without metadata.managedFields, as controller-runtime's TransformStripManagedFields: server-side
 * apply's field ownership, which no reader of a cache uses, is often the largest part of an object (a pod's
 * is as long as its spec).
 */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata.managedFields === undefined) return obj;
  // Copied rather than `delete`d: a deleted property can leave V8's object in slow dictionary mode.
  const metadata: ObjectMeta = {};
  for (const [field, value] of Object.entries(obj.metadata)) if (field !== 'managedFields') metadata[field] = value;
  return { ...obj, metadata };
}

interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** client-go's reflector backs off from 800 ms to 30 s; a shorter first step finds a restarted API server sooner. */
const backoff = { initialMs: 200, maxMs: 30_000 };
/** client-go asks for server-side watch timeouts between 5 and 10 minutes so that reconnects spread out. */
const watchTimeoutSeconds = () => 300 + Math.floor(Math.random() * 300);

/**
 * List+watch of one resource type into a Store (client-go's reflector and
 * informer in one). It keeps the last resourceVersion seen (bookmarks
 * included) and resumes the watch from it; on `410 Gone` it lists again and
 * turns what vanished meanwhile into delete events; when the API server is
 * unreachable it retries with exponential backoff and jitter.
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  readonly store = new Store<T>();
  /** Counters for logs, tests and the benchmark. */
  readonly stats = { lists: 0, watches: 0, bookmarks: 0, relistsAfterGone: 0 };
  private readonly rest: RestClient;
  private readonly log: Logger;
  private readonly options: InformerOptions;
  private readonly transform: (obj: KubeObject) => KubeObject;
  private readonly handlers: EventHandler<T>[] = [];
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private readonly stopper = new AbortController();
  private abortWatch?: AbortController;
  private loop?: Promise<void>;

  constructor(rest: RestClient, type: ResourceType, log: Logger, options: InformerOptions = {}) {
    this.rest = rest;
    this.type = type;
    this.log = log.child({ informer: `${type.plural}.${type.apiVersion}` });
    this.options = options;
    this.transform = options.transform ?? stripManagedFields;
  }

  /**
   * Handlers run synchronously after the store is updated; they must not
   * block (enqueue keys, nothing more). A handler added after the first sync
   * gets an add for every cached object, as client-go's shared informers do.
   * Returns the function that removes it.
   */
  addHandler(handler: EventHandler<T>): () => void {
    this.handlers.push(handler);
    if (this.synced) for (const obj of this.store.list()) handler.onAdd?.(obj);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.abortWatch?.abort();
    await this.loop;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async run(): Promise<void> {
    let delay = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const started = Date.now();
        const { gone, events } = await this.watch();
        if (gone) {
          this.stats.relistsAfterGone++;
          this.log.info({ resourceVersion: this.resourceVersion }, 'watch expired (410 Gone); listing again');
          this.resourceVersion = '';
        }
        // A watch that ends at once without a single event would spin: treat it as a failure.
        if (events > 0 || gone || Date.now() - started > 1000) {
          delay = 0;
          continue;
        }
        throw new Error('watch closed immediately without events');
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.resourceVersion = '';
          continue;
        }
        delay = Math.min(delay ? delay * 2 : backoff.initialMs, backoff.maxMs);
        const wait = Math.round(delay * (0.5 + Math.random() / 2));
        this.log.warn({ err: String(err), retryInMs: wait }, 'list/watch failed; retrying');
        await sleep(wait, undefined, { signal: this.stopper.signal }).catch(() => undefined);
      }
    }
  }

  private async relist(): Promise<void> {
    // Each page goes into the store as it comes, so that only one page's answer is held at a time.
    const fresh = new Set<string>();
    let objects = 0;
    let page: ObjectList<T> | undefined;
    do {
      page = await this.rest.get<ObjectList<T>>(collectionPath(this.type, this.options.namespace), {
        limit: this.options.pageSize ?? 500,
        continue: page?.metadata.continue,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
      }, this.stopper.signal);
      // List items carry no apiVersion/kind; watch events do. Give every cached object both.
      for (const item of page.items) {
        fresh.add(this.upsert({ ...item, apiVersion: this.type.apiVersion, kind: this.type.kind }));
      }
      objects += page.items.length;
    } while (page.metadata.continue);

    for (const key of this.store.keys()) {
      const gone = this.store.get(key);
      if (!fresh.has(key) && gone) this.remove(gone);
    }
    this.resourceVersion = page.metadata.resourceVersion ?? '';
    this.stats.lists++;
    this.log.debug({ objects, resourceVersion: this.resourceVersion }, 'listed');
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  /** One watch request, until the server or the client-side inactivity timeout ends it. */
  private watch(): Promise<{ gone: boolean; events: number }> {
    this.stats.watches++;
    let gone = false;
    let events = 0;
    let failure: Error | undefined;
    const onEvent = (type: string, obj: T & { code?: number; message?: string; reason?: string }) => {
      events++;
      switch (type) {
        case 'ADDED':
        case 'MODIFIED':
          this.upsert(obj);
          break;
        case 'DELETED':
          this.remove(obj);
          break;
        case 'BOOKMARK':
          this.stats.bookmarks++;
          break;
        case 'ERROR':
          // A metav1.Status; the server closes the stream after it.
          if (obj.code === 410) gone = true;
          else failure = new ApiError('WATCH', collectionPath(this.type, this.options.namespace), obj.code ?? 0, obj);
          return;
      }
      if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    };
    return new Promise((resolve, reject) => {
      // Watch.watch only hands out its AbortController once the server answered: a stop must not wait for that.
      const onStop = () => resolve({ gone, events });
      this.stopper.signal.addEventListener('abort', onStop, { once: true });
      const done = (err: unknown) => {
        this.stopper.signal.removeEventListener('abort', onStop);
        this.abortWatch = undefined;
        const name = (err as { name?: string } | null)?.name;
        // client-node's Watch aborts a stream that has been silent for 30 s with TimeoutError:
        // an ordinary end, resumed from the last resourceVersion (bookmarks keep it fresh).
        if (failure) reject(failure);
        else if (isGone(err)) resolve({ gone: true, events });
        else if (!err || name === 'TimeoutError' || this.stopped) resolve({ gone, events });
        else reject(err);
      };
      new Watch(this.rest.kubeConfig)
        .watch(
          collectionPath(this.type, this.options.namespace),
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: watchTimeoutSeconds(),
            labelSelector: this.options.labelSelector,
            fieldSelector: this.options.fieldSelector,
          },
          onEvent,
          done,
        )
        .then((controller) => {
          this.abortWatch = controller;
          if (this.stopped) controller.abort();
        }, reject);
    });
  }

  private upsert(received: T): string {
    const obj = this.transform(received) as T;
    const old = this.store.upsert(obj);
    if (!old) this.notify((h) => h.onAdd?.(obj));
    // A relist hands back every unchanged object too: only a new resourceVersion is news.
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.notify((h) => h.onUpdate?.(old, obj));
    return objectKey(obj);
  }

  private remove(obj: T): void {
    const old = this.store.remove(obj);
    this.notify((h) => h.onDelete?.(old ?? (this.transform(obj) as T)));
  }

  private notify(call: (h: EventHandler<T>) => void): void {
    for (const h of this.handlers) {
      try {
        call(h);
      } catch (err) {
        this.log.error({ err }, 'event handler threw; the informer goes on');
      }
    }
  }
}
