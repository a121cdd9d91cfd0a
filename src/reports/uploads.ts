// Uploads being stored, counted by what they are for: a run is merged only
// once its last shard is in, and the store drains them before it stops.

/** Uploads being stored, by `namespace/name`: a run is merged only once its last upload is in. */
export class UploadsInFlight {
  private readonly counts = new Map<string, number>();
  private readonly onIdle: (key: string) => void;

  constructor(onIdle: (key: string) => void = () => undefined) {
    this.onIdle = onIdle;
  }

  begin(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  end(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n > 0) return void this.counts.set(key, n);
    this.counts.delete(key);
    this.onIdle(key);
  }

  active(key: string): boolean {
    return this.counts.has(key);
  }

  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}
