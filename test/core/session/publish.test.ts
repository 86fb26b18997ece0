// Client PUBLISH through the session state machine: routing, acknowledgements in order and only once stored,
// QoS 2 method B, topic aliases, Receive Maximum, payload format, publish rate and what the routed message carries.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Packet, Properties, PublishPacket, QoS, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { sessionName } from '../../../core/routing/message.js';
import type { Effect } from '../../../core/session/effects.js';
import type { ConnectionToken } from '../../../core/tenancy/token.js';
import { CONFIG, SessionHarness, T0, TENANT, token, type OpenOptions, serverDisconnectWith } from './harness.js';

type Route = Extract<Effect, { type: 'route' }>;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const ORIGIN = sessionName(TENANT, 'device-1');
const V5: Partial<ConnectPacket> = { protocolVersion: 5 };
/** A session that outlives its connection. */
const PERSISTENT_V5: Partial<ConnectPacket> = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 3600 } };
const PERSISTENT_V4: Partial<ConnectPacket> = { protocolVersion: 4, cleanSession: false };
const WILL: Will = { topic: 'status/device-1', payload: utf8('offline'), qos: 1, retain: false };
/** May publish under data/ only. */
const DATA_ONLY = token([{ filter: 'data/#', rights: ['pub'] }]);

function publish(topic: string, qos: QoS, packetId?: number, extra: Partial<PublishPacket> = {}): PublishPacket {
  return { type: 'publish', topic, payload: utf8('hello'), qos, retain: false, dup: false, ...(packetId === undefined ? {} : { packetId }), ...extra };
}

/** A harness with connection c1 connected (5.0 unless told). */
function connected(connect: Partial<ConnectPacket> = V5, options: OpenOptions = {}, config = CONFIG): SessionHarness {
  const h = new SessionHarness(config);
  h.connect('c1', connect, options);
  return h;
}

/** The route effects of the last input. */
function routes(h: SessionHarness): Route[] {
  return h.of('route');
}

