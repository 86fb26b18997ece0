// core/session/machine.ts: the protocol gate in front of every packet, PINGREQ, and the RPC inputs (deliver,
// kick, fault) with their replies; describeSession for the sessions API.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Packet, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { describeSession } from '../../../core/session/machine.js';
import { SessionHarness, TENANT, connectPacket, delivery, serverDisconnectWith } from './harness.js';
import { NEVER_EXPIRES } from '../../../core/session/expiry.js';

const SESSION = `${TENANT}\u0000device-1`;
const V5: Partial<ConnectPacket> = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 60 } };
const WILL: Will = { topic: 'devices/device-1/status', payload: new TextEncoder().encode('offline'), qos: 0, retain: false };
const willRoute = { type: 'route', tenant: TENANT, message: { topic: WILL.topic, payload: WILL.payload, qos: 0, retain: false, origin: SESSION } };

/** The attachment of connection c1 of client device-1 as its last saveConnection has it. */
function record(phase: 'awaitingConnect' | 'connected' | 'closed', protocolVersion: 4 | 5 = 4) {
  return { id: 'c1', tenant: TENANT, clientId: 'device-1', clientIdAssigned: false, phase, protocolVersion, receiveMaximum: 65535, topicAliasMaximum: 0 };
}

function subscribeTo(h: SessionHarness, connectionId: string, ...filters: string[]): void {
  h.packet(connectionId, { type: 'subscribe', packetId: 1, subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: 1 as const })) });
  h.subscribed();
}

function publishOut(topic: string, payload: string, packetId: number): Packet {
  return { type: 'publish', topic, payload: new TextEncoder().encode(payload), qos: 1, retain: false, dup: false, packetId };
}

const CLIENT_PACKETS_BEFORE_CONNECT: ReadonlyArray<readonly [string, Packet]> = [
  ['PUBLISH', { type: 'publish', topic: 'a', payload: new Uint8Array(), qos: 0, retain: false, dup: false }],
  ['SUBSCRIBE', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 0 }] }],
  ['PINGREQ', { type: 'pingreq' }],
  ['DISCONNECT', { type: 'disconnect' }],
];

const SERVER_ONLY: ReadonlyArray<readonly [string, Packet]> = [
  ['CONNACK', { type: 'connack', sessionPresent: false, reasonCode: 0 }],
  ['SUBACK', { type: 'suback', packetId: 1, reasonCodes: [0] }],
  ['UNSUBACK', { type: 'unsuback', packetId: 1 }],
  ['PINGRESP', { type: 'pingresp' }],
];

