// core/session/lifecycle.ts: how a connection ends (will now, later or never), the session's lifetime (the one
// alarm), a lost owner after a reset, and the presence reported to the tenant. Time is the harness's `now`.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import type { RoutedMessage } from '../../../core/routing/message.js';
import type { Effect, PresenceDetails } from '../../../core/session/effects.js';
import { NEVER_EXPIRES } from '../../../core/session/expiry.js';
import { CONFIG, SessionHarness, T0, TENANT, delivery, token, serverDisconnectWith } from './harness.js';

/** The session object's name for client 'device-1' (a route's origin, an unsubscribeShards' session). */
const SESSION = `${TENANT}\u0000device-1`;

const V5 = (sessionExpiryInterval?: number, extra: Partial<ConnectPacket> = {}): Partial<ConnectPacket> => ({
  protocolVersion: 5,
  cleanSession: false,
  ...(sessionExpiryInterval === undefined ? {} : { properties: { sessionExpiryInterval } }),
  ...extra,
});

function will(extra: Partial<Will> = {}): Will {
  return { topic: 'devices/device-1/status', payload: new TextEncoder().encode('offline'), qos: 1, retain: false, ...extra };
}

/** The route effect of a will of client 'device-1' (no ack: nobody waits for a will). */
function willRoute(w: Will, extra: Partial<RoutedMessage> = {}): Effect {
  return { type: 'route', tenant: TENANT, message: { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, origin: SESSION, ...extra } };
}

function presence(state: 'connected' | 'offline' | 'ended', tokenId?: string, details?: PresenceDetails): Effect {
  return { type: 'presence', tenant: TENANT, clientId: 'device-1', state, ...(tokenId === undefined ? {} : { tokenId }), ...(details ? { details } : {}) };
}

/** What the sessions list shows of the session (its bucket keeps it): a connected one with its keepalive. */
function shown(protocolVersion: 4 | 5, sessionExpiryInterval: number, expiresAt: number | null, keepAlive?: number): PresenceDetails {
  return { protocolVersion, sessionExpiryInterval, expiresAt, ...(keepAlive === undefined ? {} : { keepAlive }) };
}

function subscribeTo(h: SessionHarness, connectionId: string, ...filters: string[]): void {
  h.packet(connectionId, { type: 'subscribe', packetId: 1, subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: 1 as const })) });
  h.subscribed();
}

const persistOps = (h: SessionHarness) => h.of('persist').flatMap((e) => e.ops);
const socketClosed = (h: SessionHarness, connectionId = 'c1') => h.input({ type: 'socketClosed', connectionId });
const alarm = (h: SessionHarness) => h.input({ type: 'alarm' });

/**
 * A reset (DESIGN §3): the object is evicted and every socket is gone without a close event, so after the
 * wake no connection of this object exists; only the stored rows survive.
 */
function resetDroppingSockets(h: SessionHarness): void {
  h.restart();
  h.state.connections.clear();
}

const allowDevices = (extra: { maxRetained?: number } = {}) => ({ ...token([{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }]), ...extra });

