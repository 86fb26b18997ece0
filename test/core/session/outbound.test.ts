// Messages to the client through the session state machine: QoS 0 never stored, QoS 1/2 stored before sent,
// the inflight window and the bounded queue, QoS 2 release, expiry, Maximum Packet Size, topic aliases, packet ids.
import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../../core/codec/index.js';
import type { ConnectPacket, Packet, Properties, PublishPacket, QoS } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import type { Delivery } from '../../../core/routing/message.js';
import { OutboundState, type OutboundMessage } from '../../../core/session/state.js';
import { CONFIG, SessionHarness, T0, TENANT, token, type OpenOptions } from './harness.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const FILTER = 't/#';
const V5: Partial<ConnectPacket> = { protocolVersion: 5 };
const PERSISTENT_V4: Partial<ConnectPacket> = { protocolVersion: 4, cleanSession: false };
function persistentV5(properties: Properties = {}): Partial<ConnectPacket> {
  return { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 3600, ...properties } };
}
function v5(properties: Properties): Partial<ConnectPacket> {
  return { protocolVersion: 5, properties };
}

/** A delivery matched by the session's one subscription, `t/#`. */
function msg(payload: string, qos: QoS, extra: Partial<Delivery> = {}): Delivery {
  return { topic: 't/x', payload: utf8(payload), qos, retain: false, filters: [FILTER], ...extra };
}

/** The PUBLISH the client receives for `msg(payload, qos, extra)`. */
function publish(payload: string, qos: QoS, packetId?: number, extra: Partial<PublishPacket> = {}): PublishPacket {
  return { type: 'publish', topic: 't/x', payload: utf8(payload), qos, retain: false, dup: false, ...(packetId === undefined ? {} : { packetId }), ...extra };
}

/** The stored row of an outbound message. */
function row(payload: string, qos: QoS, seq: number, packetId: number | null, state: OutboundState, extra: Partial<OutboundMessage> = {}): OutboundMessage {
  return { topic: 't/x', payload: utf8(payload), qos, retain: false, seq, packetId, state, ...extra };
}

/** c1 connected and subscribed to `t/#` at QoS 2 (the SUBACK already sent). */
function subscriber(connect: Partial<ConnectPacket> = V5, options: OpenOptions = {}, config = CONFIG): SessionHarness {
  const h = new SessionHarness(config);
  h.connect('c1', connect, options);
  h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: FILTER, qos: 2 }] });
  h.subscribed();
  return h;
}

/** A persistent subscriber whose connection has gone: the session is offline. */
function offline(connect: Partial<ConnectPacket> = PERSISTENT_V4, options: OpenOptions = {}, config = CONFIG): SessionHarness {
  const h = subscriber(connect, options, config);
  h.input({ type: 'socketClosed', connectionId: 'c1' });
  return h;
}

/** Reconnects as c2 and returns what followed the CONNACK. */
function reconnect(h: SessionHarness, connect: Partial<ConnectPacket>): Packet[] {
  h.connect('c2', connect);
  const [connack, ...rest] = h.sent('c2');
  expect(connack).toMatchObject({ type: 'connack', sessionPresent: true, reasonCode: 0 });
  return rest;
}

const payloads = (rows: readonly OutboundMessage[]) => rows.map((r) => new TextDecoder().decode(r.payload));

describe('QoS 0 deliveries', () => {
  it('[DESIGN §3] go out at once while connected and never touch storage', () => {
    const h = subscriber();
    const before = h.store.rowsWritten;
    expect(h.deliver(msg('a', 0))).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [publish('a', 0)] }]);
    expect(h.store.rowsWritten).toBe(before);
    expect(h.reply).toStrictEqual({ stale: [], online: true });
  });

  it('[DESIGN §3] are dropped while the session is offline, still without storage', () => {
    const h = offline();
    const before = h.store.rowsWritten;
    expect(h.deliver(msg('a', 0))).toStrictEqual([]);
    expect(h.store.rowsWritten).toBe(before);
    expect(h.reply).toStrictEqual({ stale: [], online: false });
  });

  it('(5.0 §3.3.4) are not held back by a full window', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }));
    h.deliver(msg('one', 1));
    expect(h.deliver(msg('zero', 0))).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [publish('zero', 0)] }]);
  });
});