describe('the protocol gate', () => {
  it.each(CLIENT_PACKETS_BEFORE_CONNECT)('[MQTT-3.1.0-1] a first packet %s closes the connection without CONNACK and stores nothing', (_name, packet) => {
    const h = new SessionHarness();
    h.open('c1');
    expect(h.packet('c1', packet)).toEqual([
      { type: 'saveConnection', connection: record('closed') },
      { type: 'close', connectionId: 'c1' },
    ]);
    expect(h.store.record).toBeUndefined();
    expect(h.store.rowsWritten).toBe(0);
  });

  it('[MQTT-3.1.0-2] a second CONNECT closes a 3.1.1 connection without a CONNACK, and the will is published', () => {
    const h = new SessionHarness();
    h.connect('c1', { will: WILL });
    h.packet('c1', connectPacket());
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
    expect(h.state.connections.get('c1')?.phase).toBe('closed');
  });

  it('[MQTT-3.1.0-2 v5] a second CONNECT is a Protocol Error: DISCONNECT 0x82 and close', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, will: WILL });
    h.packet('c1', connectPacket(V5));
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
    expect(h.store.record).toMatchObject({ connectionId: null });
  });

  it.each(SERVER_ONLY)('[MQTT-4.8.0-1] a %s from a 3.1.1 client is a protocol violation: the connection closes', (_name, packet) => {
    const h = new SessionHarness();
    h.connect('c1', { will: WILL });
    h.packet('c1', packet);
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
  });

  it.each(SERVER_ONLY)('(5.0 §4.13) a %s from a 5.0 client is a Protocol Error: DISCONNECT 0x82 and close', (_name, packet) => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    h.packet('c1', packet);
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
  });

  it('[MQTT-4.12.0-7 v5] an AUTH from a client that sent no Authentication Method is a Protocol Error: DISCONNECT 0x82, will published', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, will: WILL });
    h.packet('c1', { type: 'auth', reasonCode: ReasonCode.ReAuthenticate });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
  });

  it('[MQTT-4.8.0-1] 3.1.1 has no AUTH packet: one closes the connection', () => {
    const h = new SessionHarness();
    h.connect('c1');
    h.packet('c1', { type: 'auth', reasonCode: 0 });
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
  });

  it('[MQTT-4.8.0-1] packets to a closed connection produce no effects', () => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    h.input({ type: 'fault', connectionId: 'c1', reasonCode: ReasonCode.MalformedPacket });
    expect(h.closed('c1')).toBe(true);
    expect(h.packet('c1', { type: 'pingreq' })).toEqual([]);
    expect(h.packet('c1', { type: 'publish', topic: 'a', payload: new Uint8Array(), qos: 1, retain: false, dup: false, packetId: 1 })).toEqual([]);
    expect(h.packet('c1', connectPacket(V5))).toEqual([]);
  });

  it('packets for a connection this object does not know produce no effects', () => {
    const h = new SessionHarness();
    h.connect('c1');
    expect(h.packet('nobody', { type: 'pingreq' })).toEqual([]);
    expect(h.input({ type: 'fault', connectionId: 'nobody', reasonCode: ReasonCode.ProtocolError })).toEqual([]);
    expect(h.input({ type: 'socketClosed', connectionId: 'nobody' })).toEqual([]);
  });

  it('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', () => {
    const h = new SessionHarness();
    h.connect('c1');
    expect(h.packet('c1', { type: 'pingreq' })).toEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'pingresp' }] }]);
  });

  it("'opened' registers a connection awaiting its CONNECT and emits nothing", () => {
    const h = new SessionHarness();
    h.open('c1');
    expect(h.effects).toEqual([]);
    expect(h.state.connections.get('c1')).toMatchObject({ phase: 'awaitingConnect', offeredToken: null });
  });
});

describe('deliver', () => {
  it('delivers what a held filter matched and reports the filters the session no longer holds as stale', () => {
    const h = new SessionHarness();
    h.connect('c1');
    subscribeTo(h, 'c1', 'a/+');
    h.deliver(delivery('a/b', 'one', 1, { filters: ['a/+', 'gone/#'] }), delivery('old/x', 'two', 1, { filters: ['old/x'] }));
    expect(h.reply).toEqual({ stale: ['gone/#', 'old/x'], online: true });
    expect(h.sent('c1')).toEqual([publishOut('a/b', 'one', 1)]);
    expect([...h.store.outbound.values()].map((m) => m.topic)).toEqual(['a/b']);
  });

  it('a delivery matching only filters the session no longer holds is neither sent nor stored', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false });
    subscribeTo(h, 'c1', 'a/+');
    h.packet('c1', { type: 'unsubscribe', packetId: 2, topicFilters: ['a/+'] });
    h.deliver(delivery('a/b', 'one', 1, { filters: ['a/+'] }));
    expect(h.reply).toEqual({ stale: ['a/+'], online: true });
    expect(h.effects).toEqual([]);
    expect(h.store.outbound.size).toBe(0);
  });

  it('a session object with no session reports every filter stale and stores nothing', () => {
    const h = new SessionHarness();
    h.deliver(delivery('a/b', 'one', 1, { filters: ['a/+', 'a/#'] }), delivery('c', 'two', 0));
    expect(h.reply).toEqual({ stale: ['a/+', 'a/#', 'c'], online: false });
    expect(h.effects).toEqual([]);
    expect(h.store.rowsWritten).toBe(0);
  });

  it('online is false without a connected owner; QoS 1 is queued for the offline session', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false });
    subscribeTo(h, 'c1', 'a/+');
    h.packet('c1', { type: 'disconnect' });
    h.deliver(delivery('a/b', 'one', 1, { filters: ['a/+'] }));
    expect(h.reply).toEqual({ stale: [], online: false });
    expect(h.of('send')).toEqual([]);
    expect(h.store.queued().map((m) => m.topic)).toEqual(['a/b']);
  });
});

