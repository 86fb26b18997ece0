// Fixture-driven codec tests (mqtt-packet test.js style): every valid fixture is decoded, encoded and
// round-tripped; every error fixture must throw MqttError with its reason code.
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, type Packet, type Properties } from '../../../core/codec/index.js';
import { PropertyId } from '../../../core/codec/properties.js';
import { MqttError } from '../../../core/errors.js';
import { errorFixtures, fixturesV4, fixturesV5, type Fixture } from './fixtures.js';

function decodeError(bytes: number[], version: Fixture['version']): unknown {
  try {
    decodePacket(Uint8Array.from(bytes), version);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('valid packets', () => {
  for (const f of [...fixturesV4, ...fixturesV5]) {
    it(`${f.name}: decodes`, () => {
      expect(decodePacket(Uint8Array.from(f.bytes), f.version)).toStrictEqual(f.packet);
    });

    it(`${f.name}: encodes`, () => {
      expect(Array.from(encodePacket(f.packet, f.version))).toStrictEqual(f.bytes);
    });

    it(`${f.name}: round-trips`, () => {
      const decoded = decodePacket(encodePacket(f.packet, f.version), f.version);
      expect(decoded).toStrictEqual(f.packet);
      expect(Array.from(encodePacket(decoded, f.version))).toStrictEqual(f.bytes);
    });
  }
});

describe('invalid packets', () => {
  for (const f of errorFixtures) {
    it(f.name, () => {
      const error = decodeError(f.bytes, f.version);
      expect(error).toBeInstanceOf(MqttError);
      expect((error as MqttError).reasonCode, (error as Error).message).toBe(f.reasonCode);
    });
  }
});

describe('fixture coverage', () => {
  const all = [...fixturesV4, ...fixturesV5];

  it('(3.1.1 §2.2.1) every 3.1.1 packet type has a fixture', () => {
    const types = new Set(fixturesV4.map((f) => f.packet.type));
    expect([...types].sort()).toStrictEqual(
      ['connack', 'connect', 'disconnect', 'pingreq', 'pingresp', 'puback', 'pubcomp', 'publish', 'pubrec', 'pubrel', 'suback', 'subscribe', 'unsuback', 'unsubscribe'],
    );
  });

  it('(5.0 §2.1.2) every 5.0 packet type has a fixture', () => {
    const types = new Set(fixturesV5.map((f) => f.packet.type));
    expect(types.size).toBe(15);
  });

  it('(5.0 §2.2.2.2) every 5.0 property appears in a fixture', () => {
    const seen = new Set<string>();
    const collect = (props: Properties | undefined): void => {
      for (const key of Object.keys(props ?? {})) seen.add(key);
    };
    for (const f of all) {
      const p: Packet = f.packet;
      if ('properties' in p) collect(p.properties);
      if (p.type === 'connect') collect(p.will?.properties);
    }
    expect([...seen].sort()).toStrictEqual(Object.keys(PropertyId).sort());
  });
});

describe('decodePacket', () => {
  it('[MQTT-3.1.2-2 v5] decodes a CONNECT by the version it names, whatever the connection version', () => {
    const v5 = fixturesV5[0]!;
    expect(decodePacket(Uint8Array.from(v5.bytes), 4)).toStrictEqual(v5.packet);
    const v4 = fixturesV4[0]!;
    expect(decodePacket(Uint8Array.from(v4.bytes), 5)).toStrictEqual(v4.packet);
  });

  it('[MQTT-3.2.2-15 v5] rejects a packet over limits.maximumPacketSize with PacketTooLarge', () => {
    const bytes = Uint8Array.from(fixturesV4[0]!.bytes); // 18 bytes
    expect(decodePacket(bytes, 4, { maximumPacketSize: 18 }).type).toBe('connect');
    const error = (() => {
      try {
        decodePacket(bytes, 4, { maximumPacketSize: 17 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MqttError);
    expect((error as MqttError).reasonCode).toBe(0x95);
  });

  it('(3.1.1 §3.3.3) copies the payload instead of aliasing the input buffer', () => {
    const bytes = Uint8Array.from([0x30, 5, 0, 1, 0x74, 1, 2]);
    const packet = decodePacket(bytes, 4);
    bytes[5] = 99;
    expect(packet.type === 'publish' && Array.from(packet.payload)).toStrictEqual([1, 2]);
  });

  it('(3.1.1 §3.3.3) copies the payload out of a Node Buffer too, whose slice() would alias it', () => {
    const bytes = Buffer.from([0x30, 5, 0, 1, 0x74, 1, 2]);
    const packet = decodePacket(bytes, 4);
    bytes[5] = 99;
    expect(packet.type === 'publish' && packet.payload).toStrictEqual(Uint8Array.of(1, 2));
  });

  it('(3.1.1 §2.2) decodes a packet that is a view into a larger buffer', () => {
    const buffer = Uint8Array.from([0xff, 0xff, 0x40, 2, 0, 7, 0xff]);
    expect(decodePacket(buffer.subarray(2, 6), 4)).toStrictEqual({ type: 'puback', packetId: 7 });
  });

  it('[MQTT-1.5.3-3] keeps a U+FEFF byte order mark inside a topic', () => {
    const packet = decodePacket(Uint8Array.from([0x30, 6, 0, 4, 0xef, 0xbb, 0xbf, 0x61]), 4);
    expect(packet.type === 'publish' && packet.topic).toBe('\ufeffa');
  });
});
