// The agent's own DevTools connection to the browser of one session, to
// record it and show it live. It attaches to every page with
// Target.setAutoAttach({ waitForDebuggerOnStart }) so that nothing of a new
// page's first navigation is missed: a new page waits until this observer
// (as well as the client's own Playwright or Puppeteer, which attach the same
// way) has enabled its domains and let it run. It follows "the current page":
// the one most recently created or navigated, which the screencast shows.
// Console messages, errors and network events are asked of the browser only
// when the session's log is recorded: an unrecorded session pays for page
// lifecycle events alone.
//
// When the session's socket closes, the observer stops following new pages
// (they belong to the next session) but stays on the session's own until they
// are gone: Chromium sends this connection's events on its own, a moment after
// the client's, so a client that closes right after its last navigation would
// otherwise leave that navigation out of the log.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CdpConnection, type CdpParams } from './cdp-connection.ts';
import { EventLog, type LogEntry } from './session-log.ts';

interface TargetInfo {
  targetId: string;
  type: string;
}

/** How long a closed session's pages may take to go before the observer detaches from them regardless. */
const PAGES_GONE_WAIT_MS = 1_000;

/** A page of the session, by the flat DevTools session the observer has on it. */
export interface ObservedPage {
  sessionId: string;
  targetId: string;
}

export class Observer {
  readonly connection: CdpConnection;
  private readonly log: Logger;
  private readonly pages = new Map<string, ObservedPage>();
  /** Session ids of the pages, the most recently active last. */
  private recent: string[] = [];
  private readonly events = new EventLog();
  private readonly logListeners = new Set<(entry: LogEntry) => void>();
  private readonly pageListeners = new Set<() => void>();
  private readonly domains: string[];
  /** Pages being attached to: those open when the observer came are attached before attach() resolves. */
  private readonly attaching = new Set<Promise<void>>();
  /** False once the session ended: new pages are let run and left alone. */
  private following = true;
  /** Called when the last observed page is gone. */
  private noPagesLeft: (() => void) | undefined;

  private constructor(connection: CdpConnection, log: Logger, options: { events: boolean }) {
    this.connection = connection;
    this.log = log;
    this.domains = options.events ? ['Page.enable', 'Runtime.enable', 'Network.enable'] : ['Page.enable'];
    connection.on((method, params, sessionId) => this.receive(method, params, sessionId));
  }

  /**
   * Connects to the browser's DevTools endpoint and attaches to its pages,
   * those open now and every new one; with `events`, it also hears their
   * console, errors and network (for the session's log).
   */
  static async attach(endpoint: URL, log: Logger, options: { events: boolean }): Promise<Observer> {
    const connection = await CdpConnection.open(endpoint);
    const observer = new Observer(connection, log, options);
    try {
      await connection.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true });
      // The pages Chromium reported by its answer (those open now) have their domains enabled before this resolves.
      await Promise.all(observer.attaching);
    } catch (err) {
      connection.close();
      throw err;
    }
    return observer;
  }

  /** The URL and title of the current page, as the browser has them now. */
  async currentInfo(): Promise<{ url: string; title: string } | undefined> {
    const page = this.current();
    if (!page) return undefined;
    const { targetInfo } = await this.connection.send<{ targetInfo: { url: string; title: string } }>(
      'Target.getTargetInfo', { targetId: page.targetId });
    return { url: targetInfo.url, title: targetInfo.title };
  }

  /** The page shown: the one most recently created or navigated, of those still open. */
  current(): ObservedPage | undefined {
    const last = this.recent.at(-1);
    return last === undefined ? undefined : this.pages.get(last);
  }

  /** Calls `listener` with every log entry of the session's pages. */
  onLog(listener: (entry: LogEntry) => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  /** Calls `listener` whenever the current page changes. */
  onPageChange(listener: () => void): () => void {
    this.pageListeners.add(listener);
    return () => this.pageListeners.delete(listener);
  }

  /**
   * The session ended: follows no new page, waits (at most PAGES_GONE_WAIT_MS)
   * for the session's pages to close so that their last events arrive, then
   * closes.
   */
  async detach(): Promise<void> {
    this.following = false;
    const gone = new Promise<void>((resolve) => {
      this.noPagesLeft = resolve;
      if (this.pages.size === 0) resolve();
    });
    await Promise.race([gone, this.connection.closed, delay(PAGES_GONE_WAIT_MS)]);
    this.close();
  }

  /** Detaches from the browser: nothing the browser does from now on reaches the session's recordings or viewers. */
  close(): void {
    this.logListeners.clear();
    this.pageListeners.clear();
    this.connection.close();
  }

  private receive(method: string, params: CdpParams, sessionId: string | undefined): void {
    if (method === 'Target.attachedToTarget') {
      const attaching = this.attached(params.sessionId as string, params.targetInfo as TargetInfo);
      this.attaching.add(attaching);
      void attaching.finally(() => this.attaching.delete(attaching));
    } else if (method === 'Target.detachedFromTarget') {
      this.forget(params.sessionId as string);
    } else if (sessionId && this.pages.has(sessionId)) {
      const entry = this.events.entry(method, params, sessionId);
      if (entry?.type === 'navigation') this.activate(sessionId);
      if (entry) for (const listener of this.logListeners) listener(entry);
    }
  }

  private async attached(sessionId: string, info: TargetInfo): Promise<void> {
    const send = (method: string) => this.connection.send(method, {}, sessionId);
    try {
      if (info.type === 'page' && this.following) {
        this.pages.set(sessionId, { sessionId, targetId: info.targetId });
        this.activate(sessionId);
        await Promise.all(this.domains.map(send));
        await send('Runtime.runIfWaitingForDebugger');
      } else {
        // Workers and the like, and the next session's pages: let them run, and leave them to the client.
        await send('Runtime.runIfWaitingForDebugger');
        await this.connection.send('Target.detachFromTarget', { sessionId });
      }
    } catch (err) {
      // The target closed while attaching, or the observer was closed.
      this.log.debug({ err: (err as Error).message, target: info.type }, 'could not attach to a target');
    }
  }

  private activate(sessionId: string): void {
    const before = this.current();
    this.recent = [...this.recent.filter((id) => id !== sessionId), sessionId];
    if (this.current() !== before) for (const listener of this.pageListeners) listener();
  }

  private forget(sessionId: string): void {
    const before = this.current();
    this.pages.delete(sessionId);
    this.recent = this.recent.filter((id) => id !== sessionId);
    if (this.current() !== before) for (const listener of this.pageListeners) listener();
    if (this.pages.size === 0) this.noPagesLeft?.();
  }
}