describe('the will when a connection ends', () => {
  it('[MQTT-3.1.2-8] [MQTT-3.1.2-10] the will is published when the socket is lost, then removed from the session', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { cleanSession: false, will: w });
    socketClosed(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null, willAt: null, expiresAt: null });
    expect(h.state.connections.has('c1')).toBe(false);
  });

  it('[MQTT-3.1.2-24] a 3.1.1 keepalive timeout closes without a DISCONNECT and publishes the will', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { cleanSession: true, will: w });
    h.input({ type: 'keepaliveTimeout', connectionId: 'c1' });
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('[MQTT-3.1.2-22 v5] a 5.0 keepalive timeout sends DISCONNECT 0x8D, closes and publishes the will', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(0, { will: w }));
    h.input({ type: 'keepaliveTimeout', connectionId: 'c1' });
    const toC1 = h.effects.filter((e) => (e.type === 'send' || e.type === 'close') && e.connectionId === 'c1');
    expect(toC1).toEqual([
      { type: 'send', connectionId: 'c1', packets: [serverDisconnectWith(ReasonCode.KeepAliveTimeout)] },
      { type: 'close', connectionId: 'c1' },
    ]);
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('[MQTT-4.8.0-1] a protocol fault closes the connection and publishes the will; 5.0 is told the reason', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(0, { will: w }));
    h.input({ type: 'fault', connectionId: 'c1', reasonCode: ReasonCode.MalformedPacket });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.MalformedPacket)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('[MQTT-3.14.4-3] [MQTT-3.1.2-10] a 3.1.1 DISCONNECT discards the will without publishing it', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false, will: will() });
    h.packet('c1', { type: 'disconnect' });
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null });
    // A later loss of the (already closed) socket publishes nothing either.
    socketClosed(h);
    expect(h.of('route')).toEqual([]);
  });

  it('[MQTT-3.14.4-3 v5] a DISCONNECT 0x00 discards the will without publishing it', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60, { will: will() }));
    h.packet('c1', { type: 'disconnect', reasonCode: ReasonCode.NormalDisconnection });
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null, willAt: null });
  });

  it('(5.0 §3.14.2.1) a DISCONNECT 0x04 Disconnect with Will Message publishes the will', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(60, { will: w }));
    h.packet('c1', { type: 'disconnect', reasonCode: ReasonCode.DisconnectWithWill });
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.sent('c1')).toEqual([]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null });
  });

  it('[MQTT-3.1.2-8 v5] a DISCONNECT with an error reason code (0x80) does not discard the will: only 0x00 does', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(60, { will: w }));
    h.packet('c1', { type: 'disconnect', reasonCode: ReasonCode.UnspecifiedError });
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('[MQTT-3.1.2-17] [DESIGN §3] a retained will is routed retained, with the shard share of the token maxRetained', () => {
    const h = new SessionHarness();
    const w = will({ retain: true });
    h.connect('c1', { will: w }, { token: allowDevices({ maxRetained: 10 }) });
    socketClosed(h);
    // ceil(10 / 4 shards) = 3
    expect(h.of('route')).toEqual([willRoute(w, { retainedLimit: 3, tokenId: 'tok1' })]);
  });

  it('[MQTT-3.1.2-16] a will that is not retained carries no retained limit', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { will: w }, { token: allowDevices({ maxRetained: 10 }) });
    socketClosed(h);
    expect(h.of('route')).toEqual([willRoute(w, { tokenId: 'tok1' })]);
  });

  it('[MQTT-3.1.2-17] a retained will of a token without maxRetained carries no retained limit', () => {
    const h = new SessionHarness();
    const w = will({ retain: true });
    h.connect('c1', { will: w }, { token: allowDevices() });
    socketClosed(h);
    expect(h.of('route')).toEqual([willRoute(w, { tokenId: 'tok1' })]);
  });

  it('(5.0 §3.1.3.2) the will travels with its forwardable properties and its Message Expiry as an absolute time', () => {
    const h = new SessionHarness();
    const w = will({ properties: { contentType: 'text/plain', messageExpiryInterval: 10 } });
    h.connect('c1', V5(0, { will: w }));
    h.advance(5_000);
    socketClosed(h);
    expect(h.of('route')).toEqual([willRoute(w, { properties: { contentType: 'text/plain' }, expiresAt: T0 + 15_000 })]);
  });

  it('[DESIGN §3] the will is checked again when published: an ACL that no longer allows its topic drops it and counts will_refused', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(0, { will: will() }), { token: allowDevices() });
    h.input({ type: 'tokenChanged', tokenId: 'tok1', token: { acl: [{ filter: 'other/#', rights: ['pub'] }], limits: {}, enabled: true, expiresAt: null } });
    expect(h.closed('c1')).toBe(false);
    socketClosed(h);
    expect(h.of('route')).toEqual([]);
    expect(persistOps(h)).toContainEqual({ op: 'count', counter: 'will_refused', n: 1 });
    expect(h.store.counters.get('will_refused')).toBe(1);
  });

  it('[DESIGN §3] a delayed will is checked against the token stored in the session when the alarm publishes it', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will({ properties: { willDelayInterval: 60 } }) }), { token: allowDevices() });
    socketClosed(h);
    h.input({ type: 'tokenChanged', tokenId: 'tok1', token: { acl: [{ filter: 'other/#', rights: ['pub'] }], limits: {}, enabled: true, expiresAt: null } });
    h.restart();
    h.advance(60_000);
    alarm(h);
    expect(h.of('route')).toEqual([]);
    expect(h.store.counters.get('will_refused')).toBe(1);
    expect(h.store.record).toMatchObject({ will: null, willAt: null });
  });
});

