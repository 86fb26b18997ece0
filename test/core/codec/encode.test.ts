// Encoder behaviour the fixtures do not show: version downgrade, shortest forms, batching, refusals.
import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  encodePacket,
  encodePackets,
  peekConnectVersion,
  type Packet,
  type PublishPacket,
} from '../../../core/codec/index.js';
import { MqttError } from '../../../core/errors.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { ascii, fixturesV4, fixturesV5 } from './fixtures.js';

const bytes = (packet: Packet, version: 3 | 4 | 5): number[] => Array.from(encodePacket(packet, version));

function encodeError(packet: Packet, version: 3 | 4 | 5): MqttError {
  try {
    encodePacket(packet, version);
  } catch (error) {
    expect(error).toBeInstanceOf(MqttError);
    return error as MqttError;
  }
  throw new Error('expected encodePacket to throw');
}

const publishV5: PublishPacket = {
  type: 'publish',
  topic: 'a/b',
  payload: Uint8Array.of(1),
  qos: 1,
  retain: false,
  dup: false,
  packetId: 9,
  properties: { contentType: 'json', userProperties: [['k', 'v']], subscriptionIdentifiers: [3] },
};

describe('encoding a 5.0 packet for a 3.1.1 connection', () => {
  it('[MQTT-3.3.2-17 v5] PUBLISH drops its properties', () => {
    expect(bytes(publishV5, 4)).toStrictEqual([0x32, 8, 0, 3, ...ascii('a/b'), 0, 9, 1]);
  });

  it('(3.1.1 §3.4) PUBACK drops reason code and properties', () => {
    expect(bytes({ type: 'puback', packetId: 1, reasonCode: 0x10, properties: { reasonString: 'x' } }, 4)).toStrictEqual([0x40, 2, 0, 1]);
  });

  it('(3.1.1 §3.2) CONNACK drops its properties', () => {
    expect(bytes({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { maximumQoS: 1 } }, 4)).toStrictEqual([0x20, 2, 0, 0]);
  });

  it('[MQTT-3.9.3-2] SUBACK passes its codes through and drops properties', () => {
    expect(bytes({ type: 'suback', packetId: 2, reasonCodes: [0, 0x80], properties: { reasonString: 'x' } }, 4)).toStrictEqual([0x90, 4, 0, 2, 0, 0x80]);
  });

  it('(3.1.1 §3.11) UNSUBACK drops its reason codes', () => {
    expect(bytes({ type: 'unsuback', packetId: 2, reasonCodes: [0, 0x11] }, 4)).toStrictEqual([0xb0, 2, 0, 2]);
  });

  it('[MQTT-3-8.3-4] SUBSCRIBE drops the 5.0 subscription options', () => {
    const packet: Packet = {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: 't', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }],
    };
    expect(bytes(packet, 4)).toStrictEqual([0x82, 6, 0, 1, 0, 1, 0x74, 0x01]);
  });

  it('(3.1.1 §3.14) DISCONNECT drops reason code and properties', () => {
    expect(bytes({ type: 'disconnect', reasonCode: 0x8e, properties: { reasonString: 'x' } }, 4)).toStrictEqual([0xe0, 0]);
  });

  it('(3.1.1 §2.2.1) AUTH cannot be encoded for 3.1.1', () => {
    expect(encodeError({ type: 'auth', reasonCode: 0 }, 4).reasonCode).toBe(ReasonCode.MalformedPacket);
  });

  it('[MQTT-3.1.2-2] CONNECT is encoded for the version it names, not the connection version', () => {
    const f = fixturesV4[0]!;
    expect(bytes(f.packet, 5)).toStrictEqual(f.bytes);
  });
});

describe('shortest legal form', () => {
  it('(5.0 §3.4.2.1) PUBACK without reasonCode or properties takes 2 bytes of Remaining Length', () => {
    expect(bytes({ type: 'puback', packetId: 1 }, 5)).toStrictEqual([0x40, 2, 0, 1]);
    expect(bytes({ type: 'puback', packetId: 1, reasonCode: 0, properties: {} }, 5)).toStrictEqual([0x40, 2, 0, 1]);
  });

  it('(5.0 §3.5.2.2) PUBREC with only properties still writes the Success reason code', () => {
    expect(bytes({ type: 'pubrec', packetId: 1, properties: { reasonString: 'a' } }, 5)).toStrictEqual([
      0x50, 8, 0, 1, 0x00, 4, 0x1f, 0, 1, 0x61,
    ]);
  });

  it('(5.0 §3.14.2.1) DISCONNECT Normal disconnection without properties is two bytes', () => {
    expect(bytes({ type: 'disconnect' }, 5)).toStrictEqual([0xe0, 0]);
    expect(bytes({ type: 'disconnect', reasonCode: 0, properties: {} }, 5)).toStrictEqual([0xe0, 0]);
  });

  it('(5.0 §3.15.2.2) AUTH with a reason code but no properties keeps its Property Length', () => {
    expect(bytes({ type: 'auth', reasonCode: 0x19 }, 5)).toStrictEqual([0xf0, 2, 0x19, 0]);
  });

  it('(5.0 §2.2.2.2) properties the packet type cannot carry are left out', () => {
    expect(bytes({ type: 'puback', packetId: 1, properties: { topicAlias: 3 } }, 5)).toStrictEqual([0x40, 2, 0, 1]);
    const publish: PublishPacket = { ...publishV5, properties: { reasonString: 'no', topicAlias: 2 } };
    expect(decodePacket(encodePacket(publish, 5), 5)).toStrictEqual({ ...publishV5, properties: { topicAlias: 2 } });
  });

  it('[MQTT-3.3.1-2] DUP is cleared on a QoS 0 PUBLISH', () => {
    expect(bytes({ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: true }, 4)).toStrictEqual([
      0x30, 3, 0, 1, 0x74,
    ]);
  });

  it('[MQTT-2.3.1-5] a packetId on a QoS 0 PUBLISH is not written', () => {
    expect(bytes({ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: false, packetId: 5 }, 4)).toStrictEqual([
      0x30, 3, 0, 1, 0x74,
    ]);
  });

  it('(5.0 §2.2.2.2) writes properties in identifier order whatever the object key order', () => {
    const a = encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 1, maximumQoS: 0 } }, 5);
    const b = encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { maximumQoS: 0, topicAliasMaximum: 1 } }, 5);
    expect(Array.from(a)).toStrictEqual(Array.from(b));
  });
});

