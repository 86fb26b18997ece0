// SUBACK (3.1.1 section 3.9, 5.0 section 3.9): packet id, 5.0 properties, one code per requested filter.
// The codes pass through unchanged in both versions; core/reason-codes maps refusals to 0x80 for 3.1.1.
import { ReasonCode as RC, SUBACK_FAILURE_V3 } from '../reason-codes.js';
import type { ProtocolVersion, SubackPacket } from './packets.js';
import { SUBACK_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, reasonCodeSet, type Reader } from './reader.js';
import { type Writer, cannotEncode } from './writer.js';

/** 5.0 section 3.9.3, Subscribe Reason Codes. */
const SUBACK_REASON_CODES = reasonCodeSet(
  RC.GrantedQoS0, RC.GrantedQoS1, RC.GrantedQoS2, RC.UnspecifiedError, RC.ImplementationSpecificError,
  RC.NotAuthorized, RC.TopicFilterInvalid, RC.PacketIdentifierInUse, RC.QuotaExceeded,
  RC.SharedSubscriptionsNotSupported, RC.SubscriptionIdentifiersNotSupported, RC.WildcardSubscriptionsNotSupported,
);
/** 3.1.1 section 3.9.3: granted QoS 0-2 or 0x80 failure. */
const SUBACK_RETURN_CODES_V3 = reasonCodeSet(0x00, 0x01, 0x02, SUBACK_FAILURE_V3);

export function decodeSuback(r: Reader, flags: number, version: ProtocolVersion): SubackPacket {
  expectFlags(flags, 0, 'SUBACK'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  const packetId = r.packetId(); // [MQTT-2.3.1-7] [MQTT-2.2.1-6 v5]
  const properties = version === 5 ? decodeProperties(r, SUBACK_PROPERTIES) : undefined;
  const codes = version === 5 ? SUBACK_REASON_CODES : SUBACK_RETURN_CODES_V3;
  const reasonCodes: number[] = [];
  while (r.remaining > 0) {
    const code = r.u8();
    expectReasonCode(codes, code, 'SUBACK'); // [MQTT-3.9.3-2] [MQTT-3.9.3-2 v5]
    reasonCodes.push(code);
  }
  const packet: SubackPacket = { type: 'suback', packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodeSuback(w: Writer, p: SubackPacket, version: ProtocolVersion): void {
  if (p.packetId === 0) throw cannotEncode('SUBACK needs a non-zero packetId');
  let remaining = 2 + p.reasonCodes.length;
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(p.properties, SUBACK_PROPERTIES);
    remaining += propertiesFieldSize(propsLength);
  }
  w.header(0x90, remaining);
  w.u16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, SUBACK_PROPERTIES, propsLength);
  for (let i = 0; i < p.reasonCodes.length; i++) w.u8(p.reasonCodes[i]!);
}