describe('DISCONNECT and the Session Expiry Interval', () => {
  it('(5.0 §3.14.2.2.2) a DISCONNECT setting a Session Expiry Interval when CONNECT had 0 is a Protocol Error: DISCONNECT 0x82, will published, session ended', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(undefined, { will: w }));
    subscribeTo(h, 'c1', 'a/b');
    h.packet('c1', { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.ProtocolError)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(persistOps(h)).toContainEqual({ op: 'deleteAll' });
    expect(h.store.record).toBeUndefined();
    expect(h.of('presence')).toEqual([presence('ended')]);
  });

  it('(5.0 §3.14.2.2.2) a DISCONNECT raising the Session Expiry Interval is honoured', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    h.packet('c1', { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 600 } });
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 600_000 }]);
    expect(h.store.record).toMatchObject({ connectionId: null, sessionExpiryInterval: 600, expiresAt: T0 + 600_000 });
    h.advance(60_000);
    alarm(h);
    expect(h.store.record).toBeDefined();
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 600_000 }]);
  });

  it('(5.0 §3.14.2.2.2) a DISCONNECT lowering the Session Expiry Interval to 0 ends the session at once', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    subscribeTo(h, 'c1', 'a/b');
    h.packet('c1', { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    expect(h.sent('c1')).toEqual([]);
    expect(persistOps(h)).toContainEqual({ op: 'deleteAll' });
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
    expect(h.store.record).toBeUndefined();
  });
});

describe('the session lifetime', () => {
  it('[MQTT-3.1.2-6] a 3.1.1 clean session is discarded when its connection ends, and unsubscribed at the shards', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: true });
    subscribeTo(h, 'c1', 'a/b', 'c/#');
    socketClosed(h);
    expect(persistOps(h)).toEqual([{ op: 'deleteAll' }]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b', 'c/#'] }]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
    expect(h.of('presence')).toEqual([presence('ended')]);
    expect(h.store.record).toBeUndefined();
    expect(h.store.subscriptions.size).toBe(0);
  });

  it('(5.0 §3.1.2.11.2) Session Expiry Interval 0 discards the session at once', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(0));
    subscribeTo(h, 'c1', 'a/b');
    socketClosed(h);
    expect(persistOps(h)).toEqual([{ op: 'deleteAll' }]);
    expect(h.of('presence')).toEqual([presence('ended')]);
    expect(h.store.record).toBeUndefined();
  });

  it('[MQTT-3.1.2-23 v5] a session with an expiry interval outlives its connection: the alarm is set to now + the interval', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    subscribeTo(h, 'c1', 'a/b');
    h.advance(1_000);
    socketClosed(h);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 61_000 }]);
    expect(h.of('presence')).toEqual([presence('offline', undefined, shown(5, 60, T0 + 61_000))]);
    expect(persistOps(h)).toEqual([{ op: 'writeSession', record: expect.objectContaining({ connectionId: null, expiresAt: T0 + 61_000, willAt: null }) }]);
    expect([...h.store.subscriptions.keys()]).toEqual(['a/b']);
  });

  it('[MQTT-4.1.0-2 v5] an alarm before the expiry only re-arms; at the expiry the session is discarded and reported ended', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    subscribeTo(h, 'c1', 'a/b');
    socketClosed(h);
    h.restart();

    h.advance(59_999);
    alarm(h);
    expect(h.effects).toEqual([{ type: 'setAlarm', at: T0 + 60_000 }]);
    expect(h.store.record).toBeDefined();

    h.advance(1);
    alarm(h);
    expect(h.effects).toEqual([
      { type: 'persist', ops: [{ op: 'deleteAll' }] },
      { type: 'setAlarm', at: null },
      { type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] },
      presence('ended'),
    ]);
    expect(h.store.record).toBeUndefined();
    expect(h.store.subscriptions.size).toBe(0);
  });

  it('[MQTT-4.1.0-2 v5] a late alarm discards the session too', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    socketClosed(h);
    h.advance(3_600_000);
    alarm(h);
    expect(persistOps(h)).toEqual([{ op: 'deleteAll' }]);
    expect(h.store.record).toBeUndefined();
  });

  it.each([
    ['(5.0 §3.1.2.11.2) Session Expiry Interval 0xFFFFFFFF', V5(NEVER_EXPIRES)],
    ['(3.1.1 §3.1.2.4) a 3.1.1 persistent session', { cleanSession: false }],
  ] as const)('%s never expires: no alarm is set', (_label, connect) => {
    const h = new SessionHarness();
    h.connect('c1', connect);
    socketClosed(h);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
    expect(h.store.record).toMatchObject({ connectionId: null, expiresAt: null });
  });

  it('[MQTT-4.1.0-1 v5] an alarm while the session is connected does nothing', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60));
    h.advance(3_600_000);
    alarm(h);
    expect(h.effects).toEqual([]);
    expect(h.store.record).toMatchObject({ connectionId: 'c1' });
  });
});

