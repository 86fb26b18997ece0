// DISCONNECT (3.1.1 section 3.14, 5.0 section 3.14). 3.1.1: a bare fixed header. 5.0: Remaining Length 0
// means 0x00 Normal disconnection, 1 means a reason code and no properties (section 3.14.2.2.1).
import { ReasonCode as RC } from '../reason-codes.js';
import type { DisconnectPacket, ProtocolVersion } from './packets.js';
import { DISCONNECT_PROPERTIES, decodeProperties, propertiesFieldSize, propertiesLength, writeProperties } from './properties.js';
import { expectFlags, expectReasonCode, reasonCodeSet, type Reader } from './reader.js';
import type { Writer } from './writer.js';

/** 5.0 section 3.14.2.1, Disconnect Reason Codes. */
const DISCONNECT_REASON_CODES = reasonCodeSet(
  RC.NormalDisconnection, RC.DisconnectWithWill, RC.UnspecifiedError, RC.MalformedPacket, RC.ProtocolError,
  RC.ImplementationSpecificError, RC.NotAuthorized, RC.ServerBusy, RC.ServerShuttingDown, RC.KeepAliveTimeout,
  RC.SessionTakenOver, RC.TopicFilterInvalid, RC.TopicNameInvalid, RC.ReceiveMaximumExceeded, RC.TopicAliasInvalid,
  RC.PacketTooLarge, RC.MessageRateTooHigh, RC.QuotaExceeded, RC.AdministrativeAction, RC.PayloadFormatInvalid,
  RC.RetainNotSupported, RC.QoSNotSupported, RC.UseAnotherServer, RC.ServerMoved, RC.SharedSubscriptionsNotSupported,
  RC.ConnectionRateExceeded, RC.MaximumConnectTime, RC.SubscriptionIdentifiersNotSupported,
  RC.WildcardSubscriptionsNotSupported,
);

export function decodeDisconnect(r: Reader, flags: number, version: ProtocolVersion): DisconnectPacket {
  expectFlags(flags, 0, 'DISCONNECT'); // [MQTT-3.14.1-1] [MQTT-3.14.1-1 v5]
  if (version !== 5) return { type: 'disconnect' };
  if (r.remaining === 0) return { type: 'disconnect', reasonCode: RC.NormalDisconnection };
  const reasonCode = r.u8();
  expectReasonCode(DISCONNECT_REASON_CODES, reasonCode, 'DISCONNECT'); // [MQTT-3.14.2-1 v5]
  const packet: DisconnectPacket = { type: 'disconnect', reasonCode };
  if (r.remaining > 0) {
    const properties = decodeProperties(r, DISCONNECT_PROPERTIES);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

export function encodeDisconnect(w: Writer, p: DisconnectPacket, version: ProtocolVersion): void {
  const reasonCode = p.reasonCode ?? RC.NormalDisconnection;
  const propsLength = version === 5 ? propertiesLength(p.properties, DISCONNECT_PROPERTIES) : 0;
  let remaining = 0;
  if (version === 5 && propsLength > 0) remaining = 1 + propertiesFieldSize(propsLength);
  else if (version === 5 && reasonCode !== RC.NormalDisconnection) remaining = 1;
  w.header(0xe0, remaining);
  if (remaining > 0) w.u8(reasonCode);
  if (remaining > 1) writeProperties(w, p.properties, DISCONNECT_PROPERTIES, propsLength);
}