/** The one route of the last input. */
function onlyRoute(h: SessionHarness): Route {
  const all = routes(h);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** The routed message of a plain PUBLISH from device-1, as its shard receives it. */
function routedOf(packet: PublishPacket, extra: Record<string, unknown> = {}) {
  return { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, origin: ORIGIN, ...extra };
}

const disconnect = (reasonCode: number): Packet => serverDisconnectWith(reasonCode);

/** QoS 2 ids the store holds as routed everywhere (PUBREC may leave), and those stored before routing. */
const routedIds = (h: SessionHarness) => new Set([...h.store.inboundQos2].filter(([, key]) => key === null).map(([id]) => id));
const pendingIds = (h: SessionHarness) => new Map([...h.store.inboundQos2].filter(([, key]) => key !== null));

describe('PUBLISH QoS 0', () => {
  it('(3.1.1 §4.3.1) is routed once, without an ack, and never acknowledged', () => {
    const h = connected();
    const packet = publish('sensors/t', 0);
    expect(h.packet('c1', packet)).toStrictEqual([{ type: 'route', tenant: TENANT, message: routedOf(packet) }]);
  });

  it('(3.1.1 §4.3.1) 3.1.1: is routed the same', () => {
    const h = connected({ protocolVersion: 4 });
    const packet = publish('sensors/t', 0);
    expect(h.packet('c1', packet)).toStrictEqual([{ type: 'route', tenant: TENANT, message: routedOf(packet) }]);
  });

  it('[DESIGN §5] a QoS 0 PUBLISH the ACL refuses is dropped: no route, no answer, the connection stays', () => {
    const h = connected(V5, { token: DATA_ONLY });
    expect(h.packet('c1', publish('secret/x', 0))).toStrictEqual([]);
    expect(h.packet('c1', publish('data/x', 0))).toHaveLength(1);
  });

  it('[DESIGN §3] a QoS 0 PUBLISH over maxMessageSize is dropped and counted', () => {
    const h = connected(V5, { token: token([{ filter: '#', rights: ['pub'] }], { maxMessageSize: 2 }) });
    // [issue 13] the limit hit is an entry of the tenant's event log too.
    expect(h.packet('c1', publish('a', 0))).toStrictEqual([
      { type: 'persist', ops: [{ op: 'count', counter: 'limit_message_size', n: 1 }] },
      {
        type: 'log',
        tenant: TENANT,
        event: { at: T0, kind: 'limit', limit: 'message_size', count: 1, message: "message larger than the token's maxMessageSize refused", clientId: 'device-1', tokenId: 'tok1' },
      },
    ]);
    expect(h.store.counters.get('limit_message_size')).toBe(1);
  });
});

describe('PUBLISH QoS 1', () => {
  it('[MQTT-4.3.2-2] PUBACK leaves only after the route reported the message stored everywhere', () => {
    const h = connected();
    const packet = publish('sensors/t', 1, 5);
    expect(h.packet('c1', packet)).toStrictEqual([
      { type: 'route', tenant: TENANT, message: routedOf(packet), ack: { connectionId: 'c1', routeId: 1, epoch: 1 } },
    ]);
    expect(h.sent()).toStrictEqual([]);
    expect(h.routed(onlyRoute(h), true)).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'puback', packetId: 5 }] }]);
  });

  it('[MQTT-4.6.0-2] PUBACKs leave in PUBLISH order when routes settle out of order', () => {
    const h = connected();
    const settled: Route[] = [];
    for (const id of [11, 12, 13]) {
      h.packet('c1', publish('t', 1, id));
      settled.push(onlyRoute(h));
    }
    h.routed(settled[2]!);
    expect(h.sent()).toStrictEqual([]);
    h.routed(settled[1]!);
    expect(h.sent()).toStrictEqual([]);
    h.routed(settled[0]!);
    expect(h.sent()).toStrictEqual([
      { type: 'puback', packetId: 11 },
      { type: 'puback', packetId: 12 },
      { type: 'puback', packetId: 13 },
    ]);
  });

  it('[MQTT-4.6.0-2] a refused PUBLISH waits behind an earlier one still being routed', () => {
    const h = connected(V5, { token: DATA_ONLY });
    h.packet('c1', publish('data/a', 1, 1));
    const first = onlyRoute(h);
    expect(h.packet('c1', publish('secret', 1, 2))).toStrictEqual([]);
    h.routed(first);
    expect(h.sent()).toStrictEqual([
      { type: 'puback', packetId: 1 },
      { type: 'puback', packetId: 2, reasonCode: ReasonCode.NotAuthorized },
    ]);
  });

  it('[DESIGN §3] (5.0 §3.1.2.5) a failed route sends no PUBACK: 5.0 DISCONNECT 0x80, the connection closes, and no will: the failure is ours', () => {
    const h = connected({ protocolVersion: 5, will: WILL });
    h.packet('c1', publish('t', 1, 1));
    h.routed(onlyRoute(h), false);
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.UnspecifiedError)]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
    // Session Expiry 0: the session ended with its connection, the will with it.
    expect(h.store.record).toBeUndefined();
  });

  it('[DESIGN §3] (5.0 §3.1.2.5) a failed route of a persistent session keeps the session for the resend, without the will', () => {
    const h = connected({ ...PERSISTENT_V5, will: { ...WILL, properties: { willDelayInterval: 30 } } });
    h.packet('c1', publish('t', 1, 1));
    h.routed(onlyRoute(h), false);
    expect(routes(h)).toStrictEqual([]);
    expect(h.of('setAlarm')).toStrictEqual([{ type: 'setAlarm', at: T0 + 3_600_000 }]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null, willAt: null });
  });

  it('[DESIGN §3] 3.1.1: a failed route closes the connection without any packet', () => {
    const h = connected({ protocolVersion: 4 });
    h.packet('c1', publish('t', 1, 1));
    h.routed(onlyRoute(h), false);
    expect(h.sent()).toStrictEqual([]);
    expect(h.closed('c1')).toBe(true);
  });

  it('[DESIGN §3] (5.0 reason 0x97) a QoS 1 publish an overloaded shard refused gets PUBACK 0x97 and the 5.0 client stays connected', () => {
    const h = connected({ protocolVersion: 5, will: WILL });
    h.packet('c1', publish('t', 1, 1));
    h.routed(onlyRoute(h), false, true);
    expect(h.sent()).toStrictEqual([{ type: 'puback', packetId: 1, reasonCode: ReasonCode.QuotaExceeded }]);
    expect(h.closed('c1')).toBe(false);
    expect(h.store.counters.get('publish_overloaded')).toBe(1);
  });

  it('[DESIGN §3] an overloaded route of a QoS 2 or 3.1.1 publish closes without an ack and without the will (5.0: DISCONNECT 0x89): the client resends', () => {
    const v5 = connected({ protocolVersion: 5, will: WILL });
    v5.packet('c1', publish('t', 2, 1));
    v5.routed(onlyRoute(v5), false, true);
    expect(v5.sent()).toStrictEqual([disconnect(ReasonCode.ServerBusy)]);
    expect(routes(v5)).toStrictEqual([]);
    const v4 = connected({ protocolVersion: 4 });
    v4.packet('c1', publish('t', 1, 1));
    v4.routed(onlyRoute(v4), false, true);
    expect(v4.sent()).toStrictEqual([]);
    expect(v4.closed('c1')).toBe(true);
  });

  it('[DESIGN §3] a route failing after others were queued: none of their PUBACKs leaves, even those that succeeded', () => {
    const h = connected();
    h.packet('c1', publish('t', 1, 1));
    const first = onlyRoute(h);
    h.packet('c1', publish('t', 1, 2));
    const second = onlyRoute(h);
    h.routed(second, true);
    h.routed(first, false);
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.UnspecifiedError)]);
    expect(h.history.some((e) => e.type === 'send' && e.packets.some((p) => p.type === 'puback'))).toBe(false);
  });

  it('[DESIGN §5] 5.0: a QoS 1 PUBLISH the ACL refuses gets PUBACK 0x87 at once and is not routed', () => {
    const h = connected(V5, { token: DATA_ONLY });
    expect(h.packet('c1', publish('secret', 1, 4))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'puback', packetId: 4, reasonCode: ReasonCode.NotAuthorized }] },
    ]);
  });

  it('[MQTT-3.3.5-2] 3.1.1: a QoS 1 PUBLISH the ACL refuses gets a plain PUBACK and is dropped', () => {
    const h = connected({ protocolVersion: 4 }, { token: DATA_ONLY });
    expect(h.packet('c1', publish('secret', 1, 4))).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'puback', packetId: 4 }] }]);
    expect(h.closed('c1')).toBe(false);
  });

  it('[DESIGN §3] 5.0: a QoS 1 PUBLISH over maxMessageSize gets PUBACK 0x97 and is counted', () => {
    const h = connected(V5, { token: token([{ filter: '#', rights: ['pub'] }], { maxMessageSize: 2 }) });
    expect(h.packet('c1', publish('a', 1, 4))).toStrictEqual([
      { type: 'persist', ops: [{ op: 'count', counter: 'limit_message_size', n: 1 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'puback', packetId: 4, reasonCode: ReasonCode.QuotaExceeded }] },
      {
        type: 'log',
        tenant: TENANT,
        event: { at: T0, kind: 'limit', limit: 'message_size', count: 1, message: "message larger than the token's maxMessageSize refused", clientId: 'device-1', tokenId: 'tok1' },
      },
    ]);
  });
});

