// Variable Byte Integer boundaries (3.1.1 table 2.4, 5.0 table 1-1), directly and as a PUBLISH Remaining Length.
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, type PublishPacket } from '../../../core/codec/index.js';
import { MAX_VARINT, decodeVarint, varintLength, writeVarint } from '../../../core/codec/varint.js';
import { MqttError } from '../../../core/errors.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { VARINT_BOUNDARIES, thrown } from './fixtures.js';

const boundaries = VARINT_BOUNDARIES;

describe('variable byte integer', () => {
  for (const [value, bytes] of boundaries) {
    it(`(3.1.1 §2.2.3) ${value} encodes as ${bytes.length} byte(s)`, () => {
      const out = new Uint8Array(4);
      expect(writeVarint(out, 0, value)).toBe(bytes.length);
      expect(Array.from(out.subarray(0, bytes.length))).toStrictEqual(bytes);
      expect(varintLength(value)).toBe(bytes.length);
    });

    it(`(3.1.1 §2.2.3) ${bytes.length} byte(s) decode to ${value}`, () => {
      expect(decodeVarint(Uint8Array.from(bytes), 0, bytes.length)).toBe(value);
    });

    it(`(3.1.1 §2.2.3) ${value} is incomplete without its last byte`, () => {
      expect(decodeVarint(Uint8Array.from(bytes), 0, bytes.length - 1)).toBe(-1);
    });
  }

  it('(3.1.1 §2.2.3) the largest value is 268,435,455', () => {
    expect(MAX_VARINT).toBe(268_435_455);
  });

  it('(5.0 §1.5.5) a fifth byte is malformed', () => {
    const error = thrown(() => decodeVarint(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 5));
    expect(error).toBeInstanceOf(MqttError);
    expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
  });

  it('(5.0 §1.5.5) four continuation bytes are malformed even before the fifth arrives', () => {
    const error = thrown(() => decodeVarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff]), 0, 4));
    expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
  });

  it('[MQTT-1.5.5-1 v5] a non-minimal encoding is malformed', () => {
    for (const bytes of [[0x80, 0x00], [0xff, 0x80, 0x00], [0x80, 0x80, 0x80, 0x00]]) {
      const error = thrown(() => decodeVarint(Uint8Array.from(bytes), 0, bytes.length));
      expect((error as MqttError).reasonCode).toBe(ReasonCode.MalformedPacket);
    }
  });

  it('(3.1.1 §2.2.3) decodes at an offset', () => {
    expect(decodeVarint(Uint8Array.from([0xaa, 0x80, 0x01]), 1, 3)).toBe(128);
  });
});

describe('Remaining Length of a whole packet', () => {
  // A QoS 0 PUBLISH to "t" with an n-byte payload has Remaining Length 3 + n in 3.1.1.
  const publishWithRemainingLength = (remainingLength: number): PublishPacket => ({
    type: 'publish',
    topic: 't',
    payload: new Uint8Array(remainingLength - 3).fill(7),
    qos: 0,
    retain: false,
    dup: false,
  });

  for (const [value, bytes] of boundaries.filter(([v]) => v >= 3 && v <= 2_097_152)) {
    it(`(3.1.1 §2.2.3) a PUBLISH with Remaining Length ${value} encodes and decodes`, () => {
      const packet = publishWithRemainingLength(value);
      const encoded = encodePacket(packet, 4);
      expect(Array.from(encoded.subarray(1, 1 + bytes.length))).toStrictEqual(bytes);
      expect(encoded.length).toBe(1 + bytes.length + value);
      const decoded = decodePacket(encoded, 4) as PublishPacket;
      // Compared by hand: a deep equality over megabytes of payload takes seconds.
      expect({ ...decoded, payload: undefined }).toStrictEqual({ ...packet, payload: undefined });
      expect(decoded.payload.length).toBe(packet.payload.length);
      expect(decoded.payload.every((b) => b === 7)).toBe(true);
    });
  }

  it('(3.1.1 §2.2.3) a packet over 268,435,455 bytes of Remaining Length cannot be encoded', () => {
    // A stand-in payload: only its length is read before the encoder refuses.
    const payload = { length: MAX_VARINT - 2 } as Uint8Array;
    const error = thrown(() => encodePacket({ type: 'publish', topic: 't', payload, qos: 0, retain: false, dup: false }, 4));
    expect((error as MqttError).reasonCode).toBe(ReasonCode.PacketTooLarge);
  });
});
