// Uploading a kept recording to the session's folder in the report store.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** How long one PUT may take: a 10-minute 720p video is some 75 MB, which the pod's network moves in seconds. */
const UPLOAD_TIMEOUT_MS = 60_000;
/** The pause before the one retry, for a report store that was restarting. */
const RETRY_PAUSE_MS = 1_000;

/**
 * PUTs `file` to `url` with the session token, streamed from disk, retrying
 * once; resolves to the bytes uploaded, rejects naming the URL and the store's
 * answer (never the token).
 */
export async function upload(url: string, token: string, file: string, contentType: string): Promise<number> {
  const { size } = await stat(file);
  const put = async () => {
    const response = await fetch(url, {
      method: 'PUT',
      headers: { 'authorization': `Bearer ${token}`, 'content-type': contentType, 'content-length': String(size) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
      signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the report store answered ${response.status} to PUT ${url}`);
  };
  try {
    await put();
  } catch {
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    await put().catch((err: unknown) => {
      const cause = (err as Error & { cause?: Error }).cause?.message;
      throw new Error(`${(err as Error).message}${cause ? ` (${cause})` : ''}`, { cause: err });
    });
  }
  return size;
}
