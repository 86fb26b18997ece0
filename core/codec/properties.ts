// MQTT 5.0 properties (section 2.2.2): the identifier table, which packet may carry which, and their codec.
//
// Errors, as the spec assigns them:
//   identifier unknown or not valid for the packet type ... MalformedPacket (section 2.2.2.2)
//   a value not of the property's data type ............. MalformedPacket (section 2.2.2.2)
//   a single-valued property given twice ................ ProtocolError ("It is a Protocol Error to include ... more than once")
//   a value out of range (Receive Maximum 0, ...) ........ ProtocolError, except Topic Alias 0: TopicAliasInvalid (section 3.3.4)
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import type { Properties } from './packets.js';
import { malformed, protocolError, type Reader } from './reader.js';
import { varintLength } from './varint.js';
import { binaryFieldSize, utf8FieldSize, type Writer } from './writer.js';

/** Property identifiers (5.0 table 2-4), keyed by the `Properties` field each one fills. */
export const PropertyId = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifiers: 0x0b,
  sessionExpiryInterval: 0x11,
  assignedClientIdentifier: 0x12,
  serverKeepAlive: 0x13,
  authenticationMethod: 0x15,
  authenticationData: 0x16,
  requestProblemInformation: 0x17,
  willDelayInterval: 0x18,
  requestResponseInformation: 0x19,
  responseInformation: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQoS: 0x24,
  retainAvailable: 0x25,
  userProperties: 0x26,
  maximumPacketSize: 0x27,
  wildcardSubscriptionAvailable: 0x28,
  subscriptionIdentifierAvailable: 0x29,
  sharedSubscriptionAvailable: 0x2a,
} as const satisfies Record<keyof Properties, number>;

const P = PropertyId;

/** Which properties one packet type (or the CONNECT Will) may carry. */
export interface PropertyRules {
  readonly packet: string;
  /** Allowed identifiers in ascending order; the encoder writes them in this order. */
  readonly ids: readonly number[];
  /** By identifier: 0 not allowed, else a 1-based slot numbering the allowed ids (bit slot-1 in masks). */
  readonly slot: Uint8Array;
  /** Bit mask over slots of the properties that may appear more than once. */
  readonly repeatable: number;
}

function rules(packet: string, ids: number[], repeatable: number[]): PropertyRules {
  const sorted = [...ids].sort((a, b) => a - b);
  const slot = new Uint8Array(0x100);
  let mask = 0;
  sorted.forEach((id, index) => {
    slot[id] = index + 1;
    if (repeatable.includes(id)) mask |= 1 << index;
  });
  return { packet, ids: sorted, slot, repeatable: mask };
}

// Section 2.2.2.2, table 2-4: which packet carries which property. User Property may repeat everywhere;
// Subscription Identifier repeats on PUBLISH (one per matching subscription) but not on SUBSCRIBE.
export const CONNECT_PROPERTIES = rules(
  'CONNECT',
  [
    P.sessionExpiryInterval, P.authenticationMethod, P.authenticationData, P.requestProblemInformation,
    P.requestResponseInformation, P.receiveMaximum, P.topicAliasMaximum, P.userProperties, P.maximumPacketSize,
  ],
  [P.userProperties],
);
export const WILL_PROPERTIES = rules(
  'Will',
  [
    P.payloadFormatIndicator, P.messageExpiryInterval, P.contentType, P.responseTopic, P.correlationData,
    P.willDelayInterval, P.userProperties,
  ],
  [P.userProperties],
);
export const CONNACK_PROPERTIES = rules(
  'CONNACK',
  [
    P.sessionExpiryInterval, P.assignedClientIdentifier, P.serverKeepAlive, P.authenticationMethod,
    P.authenticationData, P.responseInformation, P.serverReference, P.reasonString, P.receiveMaximum,
    P.topicAliasMaximum, P.maximumQoS, P.retainAvailable, P.userProperties, P.maximumPacketSize,
    P.wildcardSubscriptionAvailable, P.subscriptionIdentifierAvailable, P.sharedSubscriptionAvailable,
  ],
  [P.userProperties],
);
export const PUBLISH_PROPERTIES = rules(
  'PUBLISH',
  [
    P.payloadFormatIndicator, P.messageExpiryInterval, P.contentType, P.responseTopic, P.correlationData,
    P.subscriptionIdentifiers, P.topicAlias, P.userProperties,
  ],
  [P.userProperties, P.subscriptionIdentifiers],
);
/** PUBACK, PUBREC, PUBREL and PUBCOMP. */
export const ACK_PROPERTIES = rules('PUBACK/PUBREC/PUBREL/PUBCOMP', [P.reasonString, P.userProperties], [P.userProperties]);
export const SUBSCRIBE_PROPERTIES = rules('SUBSCRIBE', [P.subscriptionIdentifiers, P.userProperties], [P.userProperties]);
export const SUBACK_PROPERTIES = rules('SUBACK', [P.reasonString, P.userProperties], [P.userProperties]);
export const UNSUBSCRIBE_PROPERTIES = rules('UNSUBSCRIBE', [P.userProperties], [P.userProperties]);
export const UNSUBACK_PROPERTIES = rules('UNSUBACK', [P.reasonString, P.userProperties], [P.userProperties]);
export const DISCONNECT_PROPERTIES = rules(
  'DISCONNECT',
  [P.sessionExpiryInterval, P.serverReference, P.reasonString, P.userProperties],
  [P.userProperties],
);
export const AUTH_PROPERTIES = rules(
  'AUTH',
  [P.authenticationMethod, P.authenticationData, P.reasonString, P.userProperties],
  [P.userProperties],
);