describe('QoS 1/2 deliveries are stored before they are sent', () => {
  it.each([1, 2] as const)('[DESIGN §3] QoS %i: insertOutbound is in the same step, in the persist effect that comes first', (qos) => {
    const h = subscriber();
    expect(h.deliver(msg('a', qos))).toStrictEqual([
      { type: 'persist', ops: [{ op: 'insertOutbound', message: row('a', qos, 1, 1, OutboundState.Published) }] },
      { type: 'send', connectionId: 'c1', packets: [publish('a', qos, 1)] },
    ]);
    expect([...h.store.outbound.values()]).toStrictEqual([row('a', qos, 1, 1, OutboundState.Published)]);
  });

  it('[DESIGN §4] a QoS 1 delivery to an online persistent subscriber writes two rows: the insert, and the delete at PUBACK', () => {
    const h = subscriber(PERSISTENT_V4);
    const start = h.store.rowsWritten;
    h.deliver(msg('a', 1));
    expect(h.store.rowsWritten - start).toBe(1);
    expect(h.packet('c1', { type: 'puback', packetId: 1 })).toStrictEqual([{ type: 'persist', ops: [{ op: 'deleteOutbound', seq: 1 }] }]);
    expect(h.store.rowsWritten - start).toBe(2);
    expect(h.store.outbound.size).toBe(0);
  });

  it('[DESIGN §4] a QoS 2 delivery writes three rows: insert, released at PUBREC, delete at PUBCOMP', () => {
    const h = subscriber(PERSISTENT_V4);
    const start = h.store.rowsWritten;
    h.deliver(msg('a', 2));
    h.packet('c1', { type: 'pubrec', packetId: 1 });
    h.packet('c1', { type: 'pubcomp', packetId: 1 });
    expect(h.store.rowsWritten - start).toBe(3);
    expect(h.store.outbound.size).toBe(0);
  });

  it('(3.1.1 §4.3.2) a duplicate PUBACK changes nothing', () => {
    const h = subscriber();
    h.deliver(msg('a', 1));
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(h.packet('c1', { type: 'puback', packetId: 1 })).toStrictEqual([]);
  });
});

