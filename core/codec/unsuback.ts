// UNSUBACK (3.1.1 section 3.11, 5.0 section 3.11): packet id; 5.0 adds properties and one code per filter.
import { ReasonCode as RC } from '../reason-codes.js';
import type { ProtocolVersion, UnsubackPacket } from './packets.js';
import { UNSUBACK_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, reasonCodeSet, type Reader } from './reader.js';
import { type Writer, cannotEncode } from './writer.js';

/** 5.0 section 3.11.3, Unsubscribe Reason Codes. */
const UNSUBACK_REASON_CODES = reasonCodeSet(
  RC.Success, RC.NoSubscriptionExisted, RC.UnspecifiedError, RC.ImplementationSpecificError, RC.NotAuthorized,
  RC.TopicFilterInvalid, RC.PacketIdentifierInUse,
);

export function decodeUnsuback(r: Reader, flags: number, version: ProtocolVersion): UnsubackPacket {
  expectFlags(flags, 0, 'UNSUBACK'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  const packetId = r.packetId(); // [MQTT-2.3.1-7] [MQTT-2.2.1-6 v5]
  if (version !== 5) return { type: 'unsuback', packetId };
  const properties = decodeProperties(r, UNSUBACK_PROPERTIES);
  const reasonCodes: number[] = [];
  while (r.remaining > 0) {
    const code = r.u8();
    expectReasonCode(UNSUBACK_REASON_CODES, code, 'UNSUBACK'); // [MQTT-3.11.3-2 v5]
    reasonCodes.push(code);
  }
  const packet: UnsubackPacket = { type: 'unsuback', packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodeUnsuback(w: Writer, p: UnsubackPacket, version: ProtocolVersion): void {
  if (p.packetId === 0) throw cannotEncode('UNSUBACK needs a non-zero packetId');
  if (version !== 5) {
    w.header(0xb0, 2);
    w.u16(p.packetId);
    return;
  }
  const codes = p.reasonCodes ?? [];
  const propsLength = propertiesLength(p.properties, UNSUBACK_PROPERTIES);
  w.header(0xb0, 2 + propertiesFieldSize(propsLength) + codes.length);
  w.u16(p.packetId);
  writeProperties(w, p.properties, UNSUBACK_PROPERTIES, propsLength);
  for (let i = 0; i < codes.length; i++) w.u8(codes[i]!);
}