describe('PUBLISH QoS 2 (method B)', () => {
  it('[MQTT-4.3.3-2] routed once; the id is stored with its key before routing, and PUBREC sent only after routing succeeded', () => {
    const h = connected();
    const packet = publish('t', 2, 9);
    const effects = h.packet('c1', packet);
    const key = onlyRoute(h).message.exactlyOnceKey!;
    // The publisher's session, the id, the time, the route and the content's fingerprint.
    expect(key.startsWith(`${ORIGIN}\u0000${9}\u0000${T0}\u0000${1}\u0000`)).toBe(true);
    expect(effects).toStrictEqual([
      { type: 'persist', ops: [{ op: 'addPendingQos2', packetId: 9, key }] },
      { type: 'route', tenant: TENANT, message: routedOf(packet, { exactlyOnceKey: key }), ack: { connectionId: 'c1', routeId: 1, epoch: 1, inboundQos2: 9 } },
    ]);
    expect(routedIds(h)).toStrictEqual(new Set());
    expect(h.routed(onlyRoute(h))).toStrictEqual([
      { type: 'persist', ops: [{ op: 'addInboundQos2', packetId: 9 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 9 }] },
    ]);
    expect(routedIds(h)).toStrictEqual(new Set([9]));
    expect(pendingIds(h)).toStrictEqual(new Map());
  });

  it('[MQTT-4.3.3-2] a duplicate PUBLISH with the same id before PUBREL gets PUBREC and is not routed again', () => {
    const h = connected();
    h.packet('c1', publish('t', 2, 9));
    h.routed(onlyRoute(h));
    expect(h.packet('c1', publish('t', 2, 9, { dup: true }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 9 }] },
    ]);
  });

  it('[MQTT-4.3.3-2] a duplicate arriving while the first is being routed waits for it, and is not routed', () => {
    const h = connected();
    h.packet('c1', publish('t', 2, 9));
    const first = onlyRoute(h);
    expect(h.packet('c1', publish('t', 2, 9, { dup: true }))).toStrictEqual([]);
    h.routed(first);
    expect(h.sent()).toStrictEqual([
      { type: 'pubrec', packetId: 9 },
      { type: 'pubrec', packetId: 9 },
    ]);
    expect(routes(h)).toStrictEqual([]);
  });

  it('[MQTT-4.3.3-2] PUBREL gets PUBCOMP and the id is forgotten: the next PUBLISH with it is a new message', () => {
    const h = connected();
    h.packet('c1', publish('t', 2, 9));
    h.routed(onlyRoute(h));
    expect(h.packet('c1', { type: 'pubrel', packetId: 9 })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'deleteInboundQos2', packetId: 9 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubcomp', packetId: 9 }] },
    ]);
    expect(routedIds(h)).toStrictEqual(new Set());
    h.packet('c1', publish('t', 2, 9));
    expect(onlyRoute(h).ack).toStrictEqual({ connectionId: 'c1', routeId: 2, epoch: 1, inboundQos2: 9 });
  });

  it('(5.0 §3.7.2.1) 5.0: PUBREL for an unknown id gets PUBCOMP 0x92 Packet Identifier not found', () => {
    const h = connected();
    expect(h.packet('c1', { type: 'pubrel', packetId: 3 })).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubcomp', packetId: 3, reasonCode: ReasonCode.PacketIdentifierNotFound }] },
    ]);
  });

  it('[MQTT-4.3.3-2] 3.1.1: PUBREL for an unknown id gets a plain PUBCOMP', () => {
    const h = connected({ protocolVersion: 4 });
    expect(h.packet('c1', { type: 'pubrel', packetId: 3 })).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'pubcomp', packetId: 3 }] }]);
  });

  it('[MQTT-4.3.3-2] the id survives an eviction: the resent PUBLISH gets PUBREC without a second route', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('t', 2, 9));
    h.routed(onlyRoute(h));
    h.restart();
    expect(h.packet('c1', publish('t', 2, 9, { dup: true }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 9 }] },
    ]);
    h.packet('c1', { type: 'pubrel', packetId: 9 });
    expect(h.sent()).toStrictEqual([{ type: 'pubcomp', packetId: 9 }]);
    expect(h.store.inboundQos2).toStrictEqual(new Map());
  });

  it('[MQTT-4.3.3-2] the id survives an eviction and a reconnect of a persistent session', () => {
    const h = connected(PERSISTENT_V4);
    h.packet('c1', publish('t', 2, 9));
    h.routed(onlyRoute(h));
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.restart();
    h.connect('c2', PERSISTENT_V4);
    expect(h.packet('c2', publish('t', 2, 9, { dup: true }))).toStrictEqual([
      { type: 'send', connectionId: 'c2', packets: [{ type: 'pubrec', packetId: 9 }] },
    ]);
  });

  it('[DESIGN §3] a failed route sends no PUBREC and closes; the id stays pending, and the resend (DUP) is routed again under the same key', () => {
    const h = connected(PERSISTENT_V4);
    h.packet('c1', publish('t', 2, 4));
    const first = onlyRoute(h);
    h.routed(first, false);
    expect(h.sent()).toStrictEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(routedIds(h)).toStrictEqual(new Set());
    expect([...pendingIds(h).keys()]).toStrictEqual([4]);
    h.connect('c2', PERSISTENT_V4);
    h.packet('c2', publish('t', 2, 4, { dup: true }));
    // Route ids are the session object's, not the connection's: the resend's route is the second.
    const again = onlyRoute(h);
    expect(again.ack).toStrictEqual({ connectionId: 'c2', routeId: 2, epoch: 1, inboundQos2: 4 });
    expect(again.message.exactlyOnceKey).toBe(first.message.exactlyOnceKey);
  });

  it('[MQTT-4.3.3-2] a crash after the id was stored but before PUBREC: the DUP resend is routed again under the same key, then PUBREC', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('t', 2, 7));
    const first = onlyRoute(h);
    // The runtime dies: the route's outcome never arrives, the socket is gone.
    h.restart();
    h.connect('c2', PERSISTENT_V5);
    h.packet('c2', publish('t', 2, 7, { dup: true }));
    const again = onlyRoute(h);
    expect(again.message.exactlyOnceKey).toBe(first.message.exactlyOnceKey);
    expect(h.sent('c2')).toStrictEqual([]);
    h.routed(again);
    expect(h.sent('c2')).toStrictEqual([{ type: 'pubrec', packetId: 7 }]);
    expect(routedIds(h)).toStrictEqual(new Set([7]));
  });

  it('[MQTT-4.3.3-2] after a crash, the same message resent without DUP (as mqtt.js does from its store) is still routed under its key', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('t', 2, 7));
    const first = onlyRoute(h);
    h.restart();
    h.connect('c2', PERSISTENT_V5);
    h.packet('c2', publish('t', 2, 7));
    expect(onlyRoute(h).message.exactlyOnceKey).toBe(first.message.exactlyOnceKey);
  });

  it('[MQTT-2.2.1-3] after a crash, other content on a pending id is a new message (the client reused the id): a new key', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('t', 2, 7));
    const first = onlyRoute(h);
    h.restart();
    h.advance(1000);
    h.connect('c2', PERSISTENT_V5);
    h.packet('c2', publish('t', 2, 7, { payload: utf8('something else') }));
    expect(onlyRoute(h).message.exactlyOnceKey).not.toBe(first.message.exactlyOnceKey);
  });

  it('(5.0 §4.3.3) 5.0: a refused QoS 2 PUBLISH ends at PUBREC 0x87, not routed and its id not stored', () => {
    const h = connected(V5, { token: DATA_ONLY });
    expect(h.packet('c1', publish('secret', 2, 6))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 6, reasonCode: ReasonCode.NotAuthorized }] },
    ]);
    expect(h.store.inboundQos2).toStrictEqual(new Map());
    expect(h.state.session.inboundQos2).toStrictEqual(new Set());
    // The exchange has ended: a PUBREL for it names an id the server does not hold.
    expect(h.packet('c1', { type: 'pubrel', packetId: 6 })).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubcomp', packetId: 6, reasonCode: ReasonCode.PacketIdentifierNotFound }] },
    ]);
  });

  it('[MQTT-3.3.5-2] 3.1.1: a refused QoS 2 PUBLISH is acknowledged and dropped, and the exchange runs to PUBCOMP', () => {
    const h = connected({ protocolVersion: 4 }, { token: DATA_ONLY });
    expect(h.packet('c1', publish('secret', 2, 6))).toStrictEqual([
      { type: 'persist', ops: [{ op: 'addInboundQos2', packetId: 6 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 6 }] },
    ]);
    expect(h.packet('c1', publish('secret', 2, 6, { dup: true }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 6 }] },
    ]);
    expect(h.packet('c1', { type: 'pubrel', packetId: 6 })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'deleteInboundQos2', packetId: 6 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubcomp', packetId: 6 }] },
    ]);
  });
});

