// Variable Byte Integer (3.1.1 section 2.2.3, 5.0 section 1.5.5): 7 bits a byte, high bit = more bytes follow.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';

/** The largest value four bytes can carry (0xFF 0xFF 0xFF 0x7F). */
export const MAX_VARINT = 268_435_455;

/** Number of bytes the minimal encoding of `value` takes (1..4). */
export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/**
 * Decodes the integer starting at bytes[offset], reading no further than `end`. Returns -1 when `end` comes
 * before the last byte (a framer then waits for more data). The encoding takes varintLength(value) bytes:
 * anything longer is rejected, so callers can advance by that.
 */
export function decodeVarint(bytes: Uint8Array, offset: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= end) return -1;
    const b = bytes[offset + i]!;
    value += (b & 0x7f) * multiplier;
    if (b < 0x80) {
      // A last byte of 0 after others means the same value fits in fewer bytes.
      if (b === 0 && i > 0) throw malformed('variable byte integer is not minimally encoded'); // [MQTT-1.5.5-1 v5]
      return value;
    }
    multiplier *= 0x80;
  }
  throw malformed('variable byte integer longer than four bytes'); // 3.1.1 section 2.2.3, 5.0 section 1.5.5
}

/** Writes the minimal encoding of `value` (0..MAX_VARINT) at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  do {
    let b = value & 0x7f;
    value >>>= 7;
    if (value > 0) b |= 0x80;
    out[pos++] = b;
  } while (value > 0);
  return pos;
}

function malformed(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}