describe('the inflight window', () => {
  it('[MQTT-3.3.4-9 v5] with the client\'s Receive Maximum 2 only two are in flight; the rest queue and enter in order as PUBACKs arrive', () => {
    const h = subscriber(v5({ receiveMaximum: 2 }));
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1));
    expect(h.sent()).toStrictEqual([publish('m1', 1, 1), publish('m2', 1, 2)]);
    expect(payloads(h.store.queued())).toStrictEqual(['m3', 'm4']);
    expect(h.packet('c1', { type: 'puback', packetId: 1 })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'deleteOutbound', seq: 1 }] },
      { type: 'readQueue', afterSeq: 0, limit: 1 },
      { type: 'persist', ops: [{ op: 'markSent', seq: 3, packetId: 3 }] },
      { type: 'send', connectionId: 'c1', packets: [publish('m3', 1, 3)] },
    ]);
    h.packet('c1', { type: 'puback', packetId: 2 });
    expect(h.sent()).toStrictEqual([publish('m4', 1, 4)]);
    h.packet('c1', { type: 'puback', packetId: 3 });
    h.packet('c1', { type: 'puback', packetId: 4 });
    expect(h.store.outbound.size).toBe(0);
  });

  it('[MQTT-3.3.4-9 v5] a delivery arriving while messages are queued goes behind them', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }));
    h.deliver(msg('m1', 1));
    h.deliver(msg('m2', 1));
    h.deliver(msg('m3', 2));
    expect(h.sent()).toStrictEqual([]);
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(h.sent()).toStrictEqual([publish('m2', 1, 2)]);
    h.packet('c1', { type: 'puback', packetId: 2 });
    expect(h.sent()).toStrictEqual([publish('m3', 2, 3)]);
  });

  it('[MQTT-3.3.4-9 v5] the window is maximumInflight when that is below the client\'s Receive Maximum', () => {
    const h = subscriber(v5({ receiveMaximum: 10 }), {}, { ...CONFIG, maximumInflight: 3 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1));
    expect(h.sent()).toStrictEqual([publish('m1', 1, 1), publish('m2', 1, 2), publish('m3', 1, 3)]);
  });

  it('[DESIGN §3] 3.1.1 (no Receive Maximum): the window is maximumInflight', () => {
    const h = subscriber({ protocolVersion: 4 }, {}, { ...CONFIG, maximumInflight: 2 });
    h.deliver(msg('m1', 1), msg('m2', 2), msg('m3', 1));
    expect(h.sent()).toStrictEqual([publish('m1', 1, 1), publish('m2', 2, 2)]);
  });

  it('[MQTT-3.3.4-9 v5] a QoS 2 message holds its slot through PUBREC and frees it at PUBCOMP', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }));
    h.deliver(msg('m1', 2), msg('m2', 2));
    h.packet('c1', { type: 'pubrec', packetId: 1 });
    expect(h.sent()).toStrictEqual([{ type: 'pubrel', packetId: 1 }]);
    h.packet('c1', { type: 'pubcomp', packetId: 1 });
    expect(h.sent()).toStrictEqual([publish('m2', 2, 2)]);
  });

  it('[MQTT-3.3.4-9 v5] a PUBREC with an error code frees the slot', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }));
    h.deliver(msg('m1', 2), msg('m2', 1));
    h.packet('c1', { type: 'pubrec', packetId: 1, reasonCode: ReasonCode.UnspecifiedError });
    expect(h.sent()).toStrictEqual([publish('m2', 1, 2)]);
  });

  it('[MQTT-3.3.4-9 v5] a reconnect with a lower Receive Maximum resends no more PUBLISHes than it allows', () => {
    const h = subscriber(persistentV5({ receiveMaximum: 4 }));
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1));
    expect(h.sent()).toHaveLength(4);
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    const resent = reconnect(h, persistentV5({ receiveMaximum: 2 }));
    expect(resent).toStrictEqual([publish('m1', 1, 1, { dup: true }), publish('m2', 1, 2, { dup: true })]);
    h.packet('c2', { type: 'puback', packetId: 1 });
    expect(h.sent('c2')).toStrictEqual([publish('m3', 1, 3, { dup: true })]);
  });
});

