// A minimal MQTT 3.1.1 encoder and stream parser for the load generator: only what the bench sends and reads,
// with Buffers and no per-packet objects on the hot path, so the generator stays cheap next to the brokers.

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;
export const PINGRESP = 13;

/** PINGREQ and DISCONNECT: fixed header only. */
export const PINGREQ_BYTES = Buffer.from([0xc0, 0x00]);
export const DISCONNECT_BYTES = Buffer.from([0xe0, 0x00]);

function varintLength(n) {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(buf, at, n) {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

/** A buffer with the fixed header written for `remaining` bytes; returns [buf, offset of the variable header]. */
function packet(firstByte, remaining) {
  const buf = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
  buf[0] = firstByte;
  return [buf, writeVarint(buf, 1, remaining)];
}

function writeString(buf, at, bytes) {
  buf.writeUInt16BE(bytes.length, at);
  bytes.copy(buf, at + 2);
  return at + 2 + bytes.length;
}

/**
 * CONNECT, MQTT 3.1.1, no will, no credentials (the local brokers accept anonymous clients); clean session
 * unless `clean` is false (a persistent session: the broker keeps its subscriptions and QoS 1 messages).
 */
export function encodeConnect(clientId, keepAlive, clean = true) {
  const id = Buffer.from(clientId, 'utf8');
  const [buf, at] = packet(0x10, 10 + 2 + id.length);
  let i = writeString(buf, at, Buffer.from('MQTT'));
  buf[i++] = 4; // protocol level 3.1.1
  buf[i++] = clean ? 0x02 : 0x00; // connect flags: clean session or not
  buf.writeUInt16BE(keepAlive, i);
  writeString(buf, i + 2, id);
  return buf;
}

/** SUBSCRIBE of one or more `{ topic, qos }`. */
export function encodeSubscribe(packetId, subscriptions) {
  const filters = subscriptions.map((s) => [Buffer.from(s.topic, 'utf8'), s.qos]);
  const remaining = 2 + filters.reduce((n, [t]) => n + 2 + t.length + 1, 0);
  const [buf, at] = packet(0x82, remaining);
  buf.writeUInt16BE(packetId, at);
  let i = at + 2;
  for (const [t, qos] of filters) {
    i = writeString(buf, i, t);
    buf[i++] = qos;
  }
  return buf;
}

/**
 * A reusable PUBLISH template for one topic and payload size: `encode(packetId)` fills in the packet id and
 * returns the packet with its payload area at `payloadOffset`, for the caller to write into.
 */
export function publishTemplate(topic, qos, payloadSize) {
  const t = Buffer.from(topic, 'utf8');
  const remaining = 2 + t.length + (qos > 0 ? 2 : 0) + payloadSize;
  const [proto, at] = packet(0x30 | (qos << 1), remaining);
  const idAt = writeString(proto, at, t);
  const payloadOffset = idAt + (qos > 0 ? 2 : 0);
  return {
    payloadOffset,
    /** A fresh copy: ws may still hold the previous buffer when the next one is written. */
    encode(packetId) {
      const buf = Buffer.allocUnsafe(proto.length);
      proto.copy(buf, 0, 0, payloadOffset);
      if (qos > 0) buf.writeUInt16BE(packetId, idAt);
      return buf;
    },
  };
}

export function encodePuback(packetId) {
  return Buffer.from([0x40, 0x02, packetId >> 8, packetId & 0xff]);
}

/**
 * Splits a byte stream into packets and calls `onPacket(type, flags, buf, start, end)` for each, where
 * buf[start..end) is the variable header and payload. Handles several packets per WebSocket message and
 * packets spanning messages.
 */
export class StreamParser {
  constructor(onPacket) {
    this.onPacket = onPacket;
    this.pending = null;
  }

  push(chunk) {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (n - i < 2) break;
      let remaining = 0;
      let multiplier = 1;
      let j = i + 1;
      let complete = false;
      while (j < n && j < i + 5) {
        const byte = buf[j++];
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      if (j + remaining > n) break;
      const first = buf[i];
      this.onPacket(first >> 4, first & 0x0f, buf, j, j + remaining);
      i = j + remaining;
    }
    if (i < n) this.pending = Buffer.from(buf.subarray(i));
  }
}

/** The parts of a PUBLISH read from a StreamParser callback: topic, packet id, payload offset. */
export function readPublish(flags, buf, start, end) {
  const topicLength = buf.readUInt16BE(start);
  const topicEnd = start + 2 + topicLength;
  const qos = (flags >> 1) & 3;
  const packetId = qos > 0 ? buf.readUInt16BE(topicEnd) : 0;
  const payloadStart = topicEnd + (qos > 0 ? 2 : 0);
  return { qos, packetId, topicStart: start + 2, topicEnd, payloadStart, payloadEnd: end };
}
