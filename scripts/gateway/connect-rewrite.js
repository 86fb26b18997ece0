// @ts-check
// `--username TOKEN`: the device's CONNECT leaves with TOKEN as its username and without a password.
//
//   CONNECT  0x10 | remaining length | protocol name, level | flags | keep alive | (5.0) properties
//            | client id | (will) (5.0) will properties, will topic, will payload | username | password
//   becomes  the same bytes up to the will, the username flag set and the password flag cleared,
//            TOKEN as the username, no password, and the remaining length re-encoded.
//
// Everything but the flags byte and the credentials is copied as it came: the broker validates the rest.
import { encodeVarint, readVarint } from './packet-frame.js';

const CONNECT_HEADER = 0x10; // type 1, reserved flags 0000 [MQTT-2.2.2-2]
const USERNAME_FLAG = 0x80;
const PASSWORD_FLAG = 0x40;
const WILL_RETAIN_FLAG = 0x20;
const WILL_QOS_MASK = 0x18;
const WILL_FLAG = 0x04;
const RESERVED_FLAG = 0x01;

/**
 * The protocols whose CONNECT layout the rewriter knows: 3.1 ('MQIsdp', level 3), 3.1.1 and 5.0.
 * @param {string} name
 * @param {number} level
 * @returns {level is 3 | 4 | 5}
 */
function isKnownProtocol(name, level) {
  return (name === 'MQIsdp' && level === 3) || (name === 'MQTT' && (level === 4 || level === 5));
}

/** Thrown by the reader when a field runs past the packet or breaks a rule; caught in rewriteConnectUsername. */
class MalformedConnect extends Error {}

/** Sequential reads over a CONNECT's body, each one bounds-checked. */
class BodyReader {
  /** @param {Uint8Array} bytes @param {number} offset @param {number} end */
  constructor(bytes, offset, end) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
  }

  /** @param {number} count */
  skip(count) {
    if (this.offset + count > this.end) throw new MalformedConnect('field runs past the end of the packet');
    const start = this.offset;
    this.offset += count;
    return this.bytes.subarray(start, this.offset);
  }

  byte() {
    return /** @type {number} */ (this.skip(1)[0]);
  }

  /** A two-byte length and that many bytes: UTF-8 strings and binary data alike. */
  lengthPrefixed() {
    const length = this.skip(2);
    return this.skip(((length[0] ?? 0) << 8) | (length[1] ?? 0));
  }

  /** 5.0 properties: a Variable Byte Integer length and that many bytes, skipped whole. */
  properties() {
    const length = readVarint(this.bytes.subarray(0, this.end), this.offset);
    if (length.kind !== 'value') throw new MalformedConnect('malformed property length');
    this.offset += length.size;
    this.skip(length.value);
  }
}

/**
 * Rewrites one whole CONNECT packet (fixed header included, nothing after it) to carry `username` (UTF-8
 * bytes, at most 65,535) and no password. Anything that is not a well-formed CONNECT of level 3, 4 or 5 is
 * refused with a reason. Typed by its declaration in index.d.ts.
 * @type {typeof import('./index.js').rewriteConnectUsername}
 */
export const rewriteConnectUsername = (packet, username) => {
  try {
    return { ok: true, ...rewrite(packet, username) };
  } catch (error) {
    if (error instanceof MalformedConnect) return { ok: false, reason: error.message };
    throw error;
  }
};

/**
 * @param {Uint8Array} packet
 * @param {Uint8Array} username
 * @returns {{ packet: Uint8Array, level: 3 | 4 | 5 }}
 */
function rewrite(packet, username) {
  if (packet[0] !== CONNECT_HEADER) throw new MalformedConnect('first packet is not a CONNECT');
  const remaining = readVarint(packet, 1);
  if (remaining.kind !== 'value') throw new MalformedConnect('malformed remaining length');
  const bodyStart = 1 + remaining.size;
  if (bodyStart + remaining.value !== packet.length) throw new MalformedConnect('remaining length does not match the packet');
  const body = new BodyReader(packet, bodyStart, packet.length);

  const name = new TextDecoder().decode(body.lengthPrefixed());
  const level = body.byte();
  if (!isKnownProtocol(name, level)) throw new MalformedConnect('unknown protocol name or level');
  const flagsAt = body.offset;
  const flags = body.byte();
  if (flags & RESERVED_FLAG) throw new MalformedConnect('reserved connect flag set'); // [MQTT-3.1.2-3]
  const hasWill = (flags & WILL_FLAG) !== 0;
  if (!hasWill && flags & (WILL_QOS_MASK | WILL_RETAIN_FLAG)) throw new MalformedConnect('will QoS or retain without will'); // [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  if ((flags & WILL_QOS_MASK) === WILL_QOS_MASK) throw new MalformedConnect('will QoS 3'); // [MQTT-3.1.2-14]
  body.skip(2); // keep alive
  if (level === 5) body.properties();

  body.lengthPrefixed(); // client id
  if (hasWill) {
    if (level === 5) body.properties(); // will properties
    body.lengthPrefixed(); // will topic
    body.lengthPrefixed(); // will payload
  }
  const keptEnd = body.offset;
  if (flags & USERNAME_FLAG) body.lengthPrefixed();
  if (flags & PASSWORD_FLAG) body.lengthPrefixed();
  if (body.offset !== packet.length) throw new MalformedConnect('bytes after the last CONNECT field');

  const newFlags = (flags | USERNAME_FLAG) & ~PASSWORD_FLAG;
  const bodyLength = keptEnd - bodyStart + 2 + username.length;
  const length = encodeVarint(bodyLength);
  const out = new Uint8Array(1 + length.length + bodyLength);
  let at = 0;
  out[at++] = CONNECT_HEADER;
  out.set(length, at);
  at += length.length;
  out.set(packet.subarray(bodyStart, keptEnd), at);
  out[at + (flagsAt - bodyStart)] = newFlags;
  at += keptEnd - bodyStart;
  out[at++] = username.length >> 8;
  out[at++] = username.length & 0xff;
  out.set(username, at);
  return { packet: out, level };
}
