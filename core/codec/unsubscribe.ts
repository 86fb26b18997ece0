// UNSUBSCRIBE (3.1.1 section 3.10, 5.0 section 3.10): packet id, 5.0 properties, at least one topic filter.
import type { ProtocolVersion, UnsubscribePacket } from './packets.js';
import { UNSUBSCRIBE_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, malformed, protocolError, type Reader } from './reader.js';
import { type Writer, cannotEncode, utf8FieldSize } from './writer.js';

export function decodeUnsubscribe(r: Reader, flags: number, version: ProtocolVersion): UnsubscribePacket {
  expectFlags(flags, 0b0010, 'UNSUBSCRIBE'); // [MQTT-3.10.1-1] [MQTT-3.10.1-1 v5]
  const packetId = r.packetId(); // [MQTT-2.3.1-1] [MQTT-2.2.1-3 v5]
  const properties = version === 5 ? decodeProperties(r, UNSUBSCRIBE_PROPERTIES) : undefined;
  const topicFilters: string[] = [];
  while (r.remaining > 0) topicFilters.push(r.utf8()); // [MQTT-3.10.3-1] [MQTT-3.10.3-1 v5]
  if (topicFilters.length === 0) {
    if (version === 5) throw protocolError('UNSUBSCRIBE without topic filters'); // [MQTT-3.10.3-2 v5]
    throw malformed('UNSUBSCRIBE without topic filters'); // [MQTT-3.10.3-2]
  }
  const packet: UnsubscribePacket = { type: 'unsubscribe', packetId, topicFilters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodeUnsubscribe(w: Writer, p: UnsubscribePacket, version: ProtocolVersion): void {
  if (p.packetId === 0) throw cannotEncode('UNSUBSCRIBE needs a non-zero packetId');
  const filters = p.topicFilters;
  if (filters.length === 0) throw cannotEncode('UNSUBSCRIBE needs at least one topic filter'); // [MQTT-3.10.3-2]
  let remaining = 2;
  for (let i = 0; i < filters.length; i++) remaining += utf8FieldSize(filters[i]!);
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(p.properties, UNSUBSCRIBE_PROPERTIES);
    remaining += propertiesFieldSize(propsLength);
  }
  w.header(0xa2, remaining);
  w.u16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, UNSUBSCRIBE_PROPERTIES, propsLength);
  for (let i = 0; i < filters.length; i++) w.utf8(filters[i]!);
}
