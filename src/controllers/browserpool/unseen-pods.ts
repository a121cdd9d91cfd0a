// The browser pods a pool's passes created or deleted that the controller's
// cache does not show yet. Each new pod wakes its pool again, and that pass
// can start before the pod watch has brought every pod of the last one: read
// from the cache alone, it would create the missing ones again (a pool's pods
// have generated names, so the API server cannot refuse a second copy) and
// delete the surplus a moment later. client-go's ReplicaSet controller keeps
// "expectations" for the same reason; controller-runtime leaves it to each
// controller. Here a pass sees its own writes instead of waiting for them.
import type { PodObject } from '../../api/builtin.ts';

/**
 * A write the cache never shows is forgotten after this long: a pod created and deleted by someone else
 * while the watch was down, which the relist that follows never lists. Watches lag by seconds at worst.
 */
export const UNSEEN_FOR_AT_MOST_MS = 60_000;

interface Write {
  /** The pod as written: the API server's answer to the create, or the deleted pod with its deletionTimestamp. */
  pod: PodObject;
  deleted: boolean;
  at: number;
}

export class UnseenPods {
  /** Per pool uid (a pool deleted and made again under its name is another pool), per pod name. */
  private readonly writes = new Map<string, Map<string, Write>>();

  created(pool: string, pod: PodObject, now: Date): void {
    this.of(pool).set(pod.metadata.name ?? '', { pod, deleted: false, at: now.getTime() });
  }

  deleted(pool: string, pod: PodObject, now: Date): void {
    const terminating = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: now.toISOString() } };
    this.of(pool).set(pod.metadata.name ?? '', { pod: terminating, deleted: true, at: now.getTime() });
  }

  /**
   * The pool's pods as its own writes left them: the cached ones, the created ones the cache lacks, the deleted
   * ones terminating. A write is forgotten once the cache shows it.
   */
  overlay(pool: string, cached: PodObject[], now: Date): PodObject[] {
    const writes = this.writes.get(pool);
    if (!writes) return cached;
    const pods = new Map(cached.map((p) => [p.metadata.name ?? '', p]));
    for (const [name, write] of writes) {
      const seen = pods.get(name);
      const shown = write.deleted ? !seen || seen.metadata.deletionTimestamp !== undefined : seen !== undefined;
      if (shown || now.getTime() - write.at > UNSEEN_FOR_AT_MOST_MS) writes.delete(name);
      else pods.set(name, write.pod);
    }
    if (writes.size === 0) this.writes.delete(pool);
    return [...pods.values()];
  }

  private of(pool: string): Map<string, Write> {
    let writes = this.writes.get(pool);
    if (!writes) this.writes.set(pool, (writes = new Map()));
    return writes;
  }
}
