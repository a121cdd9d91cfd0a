// The agent's metrics of Tunnel sessions' recordings and live viewers, on the
// registry of its /metrics (sessions.ts).
import { Counter, Gauge, type Registry } from 'prom-client';

export type RecordingKind = 'video' | 'log';
export type RecordingResult = 'uploaded' | 'discarded' | 'failed';

export class RecordingMetrics {
  private readonly recordings: Counter<'tunnel' | 'kind' | 'result'>;
  private readonly bytes: Counter<'tunnel' | 'kind'>;
  private readonly viewers: Gauge<'tunnel'>;

  constructor(registry: Registry) {
    this.recordings = new Counter({
      name: 'fleetwright_session_recordings_total',
      help: 'Recordings of Tunnel sessions by kind (video, log) and what became of them: uploaded to the report ' +
        'store, discarded by the Tunnel\'s policy, or failed (not made, or not uploaded).',
      labelNames: ['tunnel', 'kind', 'result'],
      registers: [registry],
    });
    this.bytes = new Counter({
      name: 'fleetwright_session_recording_bytes_total',
      help: 'Bytes of recordings of Tunnel sessions uploaded to the report store, by kind.',
      labelNames: ['tunnel', 'kind'],
      registers: [registry],
    });
    this.viewers = new Gauge({
      name: 'fleetwright_session_live_viewers',
      help: 'Live viewers of the Tunnel sessions on this browser pod now.',
      labelNames: ['tunnel'],
      registers: [registry],
    });
  }

  recorded(tunnel: string, kind: RecordingKind, result: RecordingResult, bytes = 0): void {
    this.recordings.inc({ tunnel, kind, result });
    if (bytes > 0) this.bytes.inc({ tunnel, kind }, bytes);
  }

  /** Counts a viewer in; the result counts it out. */
  viewer(tunnel: string): () => void {
    this.viewers.inc({ tunnel });
    return () => this.viewers.dec({ tunnel });
  }
}
