// CONNACK (3.1.1 section 3.2, 5.0 section 3.2): acknowledge flags, return/reason code, 5.0 properties.
import { ConnectReturnCode, ReasonCode as RC } from '../reason-codes.js';
import type { ConnackPacket, ProtocolVersion } from './packets.js';
import { CONNACK_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, malformed, protocolError, reasonCodeSet, type Reader } from './reader.js';
import type { Writer } from './writer.js';

const SESSION_PRESENT = 0x01;

/** 5.0 table 3-1, Connect Reason Code values. */
const CONNACK_REASON_CODES = reasonCodeSet(
  RC.Success, RC.UnspecifiedError, RC.MalformedPacket, RC.ProtocolError, RC.ImplementationSpecificError,
  RC.UnsupportedProtocolVersion, RC.ClientIdentifierNotValid, RC.BadUserNameOrPassword, RC.NotAuthorized,
  RC.ServerUnavailable, RC.ServerBusy, RC.Banned, RC.BadAuthenticationMethod, RC.TopicNameInvalid,
  RC.PacketTooLarge, RC.QuotaExceeded, RC.PayloadFormatInvalid, RC.RetainNotSupported, RC.QoSNotSupported,
  RC.UseAnotherServer, RC.ServerMoved, RC.ConnectionRateExceeded,
);

export function decodeConnack(r: Reader, flags: number, version: ProtocolVersion): ConnackPacket {
  expectFlags(flags, 0, 'CONNACK'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  const ackFlags = r.u8();
  if ((ackFlags & ~SESSION_PRESENT) !== 0) {
    throw malformed('CONNACK acknowledge flags bits 7-1 are reserved'); // 3.1.1 section 3.2.2.1, [MQTT-3.2.2-1 v5]
  }
  const reasonCode = r.u8();
  if (version === 5) {
    expectReasonCode(CONNACK_REASON_CODES, reasonCode, 'CONNACK'); // [MQTT-3.2.2-8 v5]
  } else if (reasonCode > ConnectReturnCode.NotAuthorized) {
    throw protocolError(`CONNACK return code ${reasonCode} is reserved`); // 3.1.1 section 3.2.2.3
  }
  const packet: ConnackPacket = { type: 'connack', sessionPresent: (ackFlags & SESSION_PRESENT) !== 0, reasonCode };
  if (version === 5) {
    const properties = decodeProperties(r, CONNACK_PROPERTIES);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

export function encodeConnack(w: Writer, p: ConnackPacket, version: ProtocolVersion): void {
  const propsLength = version === 5 ? propertiesLength(p.properties, CONNACK_PROPERTIES) : 0;
  w.header(0x20, 2 + (version === 5 ? propertiesFieldSize(propsLength) : 0));
  w.u8(p.sessionPresent ? SESSION_PRESENT : 0);
  w.u8(p.reasonCode);
  if (version === 5) writeProperties(w, p.properties, CONNACK_PROPERTIES, propsLength);
}
