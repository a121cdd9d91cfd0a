import { Counter, Gauge, Registry } from 'prom-client';
import type { Mode } from './routing.ts';

/** Sessions open now and served so far, by mode; what /status and /metrics report. */
export class Sessions {
  readonly registry = new Registry();
  private readonly open: Record<Mode, number> = { warm: 0, fresh: 0, cdp: 0 };
  private readonly served: Record<Mode, number> = { warm: 0, fresh: 0, cdp: 0 };
  /** Clients waiting for a session to end, first come first served; each ended session wakes one. */
  private readonly waiters: (() => void)[] = [];
  private readonly total = new Counter({
    name: 'fleetwright_agent_sessions_total',
    help: 'Client sessions the browser agent has accepted, by mode (warm: pre-launched browser; fresh: launched ' +
      'for the client; cdp: a Chromium started for one CDP session) and the client\'s Playwright major.minor ' +
      '(cdp for CDP clients).',
    labelNames: ['mode', 'playwright'],
    registers: [this.registry],
  });

  private readonly active = new Gauge({
    name: 'fleetwright_agent_sessions_active',
    help: 'Client sessions open now, by mode.',
    labelNames: ['mode'],
    registers: [this.registry],
  });

  get activeCount(): number {
    return this.open.warm + this.open.fresh + this.open.cdp;
  }

  /** Counts in a session of a client of Playwright `playwright` (major.minor); the result counts it out, once. */
  begin(mode: Mode, playwright: string): () => void {
    this.open[mode]++;
    this.served[mode]++;
    this.total.inc({ mode, playwright });
    this.active.set({ mode }, this.open[mode]);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.open[mode]--;
      this.active.set({ mode }, this.open[mode]);
      this.waiters.shift()?.();
    };
  }

  /**
   * Resolves true once fewer than `limit` sessions are open, false after
   * `timeoutMs`: a client that reconnects right after closing must not be
   * refused because its old socket has not finished closing here yet.
   */
  waitForSlot(limit: number, timeoutMs: number): Promise<boolean> {
    if (this.activeCount < limit) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(wake), 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(wake);
    });
  }

  snapshot() {
    return {
      active: this.activeCount,
      activeByMode: { ...this.open },
      served: this.served.warm + this.served.fresh + this.served.cdp,
      servedByMode: { ...this.served },
    };
  }
}
