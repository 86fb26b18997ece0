// UTF-8 by hand: core has no TextEncoder/TextDecoder, and MQTT needs a stricter decoder than they offer anyway.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';

/** The longest MQTT string: its length prefix is a Two Byte Integer (section 1.5.4). */
export const MAX_STRING_BYTES = 0xffff;

/**
 * Decoded UTF-16 units, reused across calls. A string of n bytes never decodes to more than n units,
 * so one buffer of MAX_STRING_BYTES units fits any MQTT string; core is single-threaded, so sharing is safe.
 */
const scratch = new Uint16Array(MAX_STRING_BYTES);

/** Units per String.fromCharCode.apply call, well under every engine's argument limit. */
const APPLY_CHUNK = 8192;

/** Number of bytes `s` takes as UTF-8; a lone surrogate counts as U+FFFD (3 bytes), as writeUtf8 writes it. */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 units, 4 bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * Writes `s` as UTF-8 into `out` from `pos` and returns the position after it. The caller sized `out`
 * with utf8Length. A lone surrogate cannot be encoded [MQTT-1.5.4-1 v5] and is written as U+FFFD,
 * as TextEncoder does, so an encoder never produces bytes its peer must reject.
 */
export function writeUtf8(s: string, out: Uint8Array, pos: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[pos++] = c;
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 0x3f);
    } else if ((c & 0xf800) !== 0xd800) {
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xdc00 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      out[pos++] = 0xf0 | (c >> 18);
      out[pos++] = 0x80 | ((c >> 12) & 0x3f);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    } else {
      out[pos++] = 0xef; // U+FFFD REPLACEMENT CHARACTER
      out[pos++] = 0xbf;
      out[pos++] = 0xbd;
    }
  }
  return pos;
}

/**
 * Decodes bytes[start, end) as a strict MQTT UTF-8 string: well-formed per Unicode table 3-7 (no overlong
 * forms, no surrogates, nothing above U+10FFFF) and no U+0000. Throws MqttError(MalformedPacket) otherwise.
 * U+FEFF is kept as a character, never stripped [MQTT-1.5.3-3] [MQTT-1.5.4-3 v5].
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  // Fast path: topics, client ids and property names are nearly always ASCII.
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b === 0 || b >= 0x80) break;
    i++;
  }
  if (i === end) return fromCharCodes(bytes, start, end);

  const units = end - start <= MAX_STRING_BYTES ? scratch : new Uint16Array(end - start);
  let n = 0;
  for (let k = start; k < i; k++) units[n++] = bytes[k]!;
  while (i < end) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      if (b0 === 0) throw invalid('U+0000 is not allowed'); // [MQTT-1.5.3-2] [MQTT-1.5.4-2 v5]
      units[n++] = b0;
      i += 1;
    } else if (b0 < 0xc2) {
      // A stray continuation byte, or C0/C1 which only start overlong encodings.
      throw invalid('invalid lead byte'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
    } else if (b0 < 0xe0) {
      if (i + 1 >= end) throw invalid('truncated sequence'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80) throw invalid('invalid continuation byte'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      units[n++] = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 < 0xf0) {
      if (i + 2 >= end) throw invalid('truncated sequence'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      const b1 = bytes[i + 1]!;
      const b2 = bytes[i + 2]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) throw invalid('invalid continuation byte'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      if (b0 === 0xe0 && b1 < 0xa0) throw invalid('overlong encoding'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      if (b0 === 0xed && b1 >= 0xa0) throw invalid('surrogate code point'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      units[n++] = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      i += 3;
    } else if (b0 < 0xf5) {
      if (i + 3 >= end) throw invalid('truncated sequence'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      const b1 = bytes[i + 1]!;
      const b2 = bytes[i + 2]!;
      const b3 = bytes[i + 3]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) {
        throw invalid('invalid continuation byte'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      }
      if (b0 === 0xf0 && b1 < 0x90) throw invalid('overlong encoding'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      if (b0 === 0xf4 && b1 >= 0x90) throw invalid('code point above U+10FFFF'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
      const cp = (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) - 0x10000;
      units[n++] = 0xd800 | (cp >> 10);
      units[n++] = 0xdc00 | (cp & 0x3ff);
      i += 4;
    } else {
      throw invalid('invalid lead byte'); // [MQTT-1.5.3-1] [MQTT-1.5.4-1 v5]
    }
  }
  return fromCharCodes(units, 0, n);
}

function fromCharCodes(codes: Uint8Array | Uint16Array, start: number, end: number): string {
  if (end - start <= APPLY_CHUNK) {
    return String.fromCharCode.apply(null, codes.subarray(start, end) as unknown as number[]);
  }
  let s = '';
  for (let i = start; i < end; i += APPLY_CHUNK) {
    const stop = Math.min(i + APPLY_CHUNK, end);
    s += String.fromCharCode.apply(null, codes.subarray(i, stop) as unknown as number[]);
  }
  return s;
}

function invalid(detail: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, `invalid UTF-8 string: ${detail}`);
}

/** True when `bytes` is well-formed UTF-8 with no U+0000 (a Payload Format Indicator 1 payload) [MQTT-3.3.2-4 v5]. */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  try {
    decodeUtf8(bytes, 0, bytes.length);
    return true;
  } catch {
    return false;
  }
}