describe('the Will Delay Interval', () => {
  it('[MQTT-3.1.2-8 v5] a delayed will is published by the alarm once the delay has passed, and only once', () => {
    const h = new SessionHarness();
    const w = will({ properties: { willDelayInterval: 60 } });
    h.connect('c1', V5(300, { will: w }));
    socketClosed(h);
    expect(h.of('route')).toEqual([]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 60_000 }]);
    expect(h.store.record).toMatchObject({ will: w, willAt: T0 + 60_000, expiresAt: T0 + 300_000 });
    h.restart();

    h.advance(59_999);
    alarm(h);
    expect(h.effects).toEqual([{ type: 'setAlarm', at: T0 + 60_000 }]);

    h.advance(1);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 300_000 }]);
    expect(h.store.record).toMatchObject({ will: null, willAt: null, expiresAt: T0 + 300_000 });

    alarm(h);
    expect(h.of('route')).toEqual([]);
    expect(h.effects).toEqual([{ type: 'setAlarm', at: T0 + 300_000 }]);
  });

  it('(5.0 §3.1.3.2.2) a will delay longer than the session expiry publishes the will when the session ends, once', () => {
    const h = new SessionHarness();
    const w = will({ properties: { willDelayInterval: 60 } });
    h.connect('c1', V5(30, { will: w }));
    socketClosed(h);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 30_000 }]);
    h.advance(30_000);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('presence')).toEqual([presence('ended')]);
    expect(h.store.record).toBeUndefined();
  });

  it('(5.0 §3.1.3.2.2) a will delay with Session Expiry 0 publishes the will at once: the session ends with the connection', () => {
    const h = new SessionHarness();
    const w = will({ properties: { willDelayInterval: 60 } });
    h.connect('c1', V5(0, { will: w }));
    socketClosed(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.store.record).toBeUndefined();
  });

  it('(5.0 §3.1.3.2.2) a delayed will of a session that never expires is published after its delay', () => {
    const h = new SessionHarness();
    const w = will({ properties: { willDelayInterval: 5 } });
    h.connect('c1', V5(NEVER_EXPIRES, { will: w }));
    socketClosed(h);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 5_000 }]);
    h.advance(5_000);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
  });
});

/** The grace a will waits after a platform loss (CONFIG.platformLossGrace, 60 s), in ms. */
const GRACE = 60_000;

