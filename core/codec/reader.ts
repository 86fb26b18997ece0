// Decode side: a bounds-checked cursor over one packet, and the errors every packet decoder throws.
import { MqttError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import { decodeUtf8 } from './utf8.js';
import { decodeVarint, varintLength } from './varint.js';

export function malformed(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}

export function protocolError(message: string): MqttError {
  return new MqttError(ReasonCode.ProtocolError, message);
}

/** Fixed-header flags other than PUBLISH's are reserved and must hold the listed value. */
export function expectFlags(flags: number, expected: number, packet: string): void {
  if (flags !== expected) {
    throw malformed(`${packet}: reserved fixed header flags must be ${expected}, got ${flags}`); // [MQTT-2.2.2-1] [MQTT-2.1.3-1 v5]
  }
}

/** A 256-entry lookup table of the reason codes a 5.0 packet type may carry (section 2.4). */
export function reasonCodeSet(...codes: number[]): Uint8Array {
  const set = new Uint8Array(256);
  for (const code of codes) set[code] = 1;
  return set;
}

/** Throws ProtocolError when `code` is not in `set`: a value the protocol does not allow on that packet. */
export function expectReasonCode(set: Uint8Array, code: number, packet: string): void {
  if (set[code] !== 1) throw protocolError(`${packet}: reason code 0x${code.toString(16)} is not allowed`);
}

/**
 * Cursor over bytes[pos, end). Every read checks `end`, so a length field that points past the packet
 * surfaces as MalformedPacket, never as undefined bytes. Binary fields are copied out (see `binary`).
 */
export class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw truncated();
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw truncated();
    this.pos = p + 2;
    return (this.bytes[p]! << 8) | this.bytes[p + 1]!;
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw truncated();
    this.pos = p + 4;
    const b = this.bytes;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  varint(): number {
    const value = decodeVarint(this.bytes, this.pos, this.end);
    if (value < 0) throw truncated();
    this.pos += varintLength(value);
    return value;
  }

  /** A UTF-8 Encoded String: Two Byte Integer length, then strictly validated UTF-8. */
  utf8(): string {
    const length = this.u16();
    const p = this.pos;
    if (p + length > this.end) throw truncated();
    this.pos = p + length;
    return decodeUtf8(this.bytes, p, p + length);
  }

  /**
   * Binary Data: Two Byte Integer length, then bytes. Copied, not a view: a view would pin the whole
   * input buffer in memory and be cloned whole when a packet crosses a Durable Object boundary.
   */
  binary(): Uint8Array {
    const length = this.u16();
    const p = this.pos;
    if (p + length > this.end) throw truncated();
    this.pos = p + length;
    return copy(this.bytes, p, p + length);
  }

  /** Everything up to the end of the packet (a PUBLISH payload), copied for the reason given on `binary`. */
  rest(): Uint8Array {
    const p = this.pos;
    this.pos = this.end;
    return copy(this.bytes, p, this.end);
  }

  /** A Packet Identifier, which is never 0 where a packet carries one. */
  packetId(): number {
    const id = this.u16();
    if (id === 0) throw malformed('packet identifier must be non-zero'); // [MQTT-2.3.1-1] [MQTT-2.2.1-3 v5]
    return id;
  }
}

/** A plain Uint8Array copy; not `slice`, which on a Node Buffer returns a view. */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

function truncated(): MqttError {
  return malformed('packet is shorter than its fields say');
}
