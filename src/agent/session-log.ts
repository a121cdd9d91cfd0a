// A session's log (spec.recording.log): the DevTools events of its pages that
// a person reading what happened wants, one JSON object a line with its time.

export type LogEntry =
  | { type: 'navigation'; url: string } |
  { type: 'console'; level: string; text: string } |
  { type: 'pageerror'; message: string } |
  { type: 'response'; method: string; url: string; status: number } |
  { type: 'requestfailed'; url: string; error: string };

/** One line of log.jsonl. */
export const logLine = (entry: LogEntry, time: Date) => `${JSON.stringify({ time: time.toISOString(), ...entry })}\n`;

interface RemoteObject {
  type?: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
}

/** A console argument as the console would print it. */
function printed(arg: RemoteObject): string {
  if (arg.unserializableValue !== undefined) return arg.unserializableValue;
  if (arg.value !== undefined) return typeof arg.value === 'string' ? arg.value : JSON.stringify(arg.value);
  return arg.description ?? arg.type ?? '';
}

/**
 * Turns the DevTools events of the pages of a session into log entries. It
 * remembers each request until it finished, since a response or failure
 * event does not repeat the request's method (or, for a failure, its URL).
 */
export class EventLog {
  private readonly requests = new Map<string, { method: string; url: string }>();

  entry(method: string, params: Record<string, unknown>, sessionId: string | undefined): LogEntry | undefined {
    const key = `${sessionId}:${String(params.requestId)}`;
    switch (method) {
      case 'Page.frameNavigated': {
        const frame = params.frame as { parentId?: string; url: string; urlFragment?: string };
        return frame.parentId ? undefined : { type: 'navigation', url: frame.url + (frame.urlFragment ?? '') };
      }
      case 'Runtime.consoleAPICalled':
        return { type: 'console', level: String(params.type), text: (params.args as RemoteObject[]).map(printed).join(' ') };
      case 'Runtime.exceptionThrown': {
        const details = params.exceptionDetails as { text: string; exception?: RemoteObject };
        return { type: 'pageerror', message: details.exception?.description ?? details.text };
      }
      case 'Network.requestWillBeSent': {
        const request = params.request as { method: string; url: string };
        const redirected = this.requests.get(key);
        this.requests.set(key, { method: request.method, url: request.url });
        // A redirect's response comes only here, with the request it leads to (the same requestId).
        const redirect = params.redirectResponse as { url: string; status: number } | undefined;
        return redirect ? { type: 'response', method: redirected?.method ?? 'GET', url: redirect.url, status: redirect.status } : undefined;
      }
      case 'Network.responseReceived': {
        const response = params.response as { url: string; status: number };
        return { type: 'response', method: this.requests.get(key)?.method ?? 'GET', url: response.url, status: response.status };
      }
      case 'Network.loadingFinished':
        this.requests.delete(key);
        return undefined;
      case 'Network.loadingFailed': {
        const request = this.requests.get(key);
        this.requests.delete(key);
        return request ? { type: 'requestfailed', url: request.url, error: String(params.errorText) } : undefined;
      }
      default:
        return undefined;
    }
  }
}
