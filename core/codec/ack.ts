// PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4-3.7 in both versions): one shape, packet id then, in 5.0,
// an optional reason code and properties. 5.0 short forms: Remaining Length 2 means Success and no
// properties, 3 means a reason code and no properties; the encoder writes the shortest one that fits.
import { ReasonCode as RC } from '../reason-codes.js';
import type { AckPacket, ProtocolVersion } from './packets.js';
import { ACK_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, reasonCodeSet, type Reader } from './reader.js';
import { type Writer, cannotEncode } from './writer.js';

export type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/** 5.0 sections 3.4.2.1 and 3.5.2.1: PUBACK and PUBREC share their reason codes. */
const PUBACK_REASON_CODES = reasonCodeSet(
  RC.Success, RC.NoMatchingSubscribers, RC.UnspecifiedError, RC.ImplementationSpecificError, RC.NotAuthorized,
  RC.TopicNameInvalid, RC.PacketIdentifierInUse, RC.QuotaExceeded, RC.PayloadFormatInvalid,
);
/** 5.0 sections 3.6.2.1 and 3.7.2.1: PUBREL and PUBCOMP. */
const PUBREL_REASON_CODES = reasonCodeSet(RC.Success, RC.PacketIdentifierNotFound);

const FIRST_BYTE: Record<AckType, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };
const NAME: Record<AckType, string> = { puback: 'PUBACK', pubrec: 'PUBREC', pubrel: 'PUBREL', pubcomp: 'PUBCOMP' };

export function decodeAck<T extends AckType>(type: T, r: Reader, flags: number, version: ProtocolVersion): AckPacket<T> {
  // PUBREL's flags are 0010 [MQTT-3.6.1-1] [MQTT-3.6.1-1 v5]; the others' are 0000 [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5].
  expectFlags(flags, FIRST_BYTE[type] & 0x0f, NAME[type]);
  // A non-zero id: it echoes one [MQTT-2.3.1-6] [MQTT-2.2.1-5 v5], and ids are never 0 [MQTT-2.3.1-1].
  const packetId = r.packetId();
  if (version !== 5) return { type, packetId };
  let reasonCode: number = RC.Success;
  if (r.remaining > 0) {
    reasonCode = r.u8();
    const codes = type === 'puback' || type === 'pubrec' ? PUBACK_REASON_CODES : PUBREL_REASON_CODES;
    expectReasonCode(codes, reasonCode, NAME[type]); // [MQTT-3.4.2-1 v5] [MQTT-3.5.2-1 v5] [MQTT-3.6.2-1 v5] [MQTT-3.7.2-1 v5]
  }
  const packet: AckPacket<T> = { type, packetId, reasonCode };
  // "If the Remaining Length is less than 4 there is no Property Length and the value of 0 is used."
  if (r.remaining > 0) {
    const properties = decodeProperties(r, ACK_PROPERTIES);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

export function encodeAck(w: Writer, p: AckPacket<AckType>, version: ProtocolVersion): void {
  if (p.packetId === 0) throw cannotEncode(`${NAME[p.type]} needs a non-zero packetId`);
  const firstByte = FIRST_BYTE[p.type];
  const reasonCode = p.reasonCode ?? RC.Success;
  const propsLength = version === 5 ? propertiesLength(p.properties, ACK_PROPERTIES) : 0;
  let remaining = 2;
  if (version === 5 && propsLength > 0) remaining = 3 + propertiesFieldSize(propsLength);
  else if (version === 5 && reasonCode !== RC.Success) remaining = 3;
  w.header(firstByte, remaining);
  w.u16(p.packetId);
  if (remaining > 2) w.u8(reasonCode);
  if (remaining > 3) writeProperties(w, p.properties, ACK_PROPERTIES, propsLength);
}
