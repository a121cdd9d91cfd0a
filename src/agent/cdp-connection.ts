// One Chrome DevTools Protocol connection of the agent's own to a browser
// endpoint, with flat sessions (Target.setAutoAttach flatten): commands
// answered by id, events handed to listeners with their session id. Node 24's
// global WebSocket is used rather than `ws`: it is built in (no dependency of
// the product for one client), sends no Origin header (which DevTools would
// refuse), and takes the megabytes of a screencast frame without a limit to set.

/** How long one command may wait for its answer; a browser that does not answer is gone for the observer. */
const COMMAND_TIMEOUT_MS = 10_000;

export type CdpParams = Record<string, unknown>;
export type CdpListener = (method: string, params: CdpParams, sessionId: string | undefined) => void;

interface Pending {
  resolve: (result: CdpParams) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class CdpConnection {
  private readonly socket: WebSocket;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<CdpListener>();
  private nextId = 1;
  /** Resolves once the socket has closed, from either side. */
  readonly closed: Promise<void>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.addEventListener('close', () => {
      for (const [, call] of this.pending) {
        clearTimeout(call.timer);
        call.reject(new Error('the browser\'s DevTools connection closed'));
      }
      this.pending.clear();
      resolve();
    }));
    socket.addEventListener('message', (event) => this.receive(String(event.data)));
  }

  /** Opens a connection to a browser's DevTools WebSocket (`webSocketDebuggerUrl`). */
  static open(endpoint: URL, timeoutMs = COMMAND_TIMEOUT_MS): Promise<CdpConnection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(endpoint);
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`no DevTools connection to ${endpoint.origin} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve(new CdpConnection(socket));
      });
      socket.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`could not open a DevTools connection to ${endpoint.origin}`));
      });
    });
  }

  send<T = CdpParams>(method: string, params: CdpParams = {}, sessionId?: string): Promise<T> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`${method}: the DevTools connection is closed`));
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise<CdpParams>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from the browser within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    }) as Promise<T>;
  }

  /** Listens to every event; the result stops listening. */
  on(listener: CdpListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closing detaches every session of this connection, which resumes any target still waiting for it. */
  close(): void {
    this.listeners.clear();
    this.socket.close();
  }

  private receive(text: string): void {
    const message = JSON.parse(text) as {
      id?: number;
      method?: string;
      params?: CdpParams;
      sessionId?: string;
      result?: CdpParams;
      error?: { message: string };
    };
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      clearTimeout(call.timer);
      if (message.error) call.reject(new Error(message.error.message));
      else call.resolve(message.result ?? {});
    } else if (message.method) {
      for (const listener of this.listeners) listener(message.method, message.params ?? {}, message.sessionId);
    }
  }
}