describe('PUBLISH QoS 2 across a take-over while routing', () => {
  // The client's first connection dies while its QoS 2 PUBLISH is being routed; it reconnects to the same
  // persistent session and resends. The id must still be kept exactly once, and no PUBREC may leave for a
  // message not yet stored.
  it('[MQTT-4.3.3-2] a route that succeeds after the take-over still stores the id for the resumed session', () => {
    const h = connected(PERSISTENT_V4);
    h.packet('c1', publish('t', 2, 9));
    const first = onlyRoute(h);
    h.connect('c2', PERSISTENT_V4);
    h.routed(first, true);
    expect.soft(routedIds(h)).toStrictEqual(new Set([9]));
    // An eviction now, then the client's resend: it must not be routed a second time.
    h.restart();
    h.packet('c2', publish('t', 2, 9, { dup: true }));
    expect(routes(h)).toStrictEqual([]);
    expect(h.sent('c2')).toStrictEqual([{ type: 'pubrec', packetId: 9 }]);
  });

  it('[MQTT-4.3.3-2] [DESIGN §3] a resend on the new connection gets no PUBREC before the first route stored the message', () => {
    const h = connected(PERSISTENT_V4);
    h.packet('c1', publish('t', 2, 9));
    const first = onlyRoute(h);
    h.connect('c2', PERSISTENT_V4);
    h.packet('c2', publish('t', 2, 9, { dup: true }));
    expect(h.sent('c2')).toStrictEqual([]);
    h.routed(first, false);
    expect(h.history.some((e) => e.type === 'send' && e.connectionId === 'c2' && e.packets.some((p) => p.type === 'pubrec'))).toBe(false);
  });
});