describe('a lost owner (a reset dropped its socket without a close event)', () => {
  it('(5.0 §3.1.2.5) [DESIGN §3] a delivery releases it without publishing the will: it waits for the grace, the persistent session goes offline and queues', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { cleanSession: false, will: w }, { token: allowDevices() });
    subscribeTo(h, 'c1', 'devices/device-1/cmd');
    resetDroppingSockets(h);

    h.deliver(delivery('devices/device-1/cmd', 'reboot', 1));
    expect(h.of('route')).toEqual([]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + GRACE }]);
    expect(h.of('presence')).toEqual([presence('offline', 'tok1', shown(4, NEVER_EXPIRES, null))]);
    expect(h.reply).toEqual({ stale: [], online: false });
    expect(h.store.record).toMatchObject({ connectionId: null, will: w, willAt: T0 + GRACE, expiresAt: null });
    expect(h.store.queued().map((m) => m.topic)).toEqual(['devices/device-1/cmd']);
    expect(h.of('send')).toEqual([]);
  });

  it('[MQTT-3.1.2-8] a device that really went gets its will from the alarm once the grace has passed, also after an eviction', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { cleanSession: false, will: w });
    subscribeTo(h, 'c1', 'a/b');
    resetDroppingSockets(h);
    h.deliver(delivery('a/b', 'x', 1));
    h.restart();

    h.advance(GRACE - 1);
    alarm(h);
    expect(h.of('route')).toEqual([]);
    h.advance(1);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null, willAt: null });
    // The persistent session itself is kept, with what it queued.
    expect(h.store.queued()).toHaveLength(1);
  });

  it('[MQTT-3.1.3-9 v5] a reconnect within the grace cancels the held will and resumes the session', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will() }));
    subscribeTo(h, 'c1', 'a/b');
    resetDroppingSockets(h);
    h.deliver(delivery('a/b', 'x', 1));

    h.advance(GRACE - 1);
    h.connect('c2', V5(300));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c2')[0]).toMatchObject({ type: 'connack', sessionPresent: true, reasonCode: 0 });
    expect(h.store.record).toMatchObject({ connectionId: 'c2', will: null, willAt: null });
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([]);
  });

  it('(5.0 §3.1.2.5) [MQTT-3.1.2-6] a lost clean session ends at once but for its will, which is held for the grace, then ends as before', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', { cleanSession: true, will: w });
    subscribeTo(h, 'c1', 'a/b');
    resetDroppingSockets(h);

    h.deliver(delivery('a/b', 'x', 1));
    expect(h.of('route')).toEqual([]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
    expect(h.reply).toEqual({ stale: ['a/b'], online: false });
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + GRACE }]);
    expect(h.of('presence')).toEqual([presence('offline', undefined, shown(4, 0, T0))]);
    expect(h.store.record).toMatchObject({ sessionExpiryInterval: 0, connectionId: null, will: w, willAt: T0 + GRACE, expiresAt: T0 + GRACE });
    expect(h.store.subscriptions.size).toBe(0);

    // Kept across an eviction; the alarm publishes the will and ends the session.
    h.restart();
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('presence')).toEqual([presence('ended')]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
    expect(h.store.record).toBeUndefined();
  });

  it('[MQTT-3.1.3-9 v5] a clean session that reconnects within the grace publishes no will and starts afresh', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: true, will: will() });
    resetDroppingSockets(h);
    h.deliver(delivery('a/b', 'x', 1));
    h.advance(10_000);
    h.connect('c2', { cleanSession: true });
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c2')).toEqual([expect.objectContaining({ type: 'connack', sessionPresent: false, reasonCode: 0 })]);
    expect(h.store.record).toMatchObject({ connectionId: 'c2', will: null, willAt: null, expiresAt: null });
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([]);
  });

  it('[MQTT-3.1.3-9 v5] the client\'s own CONNECT releases it without any will: the session resumed, presence connected only', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(60, { will: will() }));
    subscribeTo(h, 'c1', 'a/b');
    resetDroppingSockets(h);

    h.connect('c2', V5(60));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([]);
    expect(h.sent('c2')).toEqual([expect.objectContaining({ type: 'connack', sessionPresent: true, reasonCode: 0 })]);
    expect(h.of('presence')).toEqual([presence('connected', undefined, shown(5, 60, null, 30))]);
    expect(h.store.record).toMatchObject({ connectionId: 'c2', expiresAt: null, will: null, willAt: null });
  });

  it('[MQTT-3.1.3-9 v5] a lost clean session noticed at its own CONNECT publishes no will either', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: true, will: will() });
    subscribeTo(h, 'c1', 'a/b');
    resetDroppingSockets(h);
    h.connect('c2', { cleanSession: true });
    expect(h.of('route')).toEqual([]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
    expect(h.sent('c2')).toEqual([expect.objectContaining({ type: 'connack', sessionPresent: false })]);
  });

  it('(5.0 §3.1.2.5) the alarm notices it too: the will is held for the grace, not published', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will() }));
    resetDroppingSockets(h);
    h.advance(1_000);
    alarm(h);
    expect(h.of('route')).toEqual([]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 1_000 + GRACE }]);
    expect(h.store.record).toMatchObject({ connectionId: null, willAt: T0 + 1_000 + GRACE, expiresAt: T0 + 301_000 });
  });

  it('[DESIGN §3] a restart that kept the owner socket keeps the owner: a delivery goes to it and no will is published', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false, will: will() });
    subscribeTo(h, 'c1', 'a/b');
    h.restart();
    h.deliver(delivery('a/b', 'x', 1));
    expect(h.of('route')).toEqual([]);
    expect(h.reply).toEqual({ stale: [], online: true });
    expect(h.sent('c1')).toEqual([{ type: 'publish', topic: 'a/b', payload: new TextEncoder().encode('x'), qos: 1, retain: false, dup: false, packetId: 1 }]);
  });
});

