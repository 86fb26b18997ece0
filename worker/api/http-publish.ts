// Size bounds of an HTTP publish: the body is refused before it is read whole, the payload as an MQTT PUBLISH
// of the same message would be.
//
//   MAX_PACKET_SIZE 1 MiB → packet limit 1,048,576 (config caps it at MAXIMUM_STORABLE_PACKET: one SQLite row)
//                         → body limit ceil(1,048,576 / 3) × 4 (a base64 payload that size) + topic and fields
//   a body past the body limit (declared or streamed): 413, never buffered
//   a decoded PUBLISH past the packet limit: 413
import { MAX_STRING_BYTES, utf8Length } from '../../core/codec/utf8.js';
import { varintLength } from '../../core/codec/varint.js';

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
