// SUBSCRIBE (3.1.1 section 3.8, 5.0 section 3.8): packet id, 5.0 properties, then at least one
// (topic filter, options) pair. Filter syntax (wildcards, $share) is checked by core/topic, not here.
import type { ProtocolVersion, QoS, SubscribePacket, Subscription } from './packets.js';
import { SUBSCRIBE_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, malformed, protocolError, type Reader } from './reader.js';
import { type Writer, cannotEncode, utf8FieldSize } from './writer.js';

// Subscription Options (5.0 section 3.8.3.1); 3.1.1 has only the QoS bits.
const QOS_MASK = 0x03;
const NO_LOCAL = 0x04;
const RETAIN_AS_PUBLISHED = 0x08;
const RETAIN_HANDLING_SHIFT = 4;
const RESERVED_V5 = 0xc0;
const RESERVED_V3 = 0xfc;

export function decodeSubscribe(r: Reader, flags: number, version: ProtocolVersion): SubscribePacket {
  expectFlags(flags, 0b0010, 'SUBSCRIBE'); // [MQTT-3.8.1-1] [MQTT-3.8.1-1 v5]
  const packetId = r.packetId(); // [MQTT-2.3.1-1] [MQTT-2.2.1-3 v5]
  const properties = version === 5 ? decodeProperties(r, SUBSCRIBE_PROPERTIES) : undefined;
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const topicFilter = r.utf8(); // [MQTT-3.8.3-1] [MQTT-3.8.3-1 v5]
    const options = r.u8();
    const qos = options & QOS_MASK;
    if (version === 5) {
      if ((options & RESERVED_V5) !== 0) throw malformed('SUBSCRIBE options reserved bits set'); // [MQTT-3.8.3-5 v5]
      if (qos === 3) throw protocolError('SUBSCRIBE Maximum QoS must not be 3'); // 5.0 section 3.8.3.1
      const retainHandling = options >> RETAIN_HANDLING_SHIFT;
      if (retainHandling === 3) throw protocolError('SUBSCRIBE Retain Handling must not be 3'); // 5.0 section 3.8.3.1
      subscriptions.push({
        topicFilter,
        qos: qos as QoS,
        noLocal: (options & NO_LOCAL) !== 0,
        retainAsPublished: (options & RETAIN_AS_PUBLISHED) !== 0,
        retainHandling: retainHandling as 0 | 1 | 2,
      });
    } else {
      if ((options & RESERVED_V3) !== 0 || qos === 3) {
        throw malformed('SUBSCRIBE requested QoS must be 0, 1 or 2 with reserved bits 0'); // [MQTT-3-8.3-4]
      }
      subscriptions.push({ topicFilter, qos: qos as QoS });
    }
  }
  if (subscriptions.length === 0) {
    if (version === 5) throw protocolError('SUBSCRIBE without topic filters'); // [MQTT-3.8.3-2 v5]
    throw malformed('SUBSCRIBE without topic filters'); // [MQTT-3.8.3-3]
  }
  const packet: SubscribePacket = { type: 'subscribe', packetId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodeSubscribe(w: Writer, p: SubscribePacket, version: ProtocolVersion): void {
  if (p.packetId === 0) throw cannotEncode('SUBSCRIBE needs a non-zero packetId');
  const subs = p.subscriptions;
  if (subs.length === 0) throw cannotEncode('SUBSCRIBE needs at least one subscription'); // [MQTT-3.8.3-3]
  let remaining = 2;
  for (let i = 0; i < subs.length; i++) remaining += utf8FieldSize(subs[i]!.topicFilter) + 1;
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(p.properties, SUBSCRIBE_PROPERTIES);
    remaining += propertiesFieldSize(propsLength);
  }
  w.header(0x82, remaining);
  w.u16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, SUBSCRIBE_PROPERTIES, propsLength);
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    w.utf8(s.topicFilter);
    let options: number = s.qos;
    if (version === 5) {
      if (s.noLocal === true) options |= NO_LOCAL;
      if (s.retainAsPublished === true) options |= RETAIN_AS_PUBLISHED;
      options |= (s.retainHandling ?? 0) << RETAIN_HANDLING_SHIFT;
    }
    w.u8(options);
  }
}
