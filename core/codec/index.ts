// The MQTT codec: decode one whole packet, encode packets, frame a byte stream. Pure TypeScript, no I/O.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import { decodeAck, encodeAck } from './ack.js';
import { decodeAuth, encodeAuth } from './auth.js';
import { decodeConnack, encodeConnack } from './connack.js';
import { decodeConnect, encodeConnect } from './connect.js';
import { decodeDisconnect, encodeDisconnect } from './disconnect.js';
import { assertNever, type Packet, type ProtocolVersion } from './packets.js';
import { decodePingreq, decodePingresp, encodePingreq, encodePingresp } from './ping.js';
import { decodePublish, encodePublish } from './publish.js';
import { Reader, malformed } from './reader.js';
import { decodeSuback, encodeSuback } from './suback.js';
import { decodeSubscribe, encodeSubscribe } from './subscribe.js';
import { decodeUnsuback, encodeUnsuback } from './unsuback.js';
import { decodeUnsubscribe, encodeUnsubscribe } from './unsubscribe.js';
import { decodeVarint, varintLength } from './varint.js';
import { Writer, cannotEncode } from './writer.js';

export * from './packets.js';
export { PacketFramer } from './framer.js';

export interface DecodeLimits {
  /** Largest packet accepted, fixed header included; larger ones throw MqttError(PacketTooLarge). */
  maximumPacketSize?: number;
}

/**
 * Decodes `bytes`, exactly one whole packet (fixed header included), as sent on a connection of
 * `protocolVersion`. A CONNECT is decoded by the version it names itself; an unknown protocol name or
 * level throws MqttError(UnsupportedProtocolVersion). Anything else invalid throws MqttError with the
 * reason code the connection should end with. Binary fields and payloads are copies: the packet never
 * aliases `bytes`.
 */
export function decodePacket(bytes: Uint8Array, protocolVersion: ProtocolVersion, limits?: DecodeLimits): Packet {
  const size = bytes.length;
  const maximumPacketSize = limits?.maximumPacketSize;
  if (maximumPacketSize !== undefined && size > maximumPacketSize) {
    throw new MqttError(
      ReasonCode.PacketTooLarge,
      `packet of ${size} bytes exceeds the maximum packet size ${maximumPacketSize}`,
    ); // [MQTT-3.2.2-15 v5]
  }
  if (size < 2) throw malformed('packet shorter than a fixed header');
  const remainingLength = decodeVarint(bytes, 1, size);
  if (remainingLength < 0) throw malformed('truncated remaining length');
  const start = 1 + varintLength(remainingLength);
  if (start + remainingLength !== size) {
    throw malformed(`remaining length ${remainingLength} does not match the ${size - start} bytes after the fixed header`);
  }

  const r = new Reader(bytes, start, size);
  const firstByte = bytes[0]!;
  const flags = firstByte & 0x0f;
  let packet: Packet;
  switch (firstByte >> 4) {
    case 1:
      packet = decodeConnect(r, flags);
      break;
    case 2:
      packet = decodeConnack(r, flags, protocolVersion);
      break;
    case 3:
      packet = decodePublish(r, flags, protocolVersion);
      break;
    case 4:
      packet = decodeAck('puback', r, flags, protocolVersion);
      break;
    case 5:
      packet = decodeAck('pubrec', r, flags, protocolVersion);
      break;
    case 6:
      packet = decodeAck('pubrel', r, flags, protocolVersion);
      break;
    case 7:
      packet = decodeAck('pubcomp', r, flags, protocolVersion);
      break;
    case 8:
      packet = decodeSubscribe(r, flags, protocolVersion);
      break;
    case 9:
      packet = decodeSuback(r, flags, protocolVersion);
      break;
    case 10:
      packet = decodeUnsubscribe(r, flags, protocolVersion);
      break;
    case 11:
      packet = decodeUnsuback(r, flags, protocolVersion);
      break;
    case 12:
      packet = decodePingreq(flags);
      break;
    case 13:
      packet = decodePingresp(flags);
      break;
    case 14:
      packet = decodeDisconnect(r, flags, protocolVersion);
      break;
    case 15:
      if (protocolVersion !== 5) throw malformed('packet type 15 is reserved in MQTT 3.1.1'); // 3.1.1 section 2.2.1
      packet = decodeAuth(r, flags);
      break;
    default:
      throw malformed('packet type 0 is reserved'); // 3.1.1 section 2.2.1, 5.0 section 2.1.2
  }
  if (r.pos !== r.end) throw malformed(`${r.end - r.pos} unexpected bytes after the ${packet.type.toUpperCase()} fields`);
  return packet;
}

/**
 * Encodes `packet` for a connection of `protocolVersion`: exactly the bytes the spec defines, in the shortest
 * legal form. For 3.1.1 what it cannot carry (properties, ack reason codes) is left out; a CONNECT is encoded
 * for the version it names. Throws MqttError only for a packet with no valid encoding (a missing packetId,
 * a string over 65,535 bytes, a packet over 256 MB, AUTH for 3.1.1).
 */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Uint8Array {
  const w = new Writer();
  encodeInto(w, packet, protocolVersion);
  return w.bytes; // exactly one packet's size: an empty Writer grows to exactly what header() asks for
}

/**
 * Encodes several packets into one buffer, in order: the broker sends a batch as one WebSocket message.
 * They share one growing buffer, rather than one allocation per packet and a copy to join them.
 */
export function encodePackets(packets: readonly Packet[], protocolVersion: ProtocolVersion): Uint8Array {
  const w = new Writer();
  for (let i = 0; i < packets.length; i++) encodeInto(w, packets[i]!, protocolVersion);
  return w.finish();
}

function encodeInto(w: Writer, packet: Packet, protocolVersion: ProtocolVersion): void {
  switch (packet.type) {
    case 'connect':
      return encodeConnect(w, packet);
    case 'connack':
      return encodeConnack(w, packet, protocolVersion);
    case 'publish':
      return encodePublish(w, packet, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(w, packet, protocolVersion);
    case 'subscribe':
      return encodeSubscribe(w, packet, protocolVersion);
    case 'suback':
      return encodeSuback(w, packet, protocolVersion);
    case 'unsubscribe':
      return encodeUnsubscribe(w, packet, protocolVersion);
    case 'unsuback':
      return encodeUnsuback(w, packet, protocolVersion);
    case 'pingreq':
      return encodePingreq(w);
    case 'pingresp':
      return encodePingresp(w);
    case 'disconnect':
      return encodeDisconnect(w, packet, protocolVersion);
    case 'auth':
      if (protocolVersion !== 5) throw cannotEncode('AUTH does not exist in MQTT 3.1.1');
      return encodeAuth(w, packet);
    default:
      return assertNever(packet);
  }
}

/**
 * The protocol level byte of a CONNECT (3, 4, 5, or any other value a client sent), read without decoding
 * the rest; undefined when `bytes` does not start with a readable CONNECT variable header. Lets the broker
 * answer a CONNECT that fails to decode with a CONNACK in the client's own version (5.0 section 4.13).
 */
export function peekConnectVersion(bytes: Uint8Array): number | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x10) return undefined;
  let remainingLength: number;
  try {
    remainingLength = decodeVarint(bytes, 1, bytes.length);
  } catch {
    return undefined;
  }
  if (remainingLength < 0) return undefined;
  const start = 1 + varintLength(remainingLength);
  if (start + 2 > bytes.length) return undefined;
  const levelAt = start + 2 + ((bytes[start]! << 8) | bytes[start + 1]!);
  return levelAt < bytes.length ? bytes[levelAt] : undefined;
}