describe('PUBLISH topic aliases (5.0)', () => {
  it.each([
    ['[MQTT-3.3.2-8 v5]', 0],
    ['[MQTT-3.3.2-9 v5]', CONFIG.topicAliasMaximum + 1],
  ])('%s Topic Alias %i: DISCONNECT 0x94 Topic Alias invalid, not routed', (_spec, topicAlias) => {
    const h = connected();
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias } }));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.TopicAliasInvalid)]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
  });

  it('[MQTT-3.3.2-12 v5] the Topic Alias Maximum we announced is accepted', () => {
    const h = connected();
    const packet = publish('a/b', 0, undefined, { properties: { topicAlias: CONFIG.topicAliasMaximum } });
    h.packet('c1', packet);
    expect(onlyRoute(h).message).toStrictEqual(routedOf(packet));
    expect(h.closed('c1')).toBe(false);
  });

  it('(5.0 §3.3.2.3.4) an empty topic with an alias the client never defined: DISCONNECT 0x82 Protocol Error', () => {
    const h = connected();
    h.packet('c1', publish('', 0, undefined, { properties: { topicAlias: 3 } }));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
  });

  it('(5.0 §3.3.2.1) an empty topic without an alias: DISCONNECT 0x82 Protocol Error', () => {
    const h = connected();
    h.packet('c1', publish('', 0));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ProtocolError)]);
  });

  it('(5.0 §3.3.2.3.4) a topic with an alias defines it (stored); an empty topic with it then publishes to that topic', () => {
    const h = connected();
    const defining = publish('a/b', 1, 1, { properties: { topicAlias: 3 } });
    expect(h.packet('c1', defining)).toStrictEqual([
      { type: 'persist', ops: [{ op: 'putInboundAlias', alias: 3, topic: 'a/b' }] },
      { type: 'route', tenant: TENANT, message: routedOf(defining), ack: { connectionId: 'c1', routeId: 1, epoch: 1 } },
    ]);
    expect(h.store.inboundAliases).toStrictEqual(new Map([[3, 'a/b']]));
    const using = publish('', 0, undefined, { properties: { topicAlias: 3 } });
    expect(h.packet('c1', using)).toStrictEqual([{ type: 'route', tenant: TENANT, message: routedOf({ ...using, topic: 'a/b' }) }]);
  });

  it('(5.0 §3.3.2.3.4) a later topic with the same alias redefines it', () => {
    const h = connected();
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias: 3 } }));
    h.packet('c1', publish('c/d', 0, undefined, { properties: { topicAlias: 3 } }));
    h.packet('c1', publish('', 0, undefined, { properties: { topicAlias: 3 } }));
    expect(onlyRoute(h).message.topic).toBe('c/d');
    expect(h.store.inboundAliases).toStrictEqual(new Map([[3, 'c/d']]));
  });

  it('(5.0 §3.3.2.3.4) an alias outlives an eviction of the object while its connection lives', () => {
    const h = connected();
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias: 3 } }));
    h.restart();
    h.packet('c1', publish('', 0, undefined, { properties: { topicAlias: 3 } }));
    expect(onlyRoute(h).message.topic).toBe('a/b');
  });

  it('[MQTT-3.3.2-7 v5] aliases are not carried to a new connection, even of a resumed session', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias: 3 } }));
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    const connack = h.connect('c2', PERSISTENT_V5);
    expect(connack.find((e) => e.type === 'persist')).toMatchObject({ ops: expect.arrayContaining([{ op: 'clearInboundAliases' }]) });
    expect(h.store.inboundAliases).toStrictEqual(new Map());
    h.packet('c2', publish('', 0, undefined, { properties: { topicAlias: 3 } }));
    expect(h.sent('c2')).toStrictEqual([disconnect(ReasonCode.ProtocolError)]);
    expect(routes(h)).toStrictEqual([]);
  });

  it('[MQTT-3.3.2-7 v5] aliases are not carried over a take-over either', () => {
    const h = connected(PERSISTENT_V5);
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias: 3 } }));
    h.connect('c2', PERSISTENT_V5);
    h.packet('c2', publish('', 0, undefined, { properties: { topicAlias: 3 } }));
    expect(h.sent('c2')).toStrictEqual([disconnect(ReasonCode.ProtocolError)]);
  });
});

