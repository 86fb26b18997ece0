// CONNECT (3.1.1 section 3.1, 5.0 section 3.1). The packet names its own protocol version, so unlike the
// other packets it is decoded without knowing the connection's version.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import type { ConnectPacket, ProtocolVersion, QoS, Will } from './packets.js';
import {
  CONNECT_PROPERTIES,
  WILL_PROPERTIES,
  decodeProperties,
  propertiesFieldSize,
  propertiesLength,
  writeProperties,
} from './properties.js';
import { expectFlags, malformed, protocolError, type Reader } from './reader.js';
import { type Writer, binaryFieldSize, utf8FieldSize } from './writer.js';

// Connect Flags (3.1.1 section 3.1.2.3, 5.0 section 3.1.2.3).
const RESERVED = 0x01;
const CLEAN_SESSION = 0x02;
const WILL_FLAG = 0x04;
const WILL_QOS_SHIFT = 3;
const WILL_RETAIN = 0x20;
const PASSWORD_FLAG = 0x40;
const USERNAME_FLAG = 0x80;

/** The version a protocol name and level denote: "MQIsdp" 3 (MQTT 3.1), "MQTT" 4 (3.1.1) or 5. */
export function protocolVersionOf(protocolName: string, level: number): ProtocolVersion | undefined {
  if (protocolName === 'MQTT') return level === 4 || level === 5 ? level : undefined;
  if (protocolName === 'MQIsdp') return level === 3 ? 3 : undefined;
  return undefined;
}

export function decodeConnect(r: Reader, flags: number): ConnectPacket {
  expectFlags(flags, 0, 'CONNECT'); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  const protocolName = r.utf8();
  const level = r.u8();
  const version = protocolVersionOf(protocolName, level);
  if (version === undefined) {
    // The broker answers CONNACK 0x01 (3.1.1) or 0x84 (5.0) and closes.
    throw new MqttError(
      ReasonCode.UnsupportedProtocolVersion,
      `unsupported protocol ${JSON.stringify(protocolName)} level ${level}`,
    ); // [MQTT-3.1.2-1] [MQTT-3.1.2-2] [MQTT-3.1.2-1 v5] [MQTT-3.1.2-2 v5]
  }

  const connectFlags = r.u8();
  if ((connectFlags & RESERVED) !== 0) throw malformed('CONNECT reserved flag must be 0'); // [MQTT-3.1.2-3] [MQTT-3.1.2-3 v5]
  const hasWill = (connectFlags & WILL_FLAG) !== 0;
  const willQoS = (connectFlags >> WILL_QOS_SHIFT) & 0x03;
  const willRetain = (connectFlags & WILL_RETAIN) !== 0;
  if (!hasWill) {
    if (willQoS !== 0) throw malformed('Will QoS must be 0 when the Will Flag is 0'); // [MQTT-3.1.2-13] [MQTT-3.1.2-11 v5]
    if (willRetain) throw malformed('Will Retain must be 0 when the Will Flag is 0'); // [MQTT-3.1.2-15] [MQTT-3.1.2-13 v5]
  } else if (willQoS === 3) {
    throw malformed('Will QoS must not be 3'); // [MQTT-3.1.2-14] [MQTT-3.1.2-12 v5]
  }
  const hasUsername = (connectFlags & USERNAME_FLAG) !== 0;
  const hasPassword = (connectFlags & PASSWORD_FLAG) !== 0;
  if (version !== 5 && hasPassword && !hasUsername) {
    throw malformed('Password Flag set without User Name Flag'); // [MQTT-3.1.2-22]
  }
  const keepAlive = r.u16();
  const properties = version === 5 ? decodeProperties(r, CONNECT_PROPERTIES) : undefined;
  if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
    throw protocolError('Authentication Data without Authentication Method'); // 5.0 section 3.1.2.11.10
  }

  // Payload, in this order when present [MQTT-3.1.3-1] [MQTT-3.1.3-1 v5].
  const clientId = r.utf8(); // [MQTT-3.1.3-3] [MQTT-3.1.3-4] [MQTT-3.1.3-4 v5]
  const packet: ConnectPacket = {
    type: 'connect',
    protocolName,
    protocolVersion: version,
    cleanSession: (connectFlags & CLEAN_SESSION) !== 0,
    keepAlive,
    clientId,
  };
  if (hasWill) {
    const willProperties = version === 5 ? decodeProperties(r, WILL_PROPERTIES) : undefined;
    const topic = r.utf8(); // [MQTT-3.1.3-10] [MQTT-3.1.3-11 v5]
    const payload = r.binary();
    const will: Will = { topic, payload, qos: willQoS as QoS, retain: willRetain };
    if (willProperties !== undefined) will.properties = willProperties;
    packet.will = will;
  }
  if (hasUsername) packet.username = r.utf8(); // [MQTT-3.1.3-11] [MQTT-3.1.3-12 v5]
  if (hasPassword) packet.password = r.binary(); // [MQTT-3.1.2-21] [MQTT-3.1.2-19 v5]
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** Encodes for the version the packet names (`protocolVersion`), whatever the connection's version. */
export function encodeConnect(w: Writer, p: ConnectPacket): void {
  const v5 = p.protocolVersion === 5;
  const will = p.will;
  let flags = p.cleanSession ? CLEAN_SESSION : 0;
  // Protocol Name, Protocol Level, Connect Flags, Keep Alive, Client Identifier.
  let remaining = utf8FieldSize(p.protocolName) + 1 + 1 + 2 + utf8FieldSize(p.clientId);
  let propsLength = 0;
  let willPropsLength = 0;
  if (v5) {
    propsLength = propertiesLength(p.properties, CONNECT_PROPERTIES);
    remaining += propertiesFieldSize(propsLength);
  }
  if (will !== undefined) {
    flags |= WILL_FLAG | (will.qos << WILL_QOS_SHIFT) | (will.retain ? WILL_RETAIN : 0);
    if (v5) {
      willPropsLength = propertiesLength(will.properties, WILL_PROPERTIES);
      remaining += propertiesFieldSize(willPropsLength);
    }
    remaining += utf8FieldSize(will.topic) + binaryFieldSize(will.payload);
  }
  if (p.username !== undefined) {
    flags |= USERNAME_FLAG;
    remaining += utf8FieldSize(p.username);
  }
  if (p.password !== undefined) {
    flags |= PASSWORD_FLAG;
    remaining += binaryFieldSize(p.password);
  }

  w.header(0x10, remaining);
  w.utf8(p.protocolName);
  w.u8(p.protocolVersion);
  w.u8(flags);
  w.u16(p.keepAlive);
  if (v5) writeProperties(w, p.properties, CONNECT_PROPERTIES, propsLength);
  w.utf8(p.clientId);
  if (will !== undefined) {
    if (v5) writeProperties(w, will.properties, WILL_PROPERTIES, willPropsLength);
    w.utf8(will.topic);
    w.binary(will.payload);
  }
  if (p.username !== undefined) w.utf8(p.username);
  if (p.password !== undefined) w.binary(p.password);
}