describe('a relay socket the platform dropped (webSocketClose with another code than 1000)', () => {
  const platformClosed = (h: SessionHarness, connectionId = 'c1') => h.input({ type: 'socketClosed', connectionId, cause: 'platform' });

  it('[MQTT-3.1.2-8] a close the relay made because its client went publishes the will at once', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(300, { will: w }));
    h.input({ type: 'socketClosed', connectionId: 'c1', cause: 'client' });
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('(5.0 §3.1.2.5) a platform close holds the will for the grace; the alarm publishes it when nobody came back', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(300, { will: w }));
    platformClosed(h);
    expect(h.of('route')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + GRACE }]);
    expect(h.of('presence')).toEqual([presence('offline', undefined, shown(5, 300, T0 + 300_000))]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: w, willAt: T0 + GRACE, expiresAt: T0 + 300_000 });
    h.restart();
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 300_000 }]);
  });

  it('[MQTT-3.1.3-9 v5] a reconnect within the grace after a platform close publishes no will', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will() }));
    platformClosed(h);
    h.advance(5_000);
    h.connect('c2', V5(300));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c2')[0]).toMatchObject({ type: 'connack', sessionPresent: true });
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([]);
  });

  it('(5.0 §3.1.3.2.2) a Will Delay Interval longer than the grace is kept as the client asked', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(600, { will: will({ properties: { willDelayInterval: 120 } }) }));
    platformClosed(h);
    expect(h.store.record).toMatchObject({ willAt: T0 + 120_000 });
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 120_000 }]);
  });

  it('(5.0 §3.1.2.5) a session with Session Expiry 0 survives, all but its will, until the grace has passed, then ends as before', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(0, { will: w }));
    subscribeTo(h, 'c1', 'a/b');
    platformClosed(h);
    expect(h.of('route')).toEqual([]);
    expect(persistOps(h)).toEqual([
      { op: 'deleteAll' },
      { op: 'writeSession', record: expect.objectContaining({ sessionExpiryInterval: 0, will: w, willAt: T0 + GRACE, expiresAt: T0 + GRACE }) },
    ]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + GRACE }]);
    h.restart();
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.of('presence')).toEqual([presence('ended')]);
    expect(h.store.record).toBeUndefined();
  });

  it('[MQTT-4.1.0-2 v5] a session that expires before the grace ends on time; its will alone waits for the grace', () => {
    const h = new SessionHarness();
    const w = will();
    h.connect('c1', V5(10, { will: w }));
    subscribeTo(h, 'c1', 'a/b');
    platformClosed(h);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 10_000 }]);

    h.advance(10_000);
    alarm(h);
    expect(h.of('route')).toEqual([]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + GRACE }]);
    expect(h.store.record).toMatchObject({ sessionExpiryInterval: 0, will: w, willAt: T0 + GRACE });
    expect(h.store.subscriptions.size).toBe(0);

    h.advance(GRACE - 10_000);
    alarm(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
    expect(h.store.record).toBeUndefined();
  });

  it('(5.0 §3.1.2.5) with a grace of 0 a platform close publishes the will as a client loss does', () => {
    const h = new SessionHarness({ ...CONFIG, platformLossGrace: 0 });
    const w = will();
    h.connect('c1', V5(300, { will: w }));
    platformClosed(h);
    expect(h.of('route')).toEqual([willRoute(w)]);
  });

  it('[DESIGN §3] a removed token discards a will held for the grace', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will() }), { token: allowDevices() });
    platformClosed(h);
    h.input({ type: 'tokenChanged', tokenId: 'tok1', token: null });
    h.advance(GRACE);
    alarm(h);
    expect(h.of('route')).toEqual([]);
    expect(h.store.record).toBeUndefined();
  });
});

