// gateClientPacket: the protocol gate that runs before any packet is handled, per connection state.
import { describe, expect, it } from 'vitest';
import { PACKET_TYPE_NUMBER, type PacketType } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { gateClientPacket } from '../../../core/session/connection-state.js';

const ALL_TYPES = Object.keys(PACKET_TYPE_NUMBER) as PacketType[];
const SERVER_ONLY: readonly PacketType[] = ['connack', 'suback', 'unsuback', 'pingresp'];
const CLIENT_AFTER_CONNECT: readonly PacketType[] = [
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'unsubscribe',
  'pingreq',
  'disconnect',
];
const VERSIONS = [3, 4, 5] as const;

/** A spec id as the house style writes it for a protocol level: bare for 3.1 / 3.1.1, ` v5` for 5.0. */
const idFor = (id: string, version: number): string => (version === 5 ? `[${id} v5]` : `[${id}]`);

describe('awaitingConnect', () => {
  it.each(VERSIONS.map((version) => [idFor('MQTT-3.1.0-1', version), version] as const))(
    '%s CONNECT is accepted as the first packet (protocol level %i)',
    (_spec, version) => {
      expect(gateClientPacket('awaitingConnect', 'connect', version)).toStrictEqual({ ok: true });
    },
  );

  it.each(ALL_TYPES.filter((type) => type !== 'connect'))(
    '[MQTT-3.1.0-1] a first packet %s is refused with 0x82 Protocol Error',
    (type) => {
      for (const version of VERSIONS) {
        expect(gateClientPacket('awaitingConnect', type, version)).toStrictEqual({
          ok: false,
          reasonCode: ReasonCode.ProtocolError,
          reason: 'first packet must be CONNECT',
        });
      }
    },
  );

  it('[MQTT-3.1.0-1 v5] AUTH before CONNECT is refused with 0x82', () => {
    expect(gateClientPacket('awaitingConnect', 'auth', 5)).toMatchObject({ ok: false, reasonCode: ReasonCode.ProtocolError });
  });
});

describe('connected', () => {
  it.each(VERSIONS.map((version) => [idFor('MQTT-3.1.0-2', version), version] as const))(
    '%s a second CONNECT is a protocol violation: 0x82 (protocol level %i)',
    (_spec, version) => {
      expect(gateClientPacket('connected', 'connect', version)).toStrictEqual({
        ok: false,
        reasonCode: ReasonCode.ProtocolError,
        reason: 'second CONNECT',
      });
    },
  );

  it.each(SERVER_ONLY)('(§2.2.1) a client sending %s, a server-only packet, is refused with 0x82', (type) => {
    for (const version of VERSIONS) {
      expect(gateClientPacket('connected', type, version)).toStrictEqual({
        ok: false,
        reasonCode: ReasonCode.ProtocolError,
        reason: `client sent ${type}`,
      });
    }
  });

  it.each(CLIENT_AFTER_CONNECT)('(§2.2.1) %s from the client is accepted after CONNECT in every version', (type) => {
    for (const version of VERSIONS) {
      expect(gateClientPacket('connected', type, version)).toStrictEqual({ ok: true });
    }
  });

  it.each([3, 4] as const)('(3.1.1 §2.2.1) AUTH, reserved type 15 before 5.0, is malformed: 0x81 (protocol level %i)', (version) => {
    expect(gateClientPacket('connected', 'auth', version)).toStrictEqual({
      ok: false,
      reasonCode: ReasonCode.MalformedPacket,
      reason: 'AUTH in 3.1.1',
    });
  });

  it('(5.0 §4.12.1) AUTH after CONNECT is accepted for re-authentication in 5.0', () => {
    expect(gateClientPacket('connected', 'auth', 5)).toStrictEqual({ ok: true });
  });

  it('every packet type is either accepted or refused for a reason after CONNECT', () => {
    const covered = new Set<PacketType>(['connect', 'auth', ...SERVER_ONLY, ...CLIENT_AFTER_CONNECT]);
    expect([...covered].sort()).toStrictEqual([...ALL_TYPES].sort());
  });
});

describe('closed', () => {
  it.each(ALL_TYPES)('nothing is processed after close: %s is refused with 0x82', (type) => {
    for (const version of VERSIONS) {
      expect(gateClientPacket('closed', type, version)).toStrictEqual({
        ok: false,
        reasonCode: ReasonCode.ProtocolError,
        reason: 'connection closed',
      });
    }
  });
});