describe('the queue bound (the oldest dropped first, counted)', () => {
  it('[DESIGN §3] offline: past maximumQueued the oldest queued messages are dropped and counted as queue_dropped', () => {
    const h = offline(PERSISTENT_V4, {}, { ...CONFIG, maximumQueued: 3 });
    h.deliver(msg('m1', 1), msg('m2', 2), msg('m3', 1));
    expect(h.deliver(msg('m4', 1))).toStrictEqual([
      {
        type: 'persist',
        ops: [
          { op: 'insertOutbound', message: row('m4', 1, 4, null, OutboundState.Queued) },
          { op: 'dropOldestQueued', count: 1 },
          { op: 'count', counter: 'queue_dropped', n: 1 },
        ],
      },
      // [issue 13] the drop is an entry of the tenant's event log too.
      {
        type: 'log',
        tenant: TENANT,
        event: { at: T0, kind: 'limit', limit: 'queued_messages', count: 1, message: 'queued messages dropped (oldest first): the queue is full', clientId: 'device-1' },
      },
    ]);
    h.deliver(msg('m5', 1));
    expect(payloads(h.store.queued())).toStrictEqual(['m3', 'm4', 'm5']);
    expect(h.store.counters.get('queue_dropped')).toBe(2);
    expect(reconnect(h, PERSISTENT_V4)).toStrictEqual([publish('m3', 1, 1), publish('m4', 1, 2), publish('m5', 1, 3)]);
  });

  it('[DESIGN §3] one batch past the bound drops its own oldest messages', () => {
    const h = offline(PERSISTENT_V4, {}, { ...CONFIG, maximumQueued: 2 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1), msg('m5', 1));
    expect(payloads(h.store.queued())).toStrictEqual(['m4', 'm5']);
    expect(h.store.counters.get('queue_dropped')).toBe(3);
  });

  it('[DESIGN §3] the token\'s maxQueued applies when it is lower than the deployment\'s', () => {
    const h = offline(PERSISTENT_V4, { token: token([{ filter: '#', rights: ['sub'] }], { maxQueued: 2 }) }, { ...CONFIG, maximumQueued: 1000 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1));
    expect(payloads(h.store.queued())).toStrictEqual(['m2', 'm3']);
    expect(h.store.counters.get('queue_dropped')).toBe(1);
  });

  it('[DESIGN §3] the deployment\'s maximumQueued applies when it is lower than the token\'s', () => {
    const h = offline(PERSISTENT_V4, { token: token([{ filter: '#', rights: ['sub'] }], { maxQueued: 5 }) }, { ...CONFIG, maximumQueued: 1 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1));
    expect(payloads(h.store.queued())).toStrictEqual(['m3']);
    expect(h.store.counters.get('queue_dropped')).toBe(2);
  });

  it('[DESIGN §3] online with a full window the bound applies to the queue, not to what is in flight', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }), {}, { ...CONFIG, maximumQueued: 2, maximumQueuedOnline: 2 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1));
    expect(h.sent()).toStrictEqual([publish('m1', 1, 1)]);
    expect(payloads(h.store.queued())).toStrictEqual(['m3', 'm4']);
    expect(h.store.counters.get('queue_dropped')).toBe(1);
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(h.sent()).toStrictEqual([publish('m3', 1, 2)]);
  });

  it('[DESIGN §3] a connected subscriber queues up to MAX_QUEUED_ONLINE (acknowledged to publishers, it is draining); offline, MAX_QUEUED binds again', () => {
    const h = subscriber(v5({ receiveMaximum: 1 }), {}, { ...CONFIG, maximumQueued: 2, maximumQueuedOnline: 5 });
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1), msg('m5', 1), msg('m6', 1), msg('m7', 1));
    expect(h.sent()).toStrictEqual([publish('m1', 1, 1)]);
    // Six queued behind the one in flight: the online bound (5) drops the oldest one, counted.
    expect(payloads(h.store.queued())).toStrictEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    expect(h.store.counters.get('queue_dropped')).toBe(1);
  });
});

describe('an offline persistent session', () => {
  it('[DESIGN §3] queues QoS 1/2 (stored, no packet id) and drops QoS 0', () => {
    const h = offline();
    expect(h.deliver(msg('a', 1), msg('b', 0), msg('c', 2))).toStrictEqual([
      {
        type: 'persist',
        ops: [
          { op: 'insertOutbound', message: row('a', 1, 1, null, OutboundState.Queued) },
          { op: 'insertOutbound', message: row('c', 2, 2, null, OutboundState.Queued) },
        ],
      },
    ]);
    expect(h.reply).toStrictEqual({ stale: [], online: false });
  });

  it('[DESIGN §3] delivers its queue in order on reconnect, each moved into the window (markSent)', () => {
    const h = offline();
    h.deliver(msg('a', 1), msg('b', 2), msg('c', 1));
    expect(reconnect(h, PERSISTENT_V4)).toStrictEqual([publish('a', 1, 1), publish('b', 2, 2), publish('c', 1, 3)]);
    expect([...h.store.outbound.values()]).toStrictEqual([
      row('a', 1, 1, 1, OutboundState.Published),
      row('b', 2, 2, 2, OutboundState.Published),
      row('c', 1, 3, 3, OutboundState.Published),
    ]);
  });

  it('[MQTT-4.4.0-1] [DESIGN §3] order is kept across an eviction: in-flight resent first with DUP=1, then the queue', () => {
    const h = subscriber(PERSISTENT_V4);
    h.deliver(msg('m1', 1), msg('m2', 2));
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.deliver(msg('m3', 1), msg('m4', 2));
    h.restart();
    expect(reconnect(h, PERSISTENT_V4)).toStrictEqual([
      publish('m1', 1, 1, { dup: true }),
      publish('m2', 2, 2, { dup: true }),
      publish('m3', 1, 3),
      publish('m4', 2, 4),
    ]);
  });

  it('[DESIGN §3] an eviction while connected with a full window keeps the queue order and the packet ids', () => {
    const h = subscriber(persistentV5({ receiveMaximum: 2 }));
    h.deliver(msg('m1', 1), msg('m2', 1), msg('m3', 1), msg('m4', 1));
    h.restart();
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(h.sent()).toStrictEqual([publish('m3', 1, 3)]);
    h.packet('c1', { type: 'puback', packetId: 2 });
    expect(h.sent()).toStrictEqual([publish('m4', 1, 4)]);
  });
});