describe('PUBLISH with an invalid topic name', () => {
  it.each(['a/+', 'a/#', '#'])('[MQTT-3.3.2-2] 5.0 %j: DISCONNECT 0x90, no ack, not routed, the will published', (topic) => {
    const h = connected({ protocolVersion: 5, will: WILL });
    h.packet('c1', publish(topic, 1, 1));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.TopicNameInvalid)]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h).map((r) => r.message.topic)).toStrictEqual([WILL.topic]);
  });

  it('[MQTT-3.3.2-2] [MQTT-4.8.0-1] 3.1.1: the connection closes without a packet', () => {
    const h = connected({ protocolVersion: 4 });
    h.packet('c1', publish('a/+', 1, 1));
    expect(h.sent()).toStrictEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
  });

  it('[MQTT-4.7.3-1] 3.1.1: an empty topic closes the connection', () => {
    const h = connected({ protocolVersion: 4 });
    h.packet('c1', publish('', 0));
    expect(h.closed('c1')).toBe(true);
  });
});

describe('PUBLISH and our Receive Maximum (5.0)', () => {
  const RM2 = { ...CONFIG, receiveMaximum: 2 };

  it('[MQTT-3.3.4-7 v5] a third unacknowledged QoS 1 PUBLISH: DISCONNECT 0x93 Receive Maximum exceeded', () => {
    const h = connected(V5, {}, RM2);
    h.packet('c1', publish('t', 1, 1));
    h.packet('c1', publish('t', 1, 2));
    expect(h.closed('c1')).toBe(false);
    h.packet('c1', publish('t', 1, 3));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ReceiveMaximumExceeded)]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
  });

  it('[MQTT-3.3.4-7 v5] a PUBACK sent frees a slot', () => {
    const h = connected(V5, {}, RM2);
    h.packet('c1', publish('t', 1, 1));
    const first = onlyRoute(h);
    h.packet('c1', publish('t', 1, 2));
    h.routed(first);
    expect(h.sent()).toStrictEqual([{ type: 'puback', packetId: 1 }]);
    h.packet('c1', publish('t', 1, 3));
    expect(onlyRoute(h).ack).toStrictEqual({ connectionId: 'c1', routeId: 3, epoch: 1 });
    h.packet('c1', publish('t', 1, 4));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ReceiveMaximumExceeded)]);
  });

  it('[MQTT-3.3.4-7 v5] a routed ack that cannot leave yet (an earlier one is pending) does not free its slot', () => {
    const h = connected(V5, {}, RM2);
    h.packet('c1', publish('t', 1, 1));
    h.packet('c1', publish('t', 1, 2));
    h.routed(onlyRoute(h));
    expect(h.sent()).toStrictEqual([]);
    h.packet('c1', publish('t', 1, 3));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ReceiveMaximumExceeded)]);
  });

  it('[MQTT-3.3.4-7 v5] a QoS 2 PUBLISH holds its slot through PUBREC', () => {
    const h = connected(V5, {}, RM2);
    for (const id of [1, 2]) {
      h.packet('c1', publish('t', 2, id));
      h.routed(onlyRoute(h));
      expect(h.sent()).toStrictEqual([{ type: 'pubrec', packetId: id }]);
    }
    h.packet('c1', publish('t', 1, 3));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.ReceiveMaximumExceeded)]);
  });

  it('[MQTT-3.3.4-7 v5] a QoS 2 PUBLISH frees its slot at PUBCOMP', () => {
    const h = connected(V5, {}, RM2);
    for (const id of [1, 2]) {
      h.packet('c1', publish('t', 2, id));
      h.routed(onlyRoute(h));
    }
    h.packet('c1', { type: 'pubrel', packetId: 1 });
    expect(h.sent()).toStrictEqual([{ type: 'pubcomp', packetId: 1 }]);
    h.packet('c1', publish('t', 1, 3));
    expect(routes(h)).toHaveLength(1);
    expect(h.closed('c1')).toBe(false);
  });

  it('[MQTT-3.3.4-7 v5] a QoS 2 PUBLISH refused with an error PUBREC frees its slot at once', () => {
    const h = connected(V5, { token: DATA_ONLY }, RM2);
    h.packet('c1', publish('secret', 2, 1));
    h.packet('c1', publish('secret', 2, 2));
    expect(h.sent()).toStrictEqual([{ type: 'pubrec', packetId: 2, reasonCode: ReasonCode.NotAuthorized }]);
    h.packet('c1', publish('data/a', 1, 3));
    h.packet('c1', publish('data/b', 1, 4));
    expect(h.closed('c1')).toBe(false);
    expect(h.history.filter((e) => e.type === 'route')).toHaveLength(2);
  });

  it('[MQTT-3.3.4-7 v5] a refused QoS 1 PUBLISH answered at once frees its slot', () => {
    const h = connected(V5, { token: DATA_ONLY }, RM2);
    for (const id of [1, 2, 3]) h.packet('c1', publish('secret', 1, id));
    h.packet('c1', publish('data/a', 1, 4));
    h.packet('c1', publish('data/b', 1, 5));
    expect(h.closed('c1')).toBe(false);
  });

  it('[MQTT-4.3.3-2] a duplicate of a QoS 2 id awaiting PUBREL takes no second slot', () => {
    const h = connected(V5, {}, RM2);
    h.packet('c1', publish('t', 2, 1));
    h.routed(onlyRoute(h));
    h.packet('c1', publish('t', 1, 2));
    h.packet('c1', publish('t', 2, 1, { dup: true }));
    expect(h.closed('c1')).toBe(false);
    expect(h.sent()).toStrictEqual([]); // behind the PUBACK of 2, still being routed
  });

  it('[MQTT-3.3.4-7 v5] QoS 0 PUBLISHes take no slot', () => {
    const h = connected(V5, {}, RM2);
    h.packet('c1', publish('t', 1, 1));
    h.packet('c1', publish('t', 1, 2));
    for (let i = 0; i < 5; i++) h.packet('c1', publish('t', 0));
    expect(h.closed('c1')).toBe(false);
  });

  it('(5.0 §3.3.4) Receive Maximum is 5.0 only: a 3.1.1 client is never cut off for unacknowledged PUBLISHes', () => {
    const h = connected({ protocolVersion: 4 }, {}, RM2);
    for (const id of [1, 2, 3, 4]) h.packet('c1', publish('t', 1, id));
    expect(h.closed('c1')).toBe(false);
  });
});

