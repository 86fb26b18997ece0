// Encode side: each encoder measures its packet, reserves room for all of it, then writes it.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import { MAX_STRING_BYTES, utf8Length, writeUtf8 } from './utf8.js';
import { MAX_VARINT, varintLength, writeVarint } from './varint.js';

/** Thrown for a packet that has no valid encoding (a bug in the caller, not bad input from a peer). */
export function cannotEncode(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, `cannot encode: ${message}`);
}

/** Bytes a UTF-8 Encoded String field takes, length prefix included. */
export function utf8FieldSize(s: string): number {
  const n = utf8Length(s);
  if (n > MAX_STRING_BYTES) throw cannotEncode(`string of ${n} bytes exceeds ${MAX_STRING_BYTES}`);
  return 2 + n;
}

/** Bytes a Binary Data field takes, length prefix included. */
export function binaryFieldSize(data: Uint8Array): number {
  if (data.length > MAX_STRING_BYTES) throw cannotEncode(`binary data of ${data.length} bytes exceeds ${MAX_STRING_BYTES}`);
  return 2 + data.length;
}

/**
 * Cursor over a growable buffer. Encoders measure a packet first and call `header`, which makes room for
 * the whole packet at once; the writes after it are unchecked. Several packets can share one Writer.
 */
export class Writer {
  bytes: Uint8Array;
  pos = 0;

  constructor(capacity = 0) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Starts a packet: makes room for all of it and writes its fixed header. */
  header(firstByte: number, remainingLength: number): void {
    if (remainingLength > MAX_VARINT) {
      throw new MqttError(ReasonCode.PacketTooLarge, `cannot encode: remaining length ${remainingLength} exceeds ${MAX_VARINT}`);
    }
    this.reserve(1 + varintLength(remainingLength) + remainingLength);
    this.bytes[this.pos] = firstByte;
    this.pos = writeVarint(this.bytes, this.pos + 1, remainingLength);
  }

  /** The bytes written, in a buffer of exactly that size (copied only if the buffer has spare room). */
  finish(): Uint8Array {
    return this.pos === this.bytes.length ? this.bytes : this.bytes.slice(0, this.pos);
  }

  private reserve(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.bytes.length) return;
    // An empty Writer gets exactly one packet's size, so encoding a single packet never copies.
    const grown = new Uint8Array(this.bytes.length === 0 ? needed : Math.max(needed, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
  }

  u8(value: number): void {
    this.bytes[this.pos++] = value;
  }

  u16(value: number): void {
    const b = this.bytes;
    b[this.pos] = value >>> 8;
    b[this.pos + 1] = value;
    this.pos += 2;
  }

  u32(value: number): void {
    const b = this.bytes;
    b[this.pos] = value >>> 24;
    b[this.pos + 1] = value >>> 16;
    b[this.pos + 2] = value >>> 8;
    b[this.pos + 3] = value;
    this.pos += 4;
  }

  varint(value: number): void {
    this.pos = writeVarint(this.bytes, this.pos, value);
  }

  /** A UTF-8 Encoded String; the length prefix is filled in after the characters, saving a second measure. */
  utf8(s: string): void {
    const start = this.pos + 2;
    const end = writeUtf8(s, this.bytes, start);
    const length = end - start;
    this.bytes[start - 2] = length >>> 8;
    this.bytes[start - 1] = length;
    this.pos = end;
  }

  binary(data: Uint8Array): void {
    this.u16(data.length);
    this.raw(data);
  }

  raw(data: Uint8Array): void {
    this.bytes.set(data, this.pos);
    this.pos += data.length;
  }
}