describe('QoS 2 to the client', () => {
  it('[MQTT-4.3.3-1] PUBREC: the row is marked released and PUBREL is sent', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    expect(h.packet('c1', { type: 'pubrec', packetId: 1 })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'markReleased', seq: 1 }] },
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrel', packetId: 1 }] },
    ]);
    expect(h.store.outbound.get(1)!.state).toBe(OutboundState.Released);
  });

  it('[MQTT-4.3.3-1] [MQTT-4.4.0-1] once released the PUBLISH is never sent again: a reconnect after an eviction resends PUBREL', () => {
    const h = subscriber(PERSISTENT_V4);
    h.deliver(msg('a', 2), msg('b', 1));
    h.packet('c1', { type: 'pubrec', packetId: 1 });
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.restart();
    expect(reconnect(h, PERSISTENT_V4)).toStrictEqual([{ type: 'pubrel', packetId: 1 }, publish('b', 1, 2, { dup: true })]);
  });

  it('[MQTT-4.3.3-1] a repeated PUBREC gets PUBREL again and writes nothing', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    h.packet('c1', { type: 'pubrec', packetId: 1 });
    expect(h.packet('c1', { type: 'pubrec', packetId: 1 })).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'pubrel', packetId: 1 }] }]);
  });

  it('[MQTT-4.3.3-1] PUBCOMP completes the exchange: the row is deleted', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    h.packet('c1', { type: 'pubrec', packetId: 1 });
    expect(h.packet('c1', { type: 'pubcomp', packetId: 1 })).toStrictEqual([{ type: 'persist', ops: [{ op: 'deleteOutbound', seq: 1 }] }]);
    expect(h.store.outbound.size).toBe(0);
    expect(h.state.session.inflight.size).toBe(0);
  });

  it('[MQTT-4.3.3-1] a PUBCOMP before PUBREC changes nothing', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    expect(h.packet('c1', { type: 'pubcomp', packetId: 1 })).toStrictEqual([]);
    expect(h.store.outbound.get(1)!.state).toBe(OutboundState.Published);
  });

  it('(5.0 §4.3.3) a PUBREC with an error code ends the exchange: row deleted, no PUBREL', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    expect(h.packet('c1', { type: 'pubrec', packetId: 1, reasonCode: ReasonCode.NotAuthorized })).toStrictEqual([
      { type: 'persist', ops: [{ op: 'deleteOutbound', seq: 1 }] },
    ]);
    expect(h.store.outbound.size).toBe(0);
  });

  it('(5.0 §3.5.2.1) a PUBREC with 0x10 No matching subscribers is a success: PUBREL follows', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    h.packet('c1', { type: 'pubrec', packetId: 1, reasonCode: ReasonCode.NoMatchingSubscribers });
    expect(h.sent()).toStrictEqual([{ type: 'pubrel', packetId: 1 }]);
  });

  it('(5.0 §3.6.2.1) 5.0: a PUBREC for an unknown id gets PUBREL 0x92 Packet Identifier not found', () => {
    const h = subscriber();
    expect(h.packet('c1', { type: 'pubrec', packetId: 77 })).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrel', packetId: 77, reasonCode: ReasonCode.PacketIdentifierNotFound }] },
    ]);
  });

  it('[MQTT-4.3.3-1] 3.1.1: a PUBREC for an unknown id gets a plain PUBREL', () => {
    const h = subscriber({ protocolVersion: 4 });
    expect(h.packet('c1', { type: 'pubrec', packetId: 77 })).toStrictEqual([{ type: 'send', connectionId: 'c1', packets: [{ type: 'pubrel', packetId: 77 }] }]);
  });

  it('[MQTT-4.3.3-1] a PUBACK for a QoS 2 message, or for an unknown id, changes nothing', () => {
    const h = subscriber();
    h.deliver(msg('a', 2));
    expect(h.packet('c1', { type: 'puback', packetId: 1 })).toStrictEqual([]);
    expect(h.packet('c1', { type: 'puback', packetId: 99 })).toStrictEqual([]);
    expect([...h.store.outbound.values()]).toStrictEqual([row('a', 2, 1, 1, OutboundState.Published)]);
  });
});

