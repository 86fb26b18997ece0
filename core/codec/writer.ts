// Encode side: each encoder measures its packet first, then writes it into one exactly sized buffer.
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

/** Unchecked cursor over a buffer the encoder sized exactly; measuring is where limits are enforced. */
export class Writer {
  readonly bytes: Uint8Array;
  pos = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  /** Allocates a whole packet and writes its fixed header. */
  static packet(firstByte: number, remainingLength: number): Writer {
    if (remainingLength > MAX_VARINT) {
      throw new MqttError(ReasonCode.PacketTooLarge, `cannot encode: remaining length ${remainingLength} exceeds ${MAX_VARINT}`);
    }
    const w = new Writer(1 + varintLength(remainingLength) + remainingLength);
    w.bytes[0] = firstByte;
    w.pos = writeVarint(w.bytes, 1, remainingLength);
    return w;
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