/**
 * Reads a Property Length and the properties it covers. Returns undefined for an empty list, so a decoded
 * packet only has `properties` when it carried some.
 */
export function decodeProperties(r: Reader, rules: PropertyRules): Properties | undefined {
  const length = r.varint();
  if (length === 0) return undefined;
  const end = r.pos + length;
  if (end > r.end) throw malformed(`${rules.packet}: property length exceeds the packet`);
  // Bound the reader by the property list, so no property can run into the fields after it.
  const packetEnd = r.end;
  r.end = end;
  const props: Properties = {};
  let seen = 0;
  while (r.pos < end) {
    // Identifiers are Variable Byte Integers, but every 5.0 identifier fits one byte (section 2.2.2.2).
    const id = r.u8();
    const slot = rules.slot[id]!;
    if (slot === 0) throw malformed(`${rules.packet} cannot carry property 0x${id.toString(16)}`); // 5.0 section 2.2.2.2
    const bit = 1 << (slot - 1);
    if ((seen & bit) !== 0 && (rules.repeatable & bit) === 0) {
      throw protocolError(`${rules.packet}: property 0x${id.toString(16)} included more than once`);
    }
    seen |= bit;
    switch (id) {
      case P.payloadFormatIndicator:
        props.payloadFormatIndicator = zeroOrOne(r.u8(), 'Payload Format Indicator'); // 5.0 section 3.3.2.3.2
        break;
      case P.messageExpiryInterval:
        props.messageExpiryInterval = r.u32();
        break;
      case P.contentType:
        props.contentType = r.utf8(); // [MQTT-3.3.2-19 v5]
        break;
      case P.responseTopic:
        props.responseTopic = r.utf8(); // [MQTT-3.3.2-13 v5]
        break;
      case P.correlationData:
        props.correlationData = r.binary();
        break;
      case P.subscriptionIdentifiers: {
        const value = r.varint();
        if (value === 0) throw protocolError('Subscription Identifier must not be 0'); // 5.0 section 3.3.2.3.8
        (props.subscriptionIdentifiers ??= []).push(value);
        break;
      }
      case P.sessionExpiryInterval:
        props.sessionExpiryInterval = r.u32();
        break;
      case P.assignedClientIdentifier:
        props.assignedClientIdentifier = r.utf8();
        break;
      case P.serverKeepAlive:
        props.serverKeepAlive = r.u16();
        break;
      case P.authenticationMethod:
        props.authenticationMethod = r.utf8();
        break;
      case P.authenticationData:
        props.authenticationData = r.binary();
        break;
      case P.requestProblemInformation:
        props.requestProblemInformation = zeroOrOne(r.u8(), 'Request Problem Information'); // 5.0 section 3.1.2.11.7
        break;
      case P.willDelayInterval:
        props.willDelayInterval = r.u32();
        break;
      case P.requestResponseInformation:
        props.requestResponseInformation = zeroOrOne(r.u8(), 'Request Response Information'); // 5.0 section 3.1.2.11.6
        break;
      case P.responseInformation:
        props.responseInformation = r.utf8();
        break;
      case P.serverReference:
        props.serverReference = r.utf8();
        break;
      case P.reasonString:
        props.reasonString = r.utf8();
        break;
      case P.receiveMaximum:
        props.receiveMaximum = r.u16();
        if (props.receiveMaximum === 0) throw protocolError('Receive Maximum must not be 0'); // 5.0 section 3.1.2.11.3
        break;
      case P.topicAliasMaximum:
        props.topicAliasMaximum = r.u16();
        break;
      case P.topicAlias:
        props.topicAlias = r.u16();
        if (props.topicAlias === 0) {
          throw new MqttError(ReasonCode.TopicAliasInvalid, 'Topic Alias must not be 0'); // [MQTT-3.3.2-8 v5], section 3.3.4
        }
        break;
      case P.maximumQoS:
        props.maximumQoS = zeroOrOne(r.u8(), 'Maximum QoS'); // 5.0 section 3.2.2.3.4
        break;
      case P.retainAvailable:
        props.retainAvailable = zeroOrOne(r.u8(), 'Retain Available'); // 5.0 section 3.2.2.3.5
        break;
      case P.userProperties: {
        const name = r.utf8(); // [MQTT-1.5.7-1 v5]
        const value = r.utf8(); // [MQTT-1.5.7-1 v5]
        (props.userProperties ??= []).push([name, value]);
        break;
      }
      case P.maximumPacketSize:
        props.maximumPacketSize = r.u32();
        if (props.maximumPacketSize === 0) throw protocolError('Maximum Packet Size must not be 0'); // 5.0 section 3.1.2.11.4
        break;
      case P.wildcardSubscriptionAvailable:
        props.wildcardSubscriptionAvailable = zeroOrOne(r.u8(), 'Wildcard Subscription Available'); // 5.0 section 3.2.2.3.11
        break;
      case P.subscriptionIdentifierAvailable:
        props.subscriptionIdentifierAvailable = zeroOrOne(r.u8(), 'Subscription Identifier Available'); // 5.0 section 3.2.2.3.12
        break;
      case P.sharedSubscriptionAvailable:
        props.sharedSubscriptionAvailable = zeroOrOne(r.u8(), 'Shared Subscription Available'); // 5.0 section 3.2.2.3.13
        break;
    }
  }
  r.end = packetEnd;
  return props;
}

