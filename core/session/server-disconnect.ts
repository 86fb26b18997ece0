// The DISCONNECT a 5.0 server sends before it closes a connection: its reason code and a short Reason String.
//
// The Reason String is for people, not for clients' logic, but some clients need it to see the code at all:
// paho-mqtt 2.1 reads the reason code only from a DISCONNECT longer than 2 bytes, and reports a bare
// `e0 01 94` as "Normal disconnection". With a property the packet is never that short.
import { encodePacket } from '../codec/index.js';
import type { DisconnectPacket } from '../codec/packets.js';
import { ReasonCode, type ReasonCodeValue } from '../reason-codes.js';

/** What a server DISCONNECT says for each reason code it sends; a code missing here goes without a string. */
const REASON_STRINGS: Partial<Record<ReasonCodeValue, string>> = {
  [ReasonCode.UnspecifiedError]: 'Unspecified error',
  [ReasonCode.MalformedPacket]: 'Malformed packet',
  [ReasonCode.ProtocolError]: 'Protocol error',
  [ReasonCode.NotAuthorized]: 'Not authorized',
  [ReasonCode.ServerBusy]: 'Server busy: reconnect later',
  [ReasonCode.KeepAliveTimeout]: 'Keep alive timeout',
  [ReasonCode.SessionTakenOver]: 'Session taken over',
  [ReasonCode.TopicNameInvalid]: 'Topic name invalid',
  [ReasonCode.ReceiveMaximumExceeded]: 'Receive maximum exceeded',
  [ReasonCode.TopicAliasInvalid]: 'Topic alias invalid',
  [ReasonCode.PacketTooLarge]: 'Packet too large',
  [ReasonCode.MessageRateTooHigh]: 'Message rate too high',
  [ReasonCode.QuotaExceeded]: 'Quota exceeded',
  [ReasonCode.AdministrativeAction]: 'Administrative action',
  [ReasonCode.PayloadFormatInvalid]: 'Payload format invalid',
};

/** The default Reason String of a server DISCONNECT with this code (undefined: none). */
export function disconnectReasonString(reasonCode: number): string | undefined {
  return REASON_STRINGS[reasonCode as ReasonCodeValue];
}

/**
 * A 5.0 server DISCONNECT: `reasonString` (or the code's default) goes with it unless it would make the packet
 * larger than the client's Maximum Packet Size [MQTT-3.14.2-3 v5]. Request Problem Information 0 does not
 * remove it: that flag concerns packets other than PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29 v5].
 */
export function serverDisconnect(reasonCode: number, reasonString: string | undefined, maximumPacketSize: number | undefined): DisconnectPacket {
  const bare: DisconnectPacket = { type: 'disconnect', reasonCode };
  const text = reasonString ?? disconnectReasonString(reasonCode);
  if (text === undefined) return bare;
  const packet: DisconnectPacket = { ...bare, properties: { reasonString: text } };
  if (maximumPacketSize !== undefined && encodePacket(packet, 5).length > maximumPacketSize) return bare;
  return packet;
}