describe('packets with no valid encoding', () => {
  it('[MQTT-2.3.1-1] PUBLISH QoS 1 without a packetId', () => {
    expect(encodeError({ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 1, retain: false, dup: false }, 4).reasonCode).toBe(
      ReasonCode.MalformedPacket,
    );
  });

  it('[MQTT-2.2.1-3 v5] SUBSCRIBE, UNSUBSCRIBE and acks with packetId 0', () => {
    encodeError({ type: 'subscribe', packetId: 0, subscriptions: [{ topicFilter: 't', qos: 0 }] }, 5);
    encodeError({ type: 'unsubscribe', packetId: 0, topicFilters: ['t'] }, 5);
    encodeError({ type: 'pubrel', packetId: 0 }, 5);
  });

  it('[MQTT-3.8.3-3] SUBSCRIBE and UNSUBSCRIBE with nothing in them', () => {
    encodeError({ type: 'subscribe', packetId: 1, subscriptions: [] }, 4);
    encodeError({ type: 'unsubscribe', packetId: 1, topicFilters: [] }, 4);
  });

  it('(3.1.1 §1.5.3) a string over 65,535 bytes', () => {
    const topic = 'é'.repeat(32_768); // 65,536 bytes
    encodeError({ type: 'publish', topic, payload: new Uint8Array(0), qos: 0, retain: false, dup: false }, 4);
    expect(bytes({ type: 'publish', topic: 'a'.repeat(65_535), payload: new Uint8Array(0), qos: 0, retain: false, dup: false }, 4).length).toBe(
      1 + 3 + 2 + 65_535,
    );
  });

  it('(5.0 §1.5.6) binary data over 65,535 bytes', () => {
    encodeError({ ...publishV5, properties: { correlationData: new Uint8Array(65_536) } }, 5);
  });
});

describe('encodePackets', () => {
  it('[MQTT-6.0.0-2] concatenates packets in order, as one WebSocket message', () => {
    const packets = fixturesV5.map((f) => f.packet);
    expect(Array.from(encodePackets(packets, 5))).toStrictEqual(fixturesV5.flatMap((f) => f.bytes));
  });

  it('[MQTT-6.0.0-2] encodes a single packet and an empty batch', () => {
    expect(Array.from(encodePackets([{ type: 'pingresp' }], 4))).toStrictEqual([0xd0, 0]);
    expect(encodePackets([], 4).length).toBe(0);
  });
});

describe('peekConnectVersion', () => {
  it('[MQTT-3.1.2-2] reads the protocol level of a CONNECT', () => {
    expect(peekConnectVersion(Uint8Array.from(fixturesV4[0]!.bytes))).toBe(4);
    expect(peekConnectVersion(Uint8Array.from(fixturesV5[0]!.bytes))).toBe(5);
    expect(peekConnectVersion(Uint8Array.from(fixturesV4.find((f) => f.version === 3)!.bytes))).toBe(3);
  });

  it('[MQTT-3.1.2-2 v5] reads a level the decoder rejects, and from a CONNECT that fails to decode', () => {
    expect(peekConnectVersion(Uint8Array.from([0x10, 12, 0, 4, ...ascii('MQTT'), 6, 0x02, 0, 0, 0, 0]))).toBe(6);
    expect(peekConnectVersion(Uint8Array.from([0x10, 13, 0, 4, ...ascii('MQTT'), 5, 0x01, 0, 0, 0, 0, 0]))).toBe(5);
  });

  it('(3.1.1 §3.1) is undefined for anything but a readable CONNECT header', () => {
    expect(peekConnectVersion(Uint8Array.from([0xc0, 0]))).toBeUndefined();
    expect(peekConnectVersion(Uint8Array.from([0x10]))).toBeUndefined();
    expect(peekConnectVersion(Uint8Array.from([0x10, 6, 0, 4, ...ascii('MQ')]))).toBeUndefined();
    expect(peekConnectVersion(Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});