/** Bytes of the property list for `rules`, without the Property Length prefix. Disallowed fields count 0. */
export function propertiesLength(props: Properties | undefined, rules: PropertyRules): number {
  if (props === undefined) return 0;
  const ids = rules.ids;
  let n = 0;
  for (let i = 0; i < ids.length; i++) n += propertySize(props, ids[i]!);
  return n;
}

/** Bytes of Property Length plus properties. */
export function propertiesFieldSize(length: number): number {
  return varintLength(length) + length;
}

/**
 * Writes Property Length (`length`, from propertiesLength) and the properties `rules` allow, in
 * identifier order. Properties the packet type cannot carry are left out rather than sent to a peer
 * that must reject them, as 3.1.1 encoding leaves out all properties.
 */
export function writeProperties(w: Writer, props: Properties | undefined, rules: PropertyRules, length: number): void {
  w.varint(length);
  if (props === undefined || length === 0) return;
  const ids = rules.ids;
  for (let i = 0; i < ids.length; i++) writeProperty(w, props, ids[i]!);
}

function propertySize(p: Properties, id: number): number {
  switch (id) {
    case P.payloadFormatIndicator:
      return p.payloadFormatIndicator === undefined ? 0 : 2;
    case P.messageExpiryInterval:
      return p.messageExpiryInterval === undefined ? 0 : 5;
    case P.contentType:
      return p.contentType === undefined ? 0 : 1 + utf8FieldSize(p.contentType);
    case P.responseTopic:
      return p.responseTopic === undefined ? 0 : 1 + utf8FieldSize(p.responseTopic);
    case P.correlationData:
      return p.correlationData === undefined ? 0 : 1 + binaryFieldSize(p.correlationData);
    case P.subscriptionIdentifiers: {
      const ids = p.subscriptionIdentifiers;
      if (ids === undefined) return 0;
      let n = 0;
      for (let i = 0; i < ids.length; i++) n += 1 + varintLength(ids[i]!);
      return n;
    }
    case P.sessionExpiryInterval:
      return p.sessionExpiryInterval === undefined ? 0 : 5;
    case P.assignedClientIdentifier:
      return p.assignedClientIdentifier === undefined ? 0 : 1 + utf8FieldSize(p.assignedClientIdentifier);
    case P.serverKeepAlive:
      return p.serverKeepAlive === undefined ? 0 : 3;
    case P.authenticationMethod:
      return p.authenticationMethod === undefined ? 0 : 1 + utf8FieldSize(p.authenticationMethod);
    case P.authenticationData:
      return p.authenticationData === undefined ? 0 : 1 + binaryFieldSize(p.authenticationData);
    case P.requestProblemInformation:
      return p.requestProblemInformation === undefined ? 0 : 2;
    case P.willDelayInterval:
      return p.willDelayInterval === undefined ? 0 : 5;
    case P.requestResponseInformation:
      return p.requestResponseInformation === undefined ? 0 : 2;
    case P.responseInformation:
      return p.responseInformation === undefined ? 0 : 1 + utf8FieldSize(p.responseInformation);
    case P.serverReference:
      return p.serverReference === undefined ? 0 : 1 + utf8FieldSize(p.serverReference);
    case P.reasonString:
      return p.reasonString === undefined ? 0 : 1 + utf8FieldSize(p.reasonString);
    case P.receiveMaximum:
      return p.receiveMaximum === undefined ? 0 : 3;
    case P.topicAliasMaximum:
      return p.topicAliasMaximum === undefined ? 0 : 3;
    case P.topicAlias:
      return p.topicAlias === undefined ? 0 : 3;
    case P.maximumQoS:
      return p.maximumQoS === undefined ? 0 : 2;
    case P.retainAvailable:
      return p.retainAvailable === undefined ? 0 : 2;
    case P.userProperties: {
      const pairs = p.userProperties;
      if (pairs === undefined) return 0;
      let n = 0;
      for (let i = 0; i < pairs.length; i++) {
        const pair = pairs[i]!;
        n += 1 + utf8FieldSize(pair[0]) + utf8FieldSize(pair[1]);
      }
      return n;
    }
    case P.maximumPacketSize:
      return p.maximumPacketSize === undefined ? 0 : 5;
    case P.wildcardSubscriptionAvailable:
      return p.wildcardSubscriptionAvailable === undefined ? 0 : 2;
    case P.subscriptionIdentifierAvailable:
      return p.subscriptionIdentifierAvailable === undefined ? 0 : 2;
    case P.sharedSubscriptionAvailable:
      return p.sharedSubscriptionAvailable === undefined ? 0 : 2;
    default:
      return 0;
  }
}

