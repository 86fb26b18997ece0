// Property-based tests with a seeded generator (no dependency): random valid packets of every type and
// version round-trip exactly; random streams frame exactly; mutated bytes only ever fail as MqttError.
import { describe, expect, it } from 'vitest';
import {
  PacketFramer,
  decodePacket,
  encodePacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type QoS,
  type Subscription,
} from '../../../core/codec/index.js';
import { MqttError } from '../../../core/errors.js';

/** mulberry32: small, fast, and the same sequence for the same seed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const bool = (): boolean => next() < 0.5;
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const bytes = (max: number): Uint8Array => {
    const out = new Uint8Array(int(0, max));
    for (let i = 0; i < out.length; i++) out[i] = int(0, 255);
    return out;
  };
  // Strings mixing 1-, 2-, 3- and 4-byte characters; never U+0000 or a lone surrogate.
  const pieces = ['a', 'Z', '/', '+', '#', '$', ' ', 'é', 'ß', '€', '中', '\ufeff', '\uffff', '😀', '\u{10ffff}', '\u0001'];
  const string = (maxPieces: number): string => {
    let s = '';
    const n = int(0, maxPieces);
    for (let i = 0; i < n; i++) s += pick(pieces);
    return s;
  };
  return { next, int, bool, pick, bytes, string };
}

type Gen = ReturnType<typeof generator>;

// Independent of the codec's own table on purpose: 5.0 table 2-4, by packet.
const allowed: Record<string, Array<keyof Properties>> = {
  connect: ['sessionExpiryInterval', 'authenticationMethod', 'authenticationData', 'requestProblemInformation', 'requestResponseInformation', 'receiveMaximum', 'topicAliasMaximum', 'userProperties', 'maximumPacketSize'],
  will: ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'willDelayInterval', 'userProperties'],
  connack: ['sessionExpiryInterval', 'assignedClientIdentifier', 'serverKeepAlive', 'authenticationMethod', 'authenticationData', 'responseInformation', 'serverReference', 'reasonString', 'receiveMaximum', 'topicAliasMaximum', 'maximumQoS', 'retainAvailable', 'userProperties', 'maximumPacketSize', 'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable'],
  publish: ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'subscriptionIdentifiers', 'topicAlias', 'userProperties'],
  ack: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifiers', 'userProperties'],
  suback: ['reasonString', 'userProperties'],
  unsubscribe: ['userProperties'],
  unsuback: ['reasonString', 'userProperties'],
  disconnect: ['sessionExpiryInterval', 'serverReference', 'reasonString', 'userProperties'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
};

function properties(g: Gen, kind: string): Properties | undefined {
  if (g.next() < 0.3) return undefined;
  const p: Properties = {};
  const u32 = (): number => g.pick([0, 1, 255, 65_536, 0xffffffff, g.int(0, 0xffffffff)]);
  const u16 = (min: number): number => g.pick([min, 255, 65_535, g.int(min, 65_535)]);
  const bit = (): 0 | 1 => (g.bool() ? 1 : 0);
  for (const key of allowed[kind]!) {
    if (g.bool()) continue;
    switch (key) {
      case 'payloadFormatIndicator': p.payloadFormatIndicator = bit(); break;
      case 'messageExpiryInterval': p.messageExpiryInterval = u32(); break;
      case 'contentType': p.contentType = g.string(5); break;
      case 'responseTopic': p.responseTopic = g.string(5); break;
      case 'correlationData': p.correlationData = g.bytes(8); break;
      case 'subscriptionIdentifiers': {
        const count = kind === 'publish' ? g.int(1, 3) : 1;
        p.subscriptionIdentifiers = Array.from({ length: count }, () => g.pick([1, 127, 128, 16_384, 268_435_455, g.int(1, 268_435_455)]));
        break;
      }
      case 'sessionExpiryInterval': p.sessionExpiryInterval = u32(); break;
      case 'assignedClientIdentifier': p.assignedClientIdentifier = g.string(5); break;
      case 'serverKeepAlive': p.serverKeepAlive = u16(0); break;
      case 'authenticationMethod': p.authenticationMethod = g.string(5); break;
      case 'authenticationData': p.authenticationData = g.bytes(8); break;
      case 'requestProblemInformation': p.requestProblemInformation = bit(); break;
      case 'willDelayInterval': p.willDelayInterval = u32(); break;
      case 'requestResponseInformation': p.requestResponseInformation = bit(); break;
      case 'responseInformation': p.responseInformation = g.string(5); break;
      case 'serverReference': p.serverReference = g.string(5); break;
      case 'reasonString': p.reasonString = g.string(5); break;
      case 'receiveMaximum': p.receiveMaximum = u16(1); break;
      case 'topicAliasMaximum': p.topicAliasMaximum = u16(0); break;
      case 'topicAlias': p.topicAlias = u16(1); break;
      case 'maximumQoS': p.maximumQoS = bit(); break;
      case 'retainAvailable': p.retainAvailable = bit(); break;
      case 'userProperties': p.userProperties = Array.from({ length: g.int(1, 3) }, () => [g.string(3), g.string(3)] as [string, string]); break;
      case 'maximumPacketSize': p.maximumPacketSize = g.pick([1, 0xffffffff, g.int(1, 0xffffffff)]); break;
      case 'wildcardSubscriptionAvailable': p.wildcardSubscriptionAvailable = bit(); break;
      case 'subscriptionIdentifierAvailable': p.subscriptionIdentifierAvailable = bit(); break;
      case 'sharedSubscriptionAvailable': p.sharedSubscriptionAvailable = bit(); break;
    }
  }
  // Authentication Data needs an Authentication Method on CONNECT (5.0 section 3.1.2.11.10).
  if (kind === 'connect' && p.authenticationData !== undefined) p.authenticationMethod ??= 'm';
  return Object.keys(p).length > 0 ? p : undefined;
}

// The canonical shape decodePacket returns: optional fields are absent rather than undefined.
function withProperties<T extends object>(packet: T, props: Properties | undefined): T {
  return props === undefined ? packet : { ...packet, properties: props };
}

const CONNACK_V5 = [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f];
const PUBACK_V5 = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_V5 = [0x00, 0x92];
const SUBACK_V5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_V5 = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_V5 = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2];
const AUTH_V5 = [0x00, 0x18, 0x19];

function randomPacket(g: Gen, version: ProtocolVersion): Packet {
  const v5 = version === 5;
  const qos = (): QoS => g.int(0, 2) as QoS;
  const packetId = (): number => g.pick([1, 255, 256, 65_535, g.int(1, 65_535)]);
  const types = ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'];
  if (v5) types.push('auth');
  const type = g.pick(types);
  switch (type) {
    case 'connect': {
      const packet: Packet = {
        type: 'connect',
        protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        cleanSession: g.bool(),
        keepAlive: g.int(0, 65_535),
        clientId: g.string(8),
      };
      if (g.bool()) {
        const will = { topic: g.string(6), payload: g.bytes(20), qos: qos(), retain: g.bool() };
        packet.will = v5 ? withProperties(will, properties(g, 'will')) : will;
      }
      const username = g.bool();
      if (username) packet.username = g.string(6);
      if (g.bool() && (username || v5)) packet.password = g.bytes(10);
      return v5 ? withProperties(packet, properties(g, 'connect')) : packet;
    }
    case 'connack': {
      const packet: Packet = { type: 'connack', sessionPresent: g.bool(), reasonCode: v5 ? g.pick(CONNACK_V5) : g.int(0, 5) };
      return v5 ? withProperties(packet, properties(g, 'connack')) : packet;
    }
    case 'publish': {
      const q = qos();
      const packet: Packet = { type: 'publish', topic: g.string(8), payload: g.bytes(g.pick([0, 10, 300])), qos: q, retain: g.bool(), dup: q > 0 && g.bool() };
      if (q > 0) packet.packetId = packetId();
      return v5 ? withProperties(packet, properties(g, 'publish')) : packet;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const ackType = type as 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
      if (!v5) return { type: ackType, packetId: packetId() };
      const codes = ackType === 'puback' || ackType === 'pubrec' ? PUBACK_V5 : PUBREL_V5;
      return withProperties({ type: ackType, packetId: packetId(), reasonCode: g.pick(codes) }, properties(g, 'ack'));
    }
    case 'subscribe': {
      const subscriptions: Subscription[] = Array.from({ length: g.int(1, 4) }, () =>
        v5
          ? { topicFilter: g.string(6), qos: qos(), noLocal: g.bool(), retainAsPublished: g.bool(), retainHandling: g.int(0, 2) as 0 | 1 | 2 }
          : { topicFilter: g.string(6), qos: qos() },
      );
      const packet: Packet = { type: 'subscribe', packetId: packetId(), subscriptions };
      return v5 ? withProperties(packet, properties(g, 'subscribe')) : packet;
    }
    case 'suback': {
      const reasonCodes = Array.from({ length: g.int(1, 4) }, () => (v5 ? g.pick(SUBACK_V5) : g.pick([0, 1, 2, 0x80])));
      const packet: Packet = { type: 'suback', packetId: packetId(), reasonCodes };
      return v5 ? withProperties(packet, properties(g, 'suback')) : packet;
    }
    case 'unsubscribe': {
      const packet: Packet = { type: 'unsubscribe', packetId: packetId(), topicFilters: Array.from({ length: g.int(1, 4) }, () => g.string(6)) };
      return v5 ? withProperties(packet, properties(g, 'unsubscribe')) : packet;
    }
    case 'unsuback': {
      if (!v5) return { type: 'unsuback', packetId: packetId() };
      const reasonCodes = Array.from({ length: g.int(1, 4) }, () => g.pick(UNSUBACK_V5));
      return withProperties({ type: 'unsuback', packetId: packetId(), reasonCodes }, properties(g, 'unsuback'));
    }
    case 'pingreq':
      return { type: 'pingreq' };
    case 'pingresp':
      return { type: 'pingresp' };
    case 'disconnect':
      if (!v5) return { type: 'disconnect' };
      return withProperties({ type: 'disconnect', reasonCode: g.pick(DISCONNECT_V5) }, properties(g, 'disconnect'));
    default:
      return withProperties({ type: 'auth', reasonCode: g.pick(AUTH_V5) }, properties(g, 'auth'));
  }
}

const versions: ProtocolVersion[] = [3, 4, 5];

describe('property-based round trip', () => {
  for (const version of versions) {
    it(`(${version === 5 ? '5.0' : '3.1.1'} §3) random valid ${version === 3 ? '3.1' : version === 4 ? '3.1.1' : '5.0'} packets: decode(encode(p)) equals p`, () => {
      const g = generator(0xc0ffee + version);
      for (let i = 0; i < 3_000; i++) {
        const packet = randomPacket(g, version);
        const bytes = encodePacket(packet, version);
        const decoded = decodePacket(bytes, version);
        expect(decoded, JSON.stringify(packet)).toStrictEqual(packet);
        expect(encodePacket(decoded, version)).toStrictEqual(bytes);
      }
    });
  }

  it('[MQTT-6.0.0-2] random streams cut at random points frame back into the same packets', () => {
    const g = generator(7);
    for (let round = 0; round < 50; round++) {
      const encoded = Array.from({ length: g.int(1, 40) }, () => encodePacket(randomPacket(g, 5), 5));
      const stream = Uint8Array.from(encoded.flatMap((b) => Array.from(b)));
      const framer = new PacketFramer(1 << 20);
      const frames: number[][] = [];
      for (let i = 0; i < stream.length; ) {
        const size = g.pick([1, 2, 3, g.int(1, 64), g.int(1, 1024)]);
        for (const frame of framer.push(stream.subarray(i, i + size))) frames.push(Array.from(frame));
        i += size;
      }
      expect(frames).toStrictEqual(encoded.map((b) => Array.from(b)));
      expect(framer.buffered).toBe(0);
    }
  });
});

describe('mutation fuzzing', () => {
  it('(5.0 §4.13) mutated packets decode to a valid packet or throw MqttError, nothing else', () => {
    const g = generator(99);
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const version = g.pick(versions);
      const bytes = Array.from(encodePacket(randomPacket(g, version), version));
      const mutations = g.int(1, 3);
      for (let m = 0; m < mutations; m++) {
        const at = g.int(0, bytes.length - 1);
        switch (g.int(0, 3)) {
          case 0: bytes[at] = g.int(0, 255); break;
          case 1: bytes[at] = bytes[at]! ^ (1 << g.int(0, 7)); break;
          case 2: bytes.splice(at, 1); break;
          default: bytes.splice(at, 0, g.int(0, 255));
        }
      }
      let packet: Packet;
      try {
        packet = decodePacket(Uint8Array.from(bytes), version);
      } catch (error) {
        if (!(error instanceof MqttError)) throw error;
        rejected++;
        continue;
      }
      // Whatever decodes is a valid packet, so it re-encodes and decodes to itself.
      const version2 = packet.type === 'connect' ? packet.protocolVersion : version;
      expect(decodePacket(encodePacket(packet, version2), version2)).toStrictEqual(packet);
    }
    expect(rejected).toBeGreaterThan(10_000);
  });
});