describe('Message Expiry (5.0)', () => {
  it.each([0, 1, 2] as const)('[MQTT-3.3.2-5 v5] an expired QoS %i delivery is neither sent nor stored', (qos) => {
    const h = subscriber();
    expect(h.deliver(msg('a', qos, { expiresAt: h.now }))).toStrictEqual([]);
  });

  it.each([
    [2500, 3],
    [60_000, 60],
    [1, 1],
  ])('[MQTT-3.3.2-6 v5] %i ms left is forwarded as a Message Expiry Interval of %i s (rounded up)', (left, seconds) => {
    const h = subscriber();
    h.deliver(msg('a', 1, { expiresAt: h.now + left, properties: { contentType: 'text/plain' } }));
    expect(h.sent()).toStrictEqual([publish('a', 1, 1, { properties: { contentType: 'text/plain', messageExpiryInterval: seconds } })]);
    expect(h.store.outbound.get(1)).toStrictEqual(row('a', 1, 1, 1, OutboundState.Published, { properties: { contentType: 'text/plain' }, expiresAt: h.now + left }));
  });

  it('[MQTT-3.3.2-5 v5] [MQTT-3.3.2-6 v5] queued messages that expired while offline are deleted on drain; the others carry what is left', () => {
    const h = offline(persistentV5());
    h.deliver(msg('short', 1, { expiresAt: h.now + 10_000 }), msg('forever', 1), msg('long', 2, { expiresAt: h.now + 30_000 }));
    h.advance(20_000);
    h.connect('c2', persistentV5());
    expect(h.sent('c2').slice(1)).toStrictEqual([publish('forever', 1, 1), publish('long', 2, 2, { properties: { messageExpiryInterval: 10 } })]);
    expect(h.effects).toContainEqual({ type: 'persist', ops: [{ op: 'deleteOutbound', seq: 1 }, { op: 'markSent', seq: 2, packetId: 1 }, { op: 'markSent', seq: 3, packetId: 2 }] });
    expect(payloads([...h.store.outbound.values()])).toStrictEqual(['forever', 'long']);
  });
});

describe('Subscription Identifiers (5.0)', () => {
  it('[MQTT-3.3.4-3 v5] the identifiers of the matching subscriptions travel in the PUBLISH properties, and in the row', () => {
    const h = subscriber();
    h.deliver(msg('a', 1, { subscriptionIdentifiers: [3, 7], properties: { userProperties: [['k', 'v']] } }));
    const properties = { userProperties: [['k', 'v']] as Array<[string, string]>, subscriptionIdentifiers: [3, 7] };
    expect(h.sent()).toStrictEqual([publish('a', 1, 1, { properties })]);
    expect(h.store.outbound.get(1)!.properties).toStrictEqual(properties);
  });

  it('[MQTT-3.3.4-3 v5] a queued message keeps its identifiers until it is sent', () => {
    const h = offline(persistentV5());
    h.deliver(msg('a', 2, { subscriptionIdentifiers: [9] }));
    h.connect('c2', persistentV5());
    expect(h.sent('c2').slice(1)).toStrictEqual([publish('a', 2, 1, { properties: { subscriptionIdentifiers: [9] } })]);
  });

  it('[MQTT-3.3.4-3 v5] no identifiers, no property', () => {
    const h = subscriber();
    h.deliver(msg('a', 0, { subscriptionIdentifiers: [] }));
    expect(h.sent()).toStrictEqual([publish('a', 0)]);
  });
});

