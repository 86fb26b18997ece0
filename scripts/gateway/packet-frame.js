// @ts-check
// The MQTT fixed header, just enough of it to find where the first packet ends and to re-encode a length.

/**
 * A Variable Byte Integer read from `bytes` at `offset` [MQTT-1.5.5-1 v5] (3.1.1 §2.2.3, same encoding):
 * at most four bytes, seven bits each, least significant first.
 * @typedef {{ kind: 'value', value: number, size: number } | { kind: 'incomplete' } | { kind: 'malformed' }} VarintRead
 */

/** @type {{ kind: 'incomplete' }} */
const INCOMPLETE = { kind: 'incomplete' };
/** @type {{ kind: 'malformed' }} */
const MALFORMED = { kind: 'malformed' };

/**
 * @param {Uint8Array} bytes
 * @param {number} offset
 * @returns {VarintRead}
 */
export function readVarint(bytes, offset) {
  let value = 0;
  let multiplier = 1;
  for (let size = 1; size <= 4; size++) {
    const byte = bytes[offset + size - 1];
    if (byte === undefined) return INCOMPLETE;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { kind: 'value', value, size };
    multiplier *= 128;
  }
  return MALFORMED;
}

/**
 * @param {number} value 0 … 268,435,455
 * @returns {Uint8Array}
 */
export function encodeVarint(value) {
  const out = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0);
  return Uint8Array.from(out);
}

/**
 * How long the packet at the start of `bytes` is, fixed header included, once its remaining length is known.
 * @typedef {{ kind: 'length', length: number } | { kind: 'incomplete' } | { kind: 'malformed' }} FrameRead
 */

/**
 * @param {Uint8Array} bytes
 * @returns {FrameRead}
 */
export function packetLength(bytes) {
  if (bytes.length < 2) return INCOMPLETE;
  const remaining = readVarint(bytes, 1);
  if (remaining.kind === 'incomplete') return INCOMPLETE;
  if (remaining.kind === 'malformed') return MALFORMED;
  return { kind: 'length', length: 1 + remaining.size + remaining.value };
}
