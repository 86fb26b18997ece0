// Request bodies as JSON, for the API's routes: 400 with a JSON error for anything that is not JSON.
import { concatBytes } from '../../core/codec/bytes.js';
import { jsonError } from './tenant-auth.js';

/** The request body as JSON (the admin API's bodies are small; the publish route bounds its own). */
export async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw jsonError(400, 'body must be valid JSON');
  }
}

/**
 * The request body as JSON, read no further than `limit` bytes: a declared Content-Length past it is refused
 * before reading, a chunked body as soon as it passes it. 413 past the limit, 400 for anything not JSON.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const tooLarge = () => jsonError(413, `the request body is larger than this broker's limit of ${limit} bytes`);
  const declared = request.headers.get('Content-Length');
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  if (request.body) {
    const reader = request.body.getReader();
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  try {
    return JSON.parse(new TextDecoder().decode(concatBytes(chunks)));
  } catch {
    throw jsonError(400, 'body must be valid JSON');
  }
}