describe('the client\'s Maximum Packet Size (5.0)', () => {
  const big = 'x'.repeat(200);

  it('[MQTT-3.1.2-25 v5] a QoS 1 message larger than the client accepts is discarded as if delivered: no row, counted oversize_dropped', () => {
    const h = subscriber(v5({ maximumPacketSize: 64 }));
    expect(h.deliver(msg(big, 1))).toStrictEqual([{ type: 'persist', ops: [{ op: 'count', counter: 'oversize_dropped', n: 1 }] }]);
    expect(h.store.outbound.size).toBe(0);
    expect(h.store.counters.get('oversize_dropped')).toBe(1);
    h.deliver(msg('small', 1));
    expect(h.sent()).toStrictEqual([publish('small', 1, 2)]);
  });

  it('[MQTT-3.1.2-25 v5] a QoS 0 message larger than the client accepts is discarded and counted', () => {
    const h = subscriber(v5({ maximumPacketSize: 64 }));
    expect(h.deliver(msg(big, 0))).toStrictEqual([{ type: 'persist', ops: [{ op: 'count', counter: 'oversize_dropped', n: 1 }] }]);
  });

  it('[MQTT-3.1.2-24 v5] a packet of exactly the client\'s Maximum Packet Size is sent, one byte over is not', () => {
    const exact = publish('fits', 1, 1);
    const size = encodePacket(exact, 5).length;
    const h = subscriber(v5({ maximumPacketSize: size }));
    h.deliver(msg('fits', 1));
    expect(h.sent()).toStrictEqual([exact]);
    h.deliver(msg('fitsX', 1));
    expect(h.sent()).toStrictEqual([]);
    expect(h.store.counters.get('oversize_dropped')).toBe(1);
  });

  it('[MQTT-3.1.2-25 v5] a queued message too large for the reconnected client is deleted and counted, the next one sent', () => {
    const h = offline(persistentV5());
    h.deliver(msg(big, 1), msg('small', 1));
    h.connect('c2', persistentV5({ maximumPacketSize: 64 }));
    expect(h.sent('c2').slice(1)).toStrictEqual([publish('small', 1, 2)]);
    expect(payloads([...h.store.outbound.values()])).toStrictEqual(['small']);
    expect(h.store.counters.get('oversize_dropped')).toBe(1);
  });

  it('[MQTT-3.1.2-25 v5] an in-flight message too large for the reconnected client is not resent, its row deleted', () => {
    const h = subscriber(persistentV5());
    h.deliver(msg(big, 1));
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.connect('c2', persistentV5({ maximumPacketSize: 64 }));
    expect(h.sent('c2').map((p) => p.type)).toStrictEqual(['connack']);
    expect(h.store.outbound.size).toBe(0);
    expect(h.store.counters.get('oversize_dropped')).toBe(1);
  });
});

