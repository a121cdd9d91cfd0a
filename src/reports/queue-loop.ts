// The store's background work, one key at a time off a WorkQueue: a key
// that fails is tried again with the queue's backoff, one that succeeds is
// forgotten. The merger and the sessionsURL writer both run on it.
import { WorkQueue } from '../runtime/workqueue.ts';

/** Processes keys until the queue shuts down; `failed` hears of each failure before its retry. */
export async function processQueue(
  queue: WorkQueue,
  process: (key: string) => Promise<void>,
  failed: (key: string, err: unknown, retryInMs: number) => void,
): Promise<void> {
  for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
    try {
      await process(key);
      queue.forget(key);
    } catch (err) {
      const retryInMs = queue.backoff.when(key);
      failed(key, err, retryInMs);
      queue.addAfter(key, retryInMs);
    } finally {
      queue.done(key);
    }
  }
}
