// The web client's MQTT codec, 3.1.1 (level 4) and 5.0 (level 5): encoders for what a client sends, one
// decoder for what a server sends, and a framer that cuts whole packets off the WebSocket byte stream.
//
//   encode.publish({ topic: 't', payload, qos: 2, retain: false, dup: false, packetId: 7,
//                    properties: { userProperties: [['k', 'v']] } }, 5)
//   decodePacket(framer.push(bytes)[0], 5)   → { type: PUBACK, packetId: 7, reasonCode: 0x87, properties }
//
// 5.0 properties are read by one table (section 2.2.2.2); unknown identifiers are malformed.

/** Packet types, the high nibble of the first byte. */
export const CONNECT = 1, CONNACK = 2, PUBLISH = 3, PUBACK = 4, PUBREC = 5, PUBREL = 6, PUBCOMP = 7;
export const SUBSCRIBE = 8, SUBACK = 9, UNSUBSCRIBE = 10, UNSUBACK = 11, PINGREQ = 12, PINGRESP = 13, DISCONNECT = 14, AUTH = 15;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** 5.0 properties by identifier (table 2-4): the field name and the data type. */
const PROPERTIES = {
  0x01: ['payloadFormatIndicator', 'byte'],
  0x02: ['messageExpiryInterval', 'u32'],
  0x03: ['contentType', 'string'],
  0x08: ['responseTopic', 'string'],
  0x09: ['correlationData', 'binary'],
  0x0b: ['subscriptionIdentifiers', 'varint'],
  0x11: ['sessionExpiryInterval', 'u32'],
  0x12: ['assignedClientIdentifier', 'string'],
  0x13: ['serverKeepAlive', 'u16'],
  0x15: ['authenticationMethod', 'string'],
  0x16: ['authenticationData', 'binary'],
  0x17: ['requestProblemInformation', 'byte'],
  0x18: ['willDelayInterval', 'u32'],
  0x19: ['requestResponseInformation', 'byte'],
  0x1a: ['responseInformation', 'string'],
  0x1c: ['serverReference', 'string'],
  0x1f: ['reasonString', 'string'],
  0x21: ['receiveMaximum', 'u16'],
  0x22: ['topicAliasMaximum', 'u16'],
  0x23: ['topicAlias', 'u16'],
  0x24: ['maximumQoS', 'byte'],
  0x25: ['retainAvailable', 'byte'],
  0x26: ['userProperties', 'pair'],
  0x27: ['maximumPacketSize', 'u32'],
  0x28: ['wildcardSubscriptionAvailable', 'byte'],
  0x29: ['subscriptionIdentifierAvailable', 'byte'],
  0x2a: ['sharedSubscriptionAvailable', 'byte'],
};
/** Properties that may appear more than once, collected into arrays. */
const REPEATED = new Set(['userProperties', 'subscriptionIdentifiers']);
const ID_OF = Object.fromEntries(Object.entries(PROPERTIES).map(([id, [name]]) => [name, Number(id)]));

// ---- encoding -----------------------------------------------------------------------------------------