describe('PUBLISH with Payload Format Indicator 1 (5.0)', () => {
  const NOT_UTF8 = new Uint8Array([0xc3, 0x28]);
  const declared: Properties = { payloadFormatIndicator: 1 };

  it('(5.0 §3.3.2.3.2) QoS 0 with a payload that is not UTF-8: DISCONNECT 0x99, not routed', () => {
    const h = connected();
    h.packet('c1', publish('t', 0, undefined, { payload: NOT_UTF8, properties: declared }));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.PayloadFormatInvalid)]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
  });

  it('(5.0 §3.3.2.3.2) QoS 1 with a payload that is not UTF-8: PUBACK 0x99, not routed, the connection stays', () => {
    const h = connected();
    expect(h.packet('c1', publish('t', 1, 7, { payload: NOT_UTF8, properties: declared }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'puback', packetId: 7, reasonCode: ReasonCode.PayloadFormatInvalid }] },
    ]);
  });

  it('(5.0 §3.3.2.3.2) QoS 2 with a payload that is not UTF-8: PUBREC 0x99, not routed, nothing stored', () => {
    const h = connected();
    expect(h.packet('c1', publish('t', 2, 7, { payload: NOT_UTF8, properties: declared }))).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrec', packetId: 7, reasonCode: ReasonCode.PayloadFormatInvalid }] },
    ]);
  });

  it('[MQTT-3.3.2-4 v5] a well-formed UTF-8 payload is routed with the Payload Format Indicator unaltered', () => {
    const h = connected();
    const packet = publish('t', 0, undefined, { payload: utf8('21 °C'), properties: declared });
    h.packet('c1', packet);
    expect(onlyRoute(h).message).toStrictEqual(routedOf(packet, { properties: { payloadFormatIndicator: 1 } }));
  });
});

describe('PUBLISH rate (the token\'s publishRate)', () => {
  const RATE_2 = token([{ filter: '#', rights: ['pub'] }], { publishRate: 2 });

  it('[DESIGN §5] the third PUBLISH within one second: DISCONNECT 0x96, counted as limit_publish_rate', () => {
    const h = connected(V5, { token: RATE_2 });
    h.packet('c1', publish('t', 0));
    h.advance(300);
    h.packet('c1', publish('t', 0));
    expect(routes(h)).toHaveLength(1);
    h.advance(100);
    expect(h.packet('c1', publish('t', 0)).slice(0, 3)).toStrictEqual([
      { type: 'persist', ops: expect.arrayContaining([{ op: 'count', counter: 'limit_publish_rate', n: 1 }]) },
      { type: 'saveConnection', connection: expect.objectContaining({ id: 'c1', phase: 'closed' }) },
      { type: 'send', connectionId: 'c1', packets: [disconnect(ReasonCode.MessageRateTooHigh)] },
    ]);
    expect(h.closed('c1')).toBe(true);
    expect(routes(h)).toStrictEqual([]);
    expect(h.store.counters.get('limit_publish_rate')).toBe(1);
  });

  it('[DESIGN §5] after time passes a PUBLISH passes again (the bucket refills at the rate)', () => {
    const h = connected(V5, { token: RATE_2 });
    h.packet('c1', publish('t', 0));
    h.packet('c1', publish('t', 0));
    h.advance(500); // one token back
    h.packet('c1', publish('t', 0));
    expect(routes(h)).toHaveLength(1);
    h.packet('c1', publish('t', 0));
    expect(h.sent()).toStrictEqual([disconnect(ReasonCode.MessageRateTooHigh)]);
  });

  it('[DESIGN §5] a full second refills the whole burst', () => {
    const h = connected(V5, { token: RATE_2 });
    h.packet('c1', publish('t', 0));
    h.packet('c1', publish('t', 0));
    h.advance(1000);
    h.packet('c1', publish('t', 1, 1));
    h.packet('c1', publish('t', 1, 2));
    expect(h.closed('c1')).toBe(false);
    expect(h.history.filter((e) => e.type === 'route')).toHaveLength(4);
  });

  it('[DESIGN §5] 3.1.1: past the rate the connection closes without a packet', () => {
    const h = connected({ protocolVersion: 4 }, { token: RATE_2 });
    for (let i = 0; i < 3; i++) h.packet('c1', publish('t', 0));
    expect(h.sent()).toStrictEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.store.counters.get('limit_publish_rate')).toBe(1);
  });

  it('[DESIGN §5] a token without publishRate is never limited', () => {
    const h = connected(V5, { token: token([{ filter: '#', rights: ['pub'] }]) });
    for (let i = 0; i < 50; i++) h.packet('c1', publish('t', 0));
    expect(h.closed('c1')).toBe(false);
  });
});