describe('topic aliases to the client (5.0)', () => {
  const at = (topic: string): Delivery => ({ ...msg('p', 0), topic });
  const sentAs = (topic: string, topicAlias?: number): PublishPacket => ({ ...publish('p', 0), topic, ...(topicAlias === undefined ? {} : { properties: { topicAlias } }) });

  it('[MQTT-3.3.2-11 v5] the first send carries topic and alias, later sends an empty topic and the alias; never above the client\'s maximum', () => {
    const h = subscriber(v5({ topicAliasMaximum: 2 }));
    const sent = (topic: string) => {
      h.deliver(at(topic));
      return h.sent();
    };
    expect(sent('t/1')).toStrictEqual([sentAs('t/1', 1)]);
    expect(sent('t/1')).toStrictEqual([sentAs('', 1)]);
    expect(sent('t/2')).toStrictEqual([sentAs('t/2', 2)]);
    expect(sent('t/3')).toStrictEqual([sentAs('t/3')]);
    expect(sent('t/2')).toStrictEqual([sentAs('', 2)]);
    expect(sent('t/3')).toStrictEqual([sentAs('t/3')]);
  });

  it('[MQTT-3.3.2-11 v5] a client without Topic Alias Maximum (0) gets no alias; nor does a 3.1.1 client', () => {
    for (const connect of [V5, { protocolVersion: 4 } as const]) {
      const h = subscriber(connect);
      h.deliver(at('t/1'));
      h.deliver(at('t/1'));
      expect(h.sent()).toStrictEqual([sentAs('t/1')]);
    }
  });

  it('[MQTT-3.1.2-25 v5] [MQTT-3.3.2-11 v5] a discarded oversize message does not define an alias the client never saw', () => {
    const h = subscriber(v5({ topicAliasMaximum: 5, maximumPacketSize: 64 }));
    h.deliver({ ...at('t/1'), payload: utf8('x'.repeat(200)) });
    expect(h.sent()).toStrictEqual([]);
    h.deliver(at('t/1'));
    expect(h.sent()).toStrictEqual([sentAs('t/1', 1)]);
  });

  it('[MQTT-3.3.2-7 v5] a resend on a new connection carries the full topic and no alias', () => {
    const h = subscriber(persistentV5({ topicAliasMaximum: 2 }));
    h.deliver(msg('a', 1), msg('b', 1));
    expect(h.sent()).toStrictEqual([publish('a', 1, 1, { properties: { topicAlias: 1 } }), publish('b', 1, 2, { topic: '', properties: { topicAlias: 1 } })]);
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    expect(reconnect(h, persistentV5({ topicAliasMaximum: 2 }))).toStrictEqual([publish('a', 1, 1, { dup: true }), publish('b', 1, 2, { dup: true })]);
  });

  it('(5.0 §3.3.2.3.4) after an eviction the next send defines the alias again with the full topic', () => {
    const h = subscriber(v5({ topicAliasMaximum: 2 }));
    h.deliver(at('t/1'));
    h.restart();
    h.deliver(at('t/1'));
    expect(h.sent()).toStrictEqual([sentAs('t/1', 1)]);
  });
});

describe('outbound packet identifiers', () => {
  it('[MQTT-2.3.1-4] [MQTT-2.2.1-4 v5] an id is never reused while its message is in flight', () => {
    const h = subscriber();
    h.deliver(msg('m1', 1), msg('m2', 2), msg('m3', 1));
    h.packet('c1', { type: 'puback', packetId: 2 }); // a QoS 2 message: ignored, 2 stays in flight
    h.packet('c1', { type: 'puback', packetId: 3 });
    h.deliver(msg('m4', 1), msg('m5', 1));
    expect(h.sent()).toStrictEqual([publish('m4', 1, 4), publish('m5', 1, 5)]);
    expect([...h.state.session.inflight.keys()].sort((a, b) => a - b)).toStrictEqual([1, 2, 4, 5]);
  });

  it('[MQTT-2.3.1-4] [MQTT-2.2.1-4 v5] after 65535 the ids wrap to 1, skipping those still in flight', () => {
    const h = subscriber();
    h.deliver(msg('m1', 1), msg('m2', 2));
    // A long-lived session: the last id handed out was 65534.
    h.state.session.lastPacketId = 65534;
    h.deliver(msg('m3', 1), msg('m4', 1), msg('m5', 1));
    expect(h.sent()).toStrictEqual([publish('m3', 1, 65535), publish('m4', 1, 3), publish('m5', 1, 4)]);
  });
});

describe('acknowledgements for the wrong kind of message', () => {
  it('(5.0 §3.6.2.1) a PUBREC for an outbound QoS 1 message is for an unknown QoS 2 id: PUBREL 0x92, the message stays in flight', () => {
    const h = subscriber();
    h.deliver(msg('one', 1));
    expect(h.packet('c1', { type: 'pubrec', packetId: 1 })).toStrictEqual([
      { type: 'send', connectionId: 'c1', packets: [{ type: 'pubrel', packetId: 1, reasonCode: ReasonCode.PacketIdentifierNotFound }] },
    ]);
    expect(h.state.session.inflight.get(1)).toMatchObject({ qos: 1, state: OutboundState.Published });
  });
});
