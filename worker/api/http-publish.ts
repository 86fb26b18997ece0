// Size bounds of an HTTP publish: the body is refused before it is read whole, the payload as an MQTT PUBLISH
// of the same message would be.
//
//   MAX_PACKET_SIZE 1 MiB → packet limit 1,048,576 (a Durable Object row caps it at STORABLE_PACKET_SIZE)
//                         → body limit ceil(1,048,576 / 3) × 4 (a base64 payload that size) + topic and fields
//   a body past the body limit (declared or streamed): 413, never buffered
//   a decoded PUBLISH past the packet limit: 413
import { concatBytes } from '../../core/codec/bytes.js';
import { MAX_STRING_BYTES, utf8Length } from '../../core/codec/utf8.js';
import { varintLength } from '../../core/codec/varint.js';
import { jsonError } from './tenant-auth.js';

/**
 * The largest PUBLISH an HTTP publish may make, whatever MAX_PACKET_SIZE says. A message is stored in Durable
 * Object SQLite (retained, queued for an offline session), whose rows and values stop at 2 MB: a 3 MiB
 * retained payload failed there with a 500. Topic and columns share the row, hence the margin.
 */
export const STORABLE_PACKET_SIZE = 1_900_000;

/** The PUBLISH packet size limit of HTTP publishes in this deployment. */
export function publishPacketLimit(maximumPacketSize: number): number {
  return Math.min(maximumPacketSize, STORABLE_PACKET_SIZE);
}

/**
 * The largest body that can hold a publish within `packetLimit`: the payload base64-encoded (4/3), a topic of
 * up to 65,535 bytes JSON-escaped (at worst 6 characters a byte, `\u001f`), and the other fields.
 */
export function publishBodyLimit(packetLimit: number): number {
  return Math.ceil(packetLimit / 3) * 4 + 6 * MAX_STRING_BYTES + 1024;
}

/** Bytes of the 3.1.1 PUBLISH packet carrying this message (fixed header included), as MAX_PACKET_SIZE counts. */
export function publishPacketSize(topic: string, payloadLength: number, qos: 0 | 1): number {
  const remaining = 2 + utf8Length(topic) + (qos > 0 ? 2 : 0) + payloadLength;
  return 1 + varintLength(remaining) + remaining;
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
