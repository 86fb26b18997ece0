// PUBLISH (3.1.1 section 3.3, 5.0 section 3.3): flags DUP/QoS/RETAIN, topic, packet id when QoS > 0,
// 5.0 properties, payload. Encoding for 3.1.1 drops the properties: that is how a 5.0 message reaches a
// 3.1.1 subscriber.
import type { ProtocolVersion, PublishPacket, QoS } from './packets.js';
import { PUBLISH_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { malformed, type Reader } from './reader.js';
import { type Writer, cannotEncode, utf8FieldSize } from './writer.js';

const DUP = 0x08;
const QOS_SHIFT = 1;
const RETAIN = 0x01;

export function decodePublish(r: Reader, flags: number, version: ProtocolVersion): PublishPacket {
  const qos = (flags >> QOS_SHIFT) & 0x03;
  if (qos === 3) throw malformed('PUBLISH QoS must not be 3'); // [MQTT-3.3.1-4] [MQTT-3.3.1-4 v5]
  const dup = (flags & DUP) !== 0;
  if (dup && qos === 0) throw malformed('PUBLISH DUP must be 0 for QoS 0'); // [MQTT-3.3.1-2] [MQTT-3.3.1-2 v5]
  const topic = r.utf8(); // [MQTT-3.3.2-1] [MQTT-3.3.2-1 v5]
  const packetId = qos > 0 ? r.packetId() : 0; // [MQTT-2.3.1-1] [MQTT-2.2.1-3 v5]
  const properties = version === 5 ? decodeProperties(r, PUBLISH_PROPERTIES) : undefined;
  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload: r.rest(),
    qos: qos as QoS,
    retain: (flags & RETAIN) !== 0,
    dup,
  };
  if (qos > 0) packet.packetId = packetId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodePublish(w: Writer, p: PublishPacket, version: ProtocolVersion): void {
  const qos = p.qos;
  const packetId = p.packetId ?? 0;
  let remaining = utf8FieldSize(p.topic) + p.payload.length;
  if (qos > 0) {
    if (packetId === 0) {
      throw cannotEncode(`PUBLISH QoS ${qos} needs a non-zero packetId`); // [MQTT-2.3.1-1] [MQTT-2.2.1-4 v5]
    }
    remaining += 2;
  }
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(p.properties, PUBLISH_PROPERTIES);
    remaining += propertiesFieldSize(propsLength);
  }
  // DUP is cleared for QoS 0 rather than sent to a receiver that must reject it [MQTT-3.3.1-2].
  const firstByte = 0x30 | (p.dup && qos > 0 ? DUP : 0) | (qos << QOS_SHIFT) | (p.retain ? RETAIN : 0);
  w.header(firstByte, remaining);
  w.utf8(p.topic);
  if (qos > 0) w.u16(packetId); // [MQTT-2.3.1-5] [MQTT-2.2.1-2 v5]: no packet id at QoS 0
  if (version === 5) writeProperties(w, p.properties, PUBLISH_PROPERTIES, propsLength);
  w.raw(p.payload);
}