describe('our own failures publish no will (5.0 §3.1.2.5: a server failure is no news of the client)', () => {
  it('(5.0 §3.1.2.5) the adapter failing on a packet ends the connection with DISCONNECT 0x80 and without the will', () => {
    const h = new SessionHarness();
    h.connect('c1', V5(300, { will: will() }));
    h.input({ type: 'internalError', connectionId: 'c1' });
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.UnspecifiedError)]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([]);
    expect(h.store.record).toMatchObject({ connectionId: null, will: null, willAt: null, expiresAt: T0 + 300_000 });
  });

  it('(5.0 §3.1.2.5) 3.1.1: the adapter failing on a packet closes without a packet and without the will', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: true, will: will() });
    h.input({ type: 'internalError', connectionId: 'c1' });
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([]);
    expect(h.store.record).toBeUndefined();
  });

  it('[MQTT-3.1.4-2] [MQTT-3.1.2-8] a take-over and an administrator\'s kick still publish the will', () => {
    const taken = new SessionHarness();
    const w = will();
    taken.connect('c1', { cleanSession: false, will: w });
    taken.connect('c2', { cleanSession: false });
    expect(taken.of('route')).toEqual([willRoute(w)]);

    const kicked = new SessionHarness();
    kicked.connect('c1', V5(60, { will: w }));
    kicked.input({ type: 'kick' });
    expect(kicked.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.AdministrativeAction)]);
    expect(kicked.of('route')).toEqual([willRoute(w)]);
  });
});

describe('presence reported to the tenant', () => {
  it('[DESIGN §3] CONNECT reports the session connected, with its token id', () => {
    const h = new SessionHarness();
    h.connect('c1', {}, { token: allowDevices() });
    expect(h.of('presence')).toEqual([presence('connected', 'tok1', shown(4, 0, null, 30))]);
  });

  it('[DESIGN §3] an anonymous session is reported without a token id', () => {
    const h = new SessionHarness();
    h.connect('c1');
    expect(h.of('presence')).toEqual([presence('connected', undefined, shown(4, 0, null, 30))]);
  });

  it('[DESIGN §3] a persistent session whose connection ends is reported offline; a clean one ended', () => {
    const persistent = new SessionHarness();
    persistent.connect('c1', { cleanSession: false }, { token: allowDevices() });
    socketClosed(persistent);
    expect(persistent.of('presence')).toEqual([presence('offline', 'tok1', shown(4, NEVER_EXPIRES, null))]);

    const clean = new SessionHarness();
    clean.connect('c1', { cleanSession: true }, { token: allowDevices() });
    clean.packet('c1', { type: 'disconnect' });
    expect(clean.of('presence')).toEqual([presence('ended', 'tok1')]);
  });

  it('[DESIGN §3] a take-over reports one presence in its step: connected', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: false }, { token: allowDevices() });
    h.connect('c2', { cleanSession: false }, { token: allowDevices() });
    expect(h.closed('c1')).toBe(true);
    expect(h.of('presence')).toEqual([presence('connected', 'tok1', shown(4, NEVER_EXPIRES, null, 30))]);
  });

  it('[DESIGN §3] a take-over of a clean session reports one presence in its step: connected', () => {
    const h = new SessionHarness();
    h.connect('c1', { cleanSession: true });
    h.connect('c2', { cleanSession: true });
    expect(h.of('presence')).toEqual([presence('connected', undefined, shown(4, 0, null, 30))]);
  });
});
