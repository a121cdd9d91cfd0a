// One WebSocket handshake with the gateway, as the node tests make it to see
// what a client hears: the HTTP answer of a refusal, or 101 and the socket.
import { WebSocket } from 'ws';

/** The HTTP answer when the gateway refuses, else 101 and the open socket. */
export function handshake(url: string, headers: Record<string, string> = {}, maxPayload?: number) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string; socket?: WebSocket }>(
    (resolve, reject) => {
      const socket = new WebSocket(url, { headers, ...(maxPayload ? { maxPayload } : {}) });
      socket.once('open', () => resolve({ status: 101, headers: {}, body: '', socket }));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      socket.once('error', reject);
    },
  );
}