describe('the routed message', () => {
  const RETAINED_10: ConnectionToken = { ...token([{ filter: '#', rights: ['pub'] }]), maxRetained: 10 };
  const properties: Properties = {
    payloadFormatIndicator: 1,
    contentType: 'application/json',
    responseTopic: 'replies/device-1',
    correlationData: new Uint8Array([1, 2, 3]),
    userProperties: [
      ['k', 'v'],
      ['k', 'w'],
    ],
    messageExpiryInterval: 60,
    topicAlias: 4,
  };

  it('[MQTT-3.3.2-4 v5] carries origin, the forwardable properties only, expiresAt = now + Message Expiry Interval, and the retained share', () => {
    const h = connected(V5, { token: RETAINED_10 });
    h.advance(1234);
    const packet = publish('a/b', 1, 1, { retain: true, payload: utf8('{}'), properties });
    h.packet('c1', packet);
    expect(onlyRoute(h)).toStrictEqual({
      type: 'route',
      tenant: TENANT,
      message: {
        topic: 'a/b',
        payload: utf8('{}'),
        qos: 1,
        retain: true,
        origin: ORIGIN,
        properties: {
          payloadFormatIndicator: 1,
          contentType: 'application/json',
          responseTopic: 'replies/device-1',
          correlationData: new Uint8Array([1, 2, 3]),
          userProperties: [
            ['k', 'v'],
            ['k', 'w'],
          ],
        },
        expiresAt: T0 + 1234 + 60_000,
        retainedLimit: Math.ceil(10 / CONFIG.shardCount),
        tokenId: RETAINED_10.id,
      },
      ack: { connectionId: 'c1', routeId: 1, epoch: 1 },
    });
  });

  it('(5.0 §3.3.2.3.4) a topic set through an alias is routed under the full topic, without the alias', () => {
    const h = connected();
    h.packet('c1', publish('a/b', 0, undefined, { properties: { topicAlias: 4 } }));
    h.packet('c1', publish('', 0, undefined, { properties: { topicAlias: 4, contentType: 'text/plain' } }));
    expect(onlyRoute(h).message).toStrictEqual({ topic: 'a/b', payload: utf8('hello'), qos: 0, retain: false, origin: ORIGIN, properties: { contentType: 'text/plain' } });
  });

  it('[DESIGN §3] without RETAIN there is no retained limit', () => {
    const h = connected(V5, { token: RETAINED_10 });
    h.packet('c1', publish('a/b', 0));
    expect(onlyRoute(h).message).not.toHaveProperty('retainedLimit');
  });

  it('[DESIGN §3] a retained PUBLISH from a token without maxRetained, or anonymous, has no retained limit', () => {
    for (const who of [token([{ filter: '#', rights: ['pub'] }]), null]) {
      const h = connected(V5, { token: who });
      const packet = publish('a/b', 0, undefined, { retain: true });
      h.packet('c1', packet);
      // [issue 13] the publisher's token travels with the message: its shard counts the token's usage.
      expect(onlyRoute(h).message).toStrictEqual(routedOf(packet, who ? { tokenId: who.id } : {}));
    }
  });

  it('[MQTT-3.8.3-3 v5] the origin names this session (tenant and client id) for No Local', () => {
    const h = new SessionHarness();
    h.connect('c1', V5, { clientId: 'sensor-7' });
    h.packet('c1', publish('a/b', 0));
    expect(onlyRoute(h).message.origin).toBe(sessionName(TENANT, 'sensor-7'));
  });

  it('(5.0 §3.3.2.3.3) a PUBLISH without Message Expiry Interval never expires', () => {
    const h = connected();
    h.packet('c1', publish('a/b', 0, undefined, { properties: { userProperties: [['a', 'b']] } }));
    expect(onlyRoute(h).message).not.toHaveProperty('expiresAt');
  });
});

describe('our Receive Maximum and reused packet ids', () => {
  it('[MQTT-3.3.4-7 v5] a QoS 1 PUBLISH reusing the id of a QoS 2 awaiting PUBREL is counted like any other: its PUBACK frees no slot it did not take', () => {
    const h = connected(V5, {}, { ...CONFIG, receiveMaximum: 2 });
    h.packet('c1', publish('t', 2, 7));
    h.routed(onlyRoute(h));
    h.packet('c1', publish('t', 1, 7));
    h.routed(onlyRoute(h));
    // Two unacknowledged: the QoS 2 (until PUBCOMP); the QoS 1 was acknowledged. One more fits, two do not.
    h.packet('c1', publish('t', 1, 8));
    expect(h.closed('c1')).toBe(false);
    h.packet('c1', publish('t', 1, 9));
    expect(h.sent()).toStrictEqual([serverDisconnectWith(ReasonCode.ReceiveMaximumExceeded)]);
  });
});
