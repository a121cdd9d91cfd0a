/** Per-key exponential backoff: 5 ms, 10 ms, 20 ms, ... capped at 1000 s (client-go's ItemExponentialFailureRateLimiter
 * with controller-runtime's defaults). `failures` counts the failures before this one. */
export function backoffDelay(failures: number, baseMs = 5, maxMs = 1_000_000): number {
  // 2 ** failures overflows to Infinity long after it passed maxMs; Math.min handles both.
  return Math.min(baseMs * 2 ** failures, maxMs);
}

export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** The delay before the next try of `key`, counting this failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, this.baseMs, this.maxMs);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/** What the queue reports; the controller wires it to the `workqueue_*` metrics. */
export interface QueueObserver {
  added(): void;
  depth(n: number): void;
  retried(): void;
  waited(seconds: number): void;
  worked(seconds: number): void;
}

const now = () => performance.now();

/**
 * client-go's rate-limiting workqueue. A key is in at most one of three
 * states: waiting (dirty, in the FIFO), processing, or both (changed while a
 * worker had it; it goes back to the FIFO when the worker is done). So adding
 * a waiting key is a no-op and no key is ever handed to two workers at once.
 */
export class WorkQueue {
  readonly backoff: ExponentialBackoff;
  private readonly fifo: string[] = [];
  private readonly dirty = new Map<string, number>();
  private readonly processing = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly observer?: QueueObserver;

  constructor(options: { backoff?: ExponentialBackoff; observer?: QueueObserver } = {}) {
    this.backoff = options.backoff ?? new ExponentialBackoff();
    this.observer = options.observer;
  }

  get length(): number {
    return this.fifo.length;
  }

  /** Start times (performance.now()) of the keys being processed, for the unfinished-work metrics. */
  processingSince(): number[] {
    return [...this.processing.values()];
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.observer?.added();
    this.dirty.set(key, now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds `key` once `ms` have passed; an earlier pending add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.observer?.retried();
    this.addAfter(key, this.backoff.when(key));
  }

  /** Stops the backoff of `key`: it succeeded, or gave up. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** The next key; undefined once the queue shuts down. Call `done(key)` after. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.fifo.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    const started = this.processing.get(key);
    if (started !== undefined) this.observer?.worked((now() - started) / 1000);
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /**
   * Hands out no more keys; waiting and delayed ones are dropped (the next
   * leader lists everything again). Workers finish what they hold.
   */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter) return getter(this.take(key));
    this.fifo.push(key);
    this.observer?.depth(this.fifo.length);
  }

  private take(key: string): string {
    const added = this.dirty.get(key);
    this.dirty.delete(key);
    this.processing.set(key, now());
    if (added !== undefined) this.observer?.waited((now() - added) / 1000);
    this.observer?.depth(this.fifo.length);
    return key;
  }
}