function writeProperty(w: Writer, p: Properties, id: number): void {
  switch (id) {
    case P.payloadFormatIndicator:
      if (p.payloadFormatIndicator !== undefined) byteProperty(w, id, p.payloadFormatIndicator);
      return;
    case P.messageExpiryInterval:
      if (p.messageExpiryInterval !== undefined) u32Property(w, id, p.messageExpiryInterval);
      return;
    case P.contentType:
      if (p.contentType !== undefined) stringProperty(w, id, p.contentType);
      return;
    case P.responseTopic:
      if (p.responseTopic !== undefined) stringProperty(w, id, p.responseTopic);
      return;
    case P.correlationData:
      if (p.correlationData !== undefined) binaryProperty(w, id, p.correlationData);
      return;
    case P.subscriptionIdentifiers: {
      const ids = p.subscriptionIdentifiers;
      if (ids === undefined) return;
      for (let i = 0; i < ids.length; i++) {
        w.u8(id);
        w.varint(ids[i]!);
      }
      return;
    }
    case P.sessionExpiryInterval:
      if (p.sessionExpiryInterval !== undefined) u32Property(w, id, p.sessionExpiryInterval);
      return;
    case P.assignedClientIdentifier:
      if (p.assignedClientIdentifier !== undefined) stringProperty(w, id, p.assignedClientIdentifier);
      return;
    case P.serverKeepAlive:
      if (p.serverKeepAlive !== undefined) u16Property(w, id, p.serverKeepAlive);
      return;
    case P.authenticationMethod:
      if (p.authenticationMethod !== undefined) stringProperty(w, id, p.authenticationMethod);
      return;
    case P.authenticationData:
      if (p.authenticationData !== undefined) binaryProperty(w, id, p.authenticationData);
      return;
    case P.requestProblemInformation:
      if (p.requestProblemInformation !== undefined) byteProperty(w, id, p.requestProblemInformation);
      return;
    case P.willDelayInterval:
      if (p.willDelayInterval !== undefined) u32Property(w, id, p.willDelayInterval);
      return;
    case P.requestResponseInformation:
      if (p.requestResponseInformation !== undefined) byteProperty(w, id, p.requestResponseInformation);
      return;
    case P.responseInformation:
      if (p.responseInformation !== undefined) stringProperty(w, id, p.responseInformation);
      return;
    case P.serverReference:
      if (p.serverReference !== undefined) stringProperty(w, id, p.serverReference);
      return;
    case P.reasonString:
      if (p.reasonString !== undefined) stringProperty(w, id, p.reasonString);
      return;
    case P.receiveMaximum:
      if (p.receiveMaximum !== undefined) u16Property(w, id, p.receiveMaximum);
      return;
    case P.topicAliasMaximum:
      if (p.topicAliasMaximum !== undefined) u16Property(w, id, p.topicAliasMaximum);
      return;
    case P.topicAlias:
      if (p.topicAlias !== undefined) u16Property(w, id, p.topicAlias);
      return;
    case P.maximumQoS:
      if (p.maximumQoS !== undefined) byteProperty(w, id, p.maximumQoS);
      return;
    case P.retainAvailable:
      if (p.retainAvailable !== undefined) byteProperty(w, id, p.retainAvailable);
      return;
    case P.userProperties: {
      const pairs = p.userProperties;
      if (pairs === undefined) return;
      for (let i = 0; i < pairs.length; i++) {
        const pair = pairs[i]!;
        w.u8(id);
        w.utf8(pair[0]);
        w.utf8(pair[1]);
      }
      return;
    }
    case P.maximumPacketSize:
      if (p.maximumPacketSize !== undefined) u32Property(w, id, p.maximumPacketSize);
      return;
    case P.wildcardSubscriptionAvailable:
      if (p.wildcardSubscriptionAvailable !== undefined) byteProperty(w, id, p.wildcardSubscriptionAvailable);
      return;
    case P.subscriptionIdentifierAvailable:
      if (p.subscriptionIdentifierAvailable !== undefined) byteProperty(w, id, p.subscriptionIdentifierAvailable);
      return;
    case P.sharedSubscriptionAvailable:
      if (p.sharedSubscriptionAvailable !== undefined) byteProperty(w, id, p.sharedSubscriptionAvailable);
      return;
  }
}

function byteProperty(w: Writer, id: number, value: number): void {
  w.u8(id);
  w.u8(value);
}

function u16Property(w: Writer, id: number, value: number): void {
  w.u8(id);
  w.u16(value);
}

function u32Property(w: Writer, id: number, value: number): void {
  w.u8(id);
  w.u32(value);
}

function stringProperty(w: Writer, id: number, value: string): void {
  w.u8(id);
  w.utf8(value);
}

function binaryProperty(w: Writer, id: number, value: Uint8Array): void {
  w.u8(id);
  w.binary(value);
}

function zeroOrOne(value: number, name: string): 0 | 1 {
  if (value !== 0 && value !== 1) throw protocolError(`${name} must be 0 or 1, got ${value}`);
  return value as 0 | 1;
}