describe('kick', () => {
  it('(5.0 §3.14.2.1) kick ends the owner with DISCONNECT 0x98, publishes the will and replies kicked', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, will: WILL });
    h.input({ type: 'kick' });
    expect(h.reply).toEqual({ kicked: true });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.AdministrativeAction, 'Administrative action: kicked by the admin')]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
    expect(h.store.record).toMatchObject({ connectionId: null });
  });

  it('[MQTT-3.1.2-8] kick closes a 3.1.1 owner without a DISCONNECT and publishes the will', () => {
    const h = new SessionHarness();
    h.connect('c1', { will: WILL });
    h.input({ type: 'kick' });
    expect(h.reply).toEqual({ kicked: true });
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
  });

  it('kick without a connected owner replies not kicked and does nothing', () => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    h.packet('c1', { type: 'disconnect', reasonCode: 0 });
    expect(h.input({ type: 'kick' })).toEqual([]);
    expect(h.reply).toEqual({ kicked: false });

    const empty = new SessionHarness();
    expect(empty.input({ type: 'kick' })).toEqual([]);
    expect(empty.reply).toEqual({ kicked: false });
  });
});

describe('fault', () => {
  it('(5.0 §4.13) a fault ends a 5.0 connection with DISCONNECT carrying its reason code, and publishes the will', () => {
    const h = new SessionHarness();
    h.connect('c1', { ...V5, will: WILL });
    h.input({ type: 'fault', connectionId: 'c1', reasonCode: ReasonCode.PacketTooLarge });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.PacketTooLarge)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute]);
  });

  it('[MQTT-4.8.0-1] a fault before CONNECT closes the connection, with no DISCONNECT and nothing stored', () => {
    const h = new SessionHarness();
    h.open('c1');
    expect(h.input({ type: 'fault', connectionId: 'c1', reasonCode: ReasonCode.MalformedPacket })).toEqual([
      { type: 'saveConnection', connection: record('closed') },
      { type: 'close', connectionId: 'c1' },
    ]);
    expect(h.store.rowsWritten).toBe(0);
  });
});

describe('describeSession', () => {
  it('is undefined for an object with no session', () => {
    expect(describeSession(new SessionHarness().state)).toBeUndefined();
  });

  it('shows a connected session: its subscriptions with their QoS and what is in flight', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false });
    h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/+', qos: 1 }, { topicFilter: 'b', qos: 2 }] });
    h.subscribed();
    h.deliver(delivery('a/x', 'one', 1, { filters: ['a/+'] }));
    expect(describeSession(h.state)).toEqual({
      connected: true,
      tokenId: null,
      subscriptions: [
        { filter: 'a/+', qos: 1 },
        { filter: 'b', qos: 2 },
      ],
      queued: 0,
      inflight: 1,
      protocolVersion: 4,
      sessionExpiryInterval: NEVER_EXPIRES,
      expiresAt: null,
    });
  });

  it('shows an offline session with its queued messages, also after a restart', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false });
    h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/+', qos: 1 }] });
    h.subscribed();
    h.packet('c1', { type: 'disconnect' });
    h.deliver(delivery('a/x', 'one', 1, { filters: ['a/+'] }), delivery('a/y', 'two', 1, { filters: ['a/+'] }));
    const expected = {
      connected: false,
      tokenId: null,
      subscriptions: [{ filter: 'a/+', qos: 1 }],
      queued: 2,
      inflight: 0,
      protocolVersion: 4,
      sessionExpiryInterval: NEVER_EXPIRES,
      expiresAt: null,
    };
    expect(describeSession(h.state)).toEqual(expected);
    h.restart();
    expect(describeSession(h.state)).toEqual(expected);
  });
});