/** A variable byte integer (1–4 bytes): Remaining Length, property lengths, subscription identifiers. */
export function encodeLength(length) {
  if (length > 268_435_455) throw new RangeError('packet too large');
  const bytes = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function u16(value) {
  return [value >> 8, value & 0xff];
}

function u32(value) {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** Binary data: a two-byte length, then the bytes. */
function binary(bytes) {
  if (bytes.length > 0xffff) throw new RangeError('field longer than 65535 bytes');
  return [...u16(bytes.length), ...bytes];
}

function utf8(text) {
  return binary(encoder.encode(text));
}

/** The property block of a 5.0 packet: its length, then each property. Undefined fields are left out. */
export function encodeProperties(properties = {}) {
  const body = [];
  for (const [name, value] of Object.entries(properties)) {
    if (value === undefined) continue;
    const id = ID_OF[name];
    if (id === undefined) throw new Error(`unknown property ${name}`);
    const type = PROPERTIES[id][1];
    for (const one of REPEATED.has(name) ? value : [value]) body.push(id, ...encodeValue(type, one));
  }
  return [...encodeLength(body.length), ...body];
}

function encodeValue(type, value) {
  switch (type) {
    case 'byte':
      return [value];
    case 'u16':
      return u16(value);
    case 'u32':
      return u32(value);
    case 'varint':
      return encodeLength(value);
    case 'string':
      return utf8(value);
    case 'binary':
      return binary(value);
    case 'pair':
      return [...utf8(value[0]), ...utf8(value[1])];
    default:
      throw new Error(`unknown property type ${type}`);
  }
}

function packet(firstByte, body) {
  const length = encodeLength(body.length);
  const bytes = new Uint8Array(1 + length.length + body.length);
  bytes[0] = firstByte;
  bytes.set(length, 1);
  bytes.set(body, 1 + length.length);
  return bytes;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function textOrBytes(payload) {
  return typeof payload === 'string' ? encoder.encode(payload) : payload;
}

/** Encoders for the packets a client sends; `version` is the protocol level, 4 (3.1.1) or 5. */
export const encode = {
  /**
   * @param {{ protocolVersion?: 4 | 5, clientId: string, username?: string, password?: string, keepalive: number,
   *           clean: boolean, will?: { topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2, retain: boolean },
   *           properties?: object }} options
   */
  connect({ protocolVersion = 5, clientId, username, password, keepalive, clean, will, properties }) {
    const v5 = protocolVersion === 5;
    let flags = clean ? 0x02 : 0;
    const payload = [...utf8(clientId)];
    if (will) {
      // Will Flag, Will QoS, Will Retain; the will topic and payload follow the client id [MQTT-3.1.2-9]
      flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
      if (v5) payload.push(...encodeProperties({})); // Will Properties (5.0 section 3.1.3.2)
      payload.push(...utf8(will.topic), ...binary(textOrBytes(will.payload)));
    }
    // 3.1.1 sends no password without a user name [MQTT-3.1.2-22]; the dashboard never needs one alone.
    if (username !== undefined && username !== '') {
      flags |= 0x80;
      payload.push(...utf8(username));
      if (password !== undefined && password !== '') {
        flags |= 0x40;
        payload.push(...binary(encoder.encode(password)));
      }
    }
    // Protocol name "MQTT" and the level: 4 = 3.1.1 [MQTT-3.1.2-1, MQTT-3.1.2-2], 5 = 5.0 [MQTT-3.1.2-2 v5]
    const head = [...utf8('MQTT'), v5 ? 5 : 4, flags, ...u16(keepalive), ...(v5 ? encodeProperties(properties) : [])];
    return packet(CONNECT << 4, [...head, ...payload]);
  },

  /** @param {{ topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, dup: boolean, packetId?: number, properties?: object }} p */
  publish({ topic, payload, qos, retain, dup, packetId, properties }, version = 5) {
    const head = [...utf8(topic), ...(qos > 0 ? u16(packetId) : []), ...(version === 5 ? encodeProperties(properties) : [])];
    const first = (PUBLISH << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
    return packet(first, concat([Uint8Array.from(head), payload]));
  },

  /** @param {Array<{ filter: string, qos: 0 | 1 | 2 }>} filters */
  subscribe(packetId, filters, version = 5) {
    // SUBSCRIBE's fixed header flags are 0010 [MQTT-3.8.1-1]; 5.0 options byte: QoS in bits 0–1, the rest 0
    // (No Local off, Retain As Published off, Retain Handling 0: retained messages are sent on subscribe).
    const head = [...u16(packetId), ...(version === 5 ? encodeProperties() : [])];
    return packet((SUBSCRIBE << 4) | 0x02, [...head, ...filters.flatMap(({ filter, qos }) => [...utf8(filter), qos])]);
  },

  unsubscribe(packetId, filters, version = 5) {
    const head = [...u16(packetId), ...(version === 5 ? encodeProperties() : [])];
    return packet((UNSUBSCRIBE << 4) | 0x02, [...head, ...filters.flatMap((f) => utf8(f))]);
  },

  /** PUBACK, PUBREC, PUBREL or PUBCOMP; 5.0 leaves a Success code out (Remaining Length 2, section 3.4.2.1). */
  ack(type, packetId, version = 5, reasonCode = 0) {
    // PUBREL carries flags 0010 [MQTT-3.6.1-1]
    const body = version === 5 && reasonCode !== 0 ? [...u16(packetId), reasonCode] : u16(packetId);
    return packet((type << 4) | (type === PUBREL ? 0x02 : 0), body);
  },

  pingreq: () => Uint8Array.of(PINGREQ << 4, 0),

  /** A normal disconnection: the will is discarded ([MQTT-3.14.4-3], 5.0 reason 0x00 sent as length 0). */
  disconnect: () => Uint8Array.of(DISCONNECT << 4, 0),
};

// ---- decoding -----------------------------------------------------------------------------------------

/**
 * Cuts whole packets off a growing byte buffer ([MQTT-6.0.0-2]: a WebSocket message may hold several
 * packets or part of one). push(chunk) returns the packets completed by it, each as { first, body }: the
 * fixed header's first byte and the bytes after the Remaining Length.
 */
export class Framer {
  #buffer = new Uint8Array(0);

  push(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : concat([this.#buffer, chunk]);
    const packets = [];
    for (;;) {
      const header = this.#header();
      if (!header) break;
      const end = header.bodyStart + header.length;
      if (this.#buffer.length < end) break;
      packets.push({ first: this.#buffer[0], body: this.#buffer.slice(header.bodyStart, end) });
      this.#buffer = this.#buffer.slice(end);
    }
    return packets;
  }

  #header() {
    let length = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      if (i >= this.#buffer.length) return undefined;
      const byte = this.#buffer[i];
      length += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return { length, bodyStart: i + 1 };
      multiplier *= 128;
    }
    throw new Error('malformed remaining length');
  }
}

/** Reads the fields of one packet body front to back; running past its end is a malformed packet. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  get remaining() {
    return this.bytes.length - this.pos;
  }

  #need(n) {
    if (this.pos + n > this.bytes.length) throw new Error('packet too short');
  }

  u8() {
    this.#need(1);
    return this.bytes[this.pos++];
  }

  u16() {
    this.#need(2);
    const value = (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1];
    this.pos += 2;
    return value;
  }

  u32() {
    return this.u16() * 0x10000 + this.u16();
  }

  varint() {
    let value = 0;
    for (let i = 0, multiplier = 1; i < 4; i++, multiplier *= 128) {
      const byte = this.u8();
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error('malformed variable byte integer');
  }

  binary() {
    const length = this.u16();
    this.#need(length);
    const bytes = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  string() {
    return decoder.decode(this.binary());
  }

  rest() {
    const bytes = this.bytes.slice(this.pos);
    this.pos = this.bytes.length;
    return bytes;
  }

  /** A 5.0 property block into { name: value }; user properties as [name, value] pairs in order. */
  properties() {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.bytes.length) throw new Error('properties run past the packet');
    const properties = {};
    while (this.pos < end) {
      const id = this.varint();
      const entry = PROPERTIES[id];
      if (!entry) throw new Error(`unknown property 0x${id.toString(16)}`);
      const [name, type] = entry;
      const value = type === 'pair' ? [this.string(), this.string()] : type === 'byte' ? this.u8() : this[type]();
      if (REPEATED.has(name)) (properties[name] ??= []).push(value);
      else properties[name] = value;
    }
    if (this.pos !== end) throw new Error('a property runs past its block');
    return properties;
  }
}

/**
 * Decodes a packet the server sends on a connection of `version` (4 or 5) into { type, ... }. Reason codes
 * a 5.0 packet may leave out (acks, DISCONNECT) come back as 0x00; `properties` is {} when there are none.
 */
export function decodePacket({ first, body }, version = 5) {
  const type = first >> 4;
  const v5 = version === 5;
  const r = new Reader(body);
  switch (type) {
    case CONNACK: {
      const sessionPresent = (r.u8() & 1) === 1;
      const reasonCode = r.u8();
      return { type, sessionPresent, reasonCode, properties: v5 && r.remaining > 0 ? r.properties() : {} };
    }
    case PUBLISH: {
      const qos = (first >> 1) & 3;
      if (qos === 3) throw new Error('PUBLISH with QoS 3'); // [MQTT-3.3.1-4]
      const topic = r.string();
      const packetId = qos > 0 ? r.u16() : undefined;
      const properties = v5 ? r.properties() : {};
      return { type, topic, qos, retain: (first & 1) === 1, dup: (first & 8) === 8, packetId, properties, payload: r.rest() };
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP: {
      const packetId = r.u16();
      // 5.0: Remaining Length 2 means Success, 3 a reason code without properties (section 3.4.2.1).
      const reasonCode = v5 && r.remaining > 0 ? r.u8() : 0;
      return { type, packetId, reasonCode, properties: v5 && r.remaining > 0 ? r.properties() : {} };
    }
    case SUBACK:
    case UNSUBACK: {
      const packetId = r.u16();
      const properties = v5 ? r.properties() : {};
      // One code per filter, in request order [MQTT-3.9.3-1 v5]; a 3.1.1 UNSUBACK has none.
      return { type, packetId, properties, reasonCodes: Array.from(r.rest()) };
    }
    case PINGRESP:
      return { type };
    case DISCONNECT: {
      // Only 5.0 servers send DISCONNECT; Remaining Length 0 means 0x00 (section 3.14.2.1).
      const reasonCode = r.remaining > 0 ? r.u8() : 0;
      return { type, reasonCode, properties: r.remaining > 0 ? r.properties() : {} };
    }
    default:
      throw new Error(`unexpected packet type ${type} from the server`);
  }
}
