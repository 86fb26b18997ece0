// CONNECT: decideConnect in the Worker (client id, will topic, keepalive, read as steps) and onConnect at the
// session (token, will admission, take-over, resume or clean start, CONNACK, resend and drain).
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Packet, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import { decideConnect, keepAliveDeadlineMs, type ConnectLimits } from '../../../core/session/connect.js';
import type { Effect } from '../../../core/session/effects.js';
import { OutboundState } from '../../../core/session/state.js';
import { SessionHarness, T0, TENANT, delivery, token, serverDisconnectWith } from './harness.js';

const NO_CEILING: ConnectLimits = { maximumKeepAlive: 0 };
const CEILING_60: ConnectLimits = { maximumKeepAlive: 60 };

function connect(overrides: Partial<ConnectPacket> = {}): ConnectPacket {
  return {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: 4,
    cleanSession: true,
    keepAlive: 30,
    clientId: 'client-1',
    ...overrides,
  };
}

function will(topic: string): Will {
  return { topic, payload: new Uint8Array([1, 2]), qos: 1, retain: false };
}

/** An id generator that records how often the server asked for one. */
function idSource(id = 'assigned-1'): { next: () => string; calls: () => number } {
  let calls = 0;
  return {
    next: () => {
      calls++;
      return id;
    },
    calls: () => calls,
  };
}

const failIfCalled = (): string => {
  throw new Error('newClientId must not be called');
};

describe('decideConnect: client identifier', () => {
  it('accepts a client-supplied id as is and never asks for a new one', () => {
    expect(decideConnect(connect({ clientId: 'sensor/42' }), NO_CEILING, failIfCalled)).toStrictEqual({
      ok: true,
      clientId: 'sensor/42',
      clientIdAssigned: false,
      keepAlive: 30,
    });
  });

  it.each([3, 4] as const)(
    '[MQTT-3.1.3-8] zero-length client id without clean session is refused with 0x02 (protocol level %i)',
    (protocolVersion) => {
      const ids = idSource();
      const decision = decideConnect(connect({ protocolVersion, clientId: '', cleanSession: false }), NO_CEILING, ids.next);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
      expect(ids.calls()).toBe(0);
    },
  );

  it('[MQTT-3.1.3-6] [MQTT-3.1.3-7] zero-length client id with clean session is assigned a server id', () => {
    const ids = idSource('srv-7f3a');
    const decision = decideConnect(connect({ clientId: '', cleanSession: true }), NO_CEILING, ids.next);
    expect(decision).toStrictEqual({ ok: true, clientId: 'srv-7f3a', clientIdAssigned: true, keepAlive: 30 });
    expect(ids.calls()).toBe(1);
  });

  it.each([true, false])(
    '[MQTT-3.1.3-6 v5] [MQTT-3.1.3-7 v5] zero-length client id is assigned a server id (clean start %s)',
    (cleanSession) => {
      const ids = idSource('srv-v5');
      const decision = decideConnect(connect({ protocolVersion: 5, clientId: '', cleanSession }), NO_CEILING, ids.next);
      expect(decision).toStrictEqual({ ok: true, clientId: 'srv-v5', clientIdAssigned: true, keepAlive: 30 });
      expect(ids.calls()).toBe(1);
    },
  );

  it.each([4, 5] as const)('(§1.5.3) a client id of 65535 code units is accepted (protocol level %i)', (protocolVersion) => {
    const clientId = 'x'.repeat(65535);
    const decision = decideConnect(connect({ protocolVersion, clientId }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: true, clientId, clientIdAssigned: false });
  });

  it.each([4, 5] as const)('(§1.5.3) a client id longer than 65535 is refused with 0x85 (protocol level %i)', (protocolVersion) => {
    const decision = decideConnect(connect({ protocolVersion, clientId: 'x'.repeat(65536) }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });

  it('(§1.5.3) an assigned id longer than 65535 is refused too', () => {
    const decision = decideConnect(connect({ clientId: '' }), NO_CEILING, () => 'y'.repeat(65536));
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: the broker\'s own client ids', () => {
  it('[MQTT-3.1.3-9] a device may not take a bridge\'s or rule\'s session: $bridge/… and $rule/… are refused (0x85; 3.1.1 0x02 after mapping)', () => {
    for (const clientId of ['$bridge/upstream', '$rule/to-webhook']) {
      for (const protocolVersion of [4, 5] as const) {
        const decision = decideConnect(connect({ protocolVersion, clientId }), NO_CEILING, failIfCalled);
        expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
      }
    }
    // Other ids that start with $ are a device's to use.
    expect(decideConnect(connect({ clientId: '$device' }), NO_CEILING, failIfCalled)).toMatchObject({ ok: true, clientId: '$device' });
  });
});

describe('decideConnect: MQTT 3.1', () => {
  it('(3.1 §3.1 client identifier) an empty client id is refused with 0x02 even with clean session', () => {
    const decision = decideConnect(connect({ protocolVersion: 3, clientId: '', cleanSession: true }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: will topic', () => {
  // [3.1.1 id, 5.0 id, will topic]
  const invalidWillTopics: ReadonlyArray<readonly [v4: string, v5: string, topic: string]> = [
    ['[MQTT-4.7.3-1]', '[MQTT-4.7.3-1 v5]', ''],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', '#'],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', 'a/+/b'],
    ['[MQTT-3.3.2-2]', '[MQTT-3.3.2-2 v5]', 'a/#'],
    ['[MQTT-4.7.3-2]', '[MQTT-4.7.3-2 v5]', 'a\u0000b'],
    ['[MQTT-1.5.3-1]', '[MQTT-1.5.4-1 v5]', 'a/\ud800'],
  ];

  it.each(invalidWillTopics.map(([v4, , topic]) => [v4, topic] as const))(
    '%s a will topic %j is a protocol violation in 3.1.1 (closed without CONNACK)',
    (_spec, topic) => {
      const decision = decideConnect(connect({ will: will(topic) }), NO_CEILING, failIfCalled);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ProtocolError });
    },
  );

  it.each(invalidWillTopics.map(([, v5, topic]) => [v5, topic] as const))(
    '%s a will topic %j is refused with 0x90 Topic Name invalid',
    (_spec, topic) => {
      const decision = decideConnect(connect({ protocolVersion: 5, will: will(topic) }), NO_CEILING, failIfCalled);
      expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.TopicNameInvalid });
    },
  );

  it.each([4, 5] as const)('a valid will topic is accepted (protocol level %i)', (protocolVersion) => {
    const decision = decideConnect(connect({ protocolVersion, will: will('clients/client-1/status') }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: true, clientId: 'client-1' });
  });

  it('checks the client id before the will: both wrong is refused for the id', () => {
    const decision = decideConnect(connect({ clientId: '', cleanSession: false, will: will('#') }), NO_CEILING, failIfCalled);
    expect(decision).toMatchObject({ ok: false, reasonCode: ReasonCode.ClientIdentifierNotValid });
  });
});

describe('decideConnect: keepalive', () => {
  it.each([
    [3, 0],
    [4, 0],
    [4, 30],
    [4, 60],
    [4, 61],
    [4, 65535],
  ] as const)('(3.1.1 §3.1.2.10) protocol level %i keepalive %i is enforced as asked, whatever the ceiling', (protocolVersion, keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it.each([
    ['above the ceiling', 61],
    ['far above the ceiling', 65535],
    ['0 (none)', 0],
  ] as const)('[MQTT-3.2.2-21 v5] keepalive %s is replaced by Server Keep Alive = the ceiling', (_label, keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive: 60, serverKeepAlive: 60 });
  });

  it.each([1, 30, 60])('[MQTT-3.2.2-22 v5] keepalive %i within the ceiling is used as asked, with no Server Keep Alive', (keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), CEILING_60, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it.each([0, 30, 65535])('[MQTT-3.2.2-22 v5] with no ceiling configured keepalive %i is used as asked', (keepAlive) => {
    const decision = decideConnect(connect({ protocolVersion: 5, keepAlive }), NO_CEILING, failIfCalled);
    expect(decision).toStrictEqual({ ok: true, clientId: 'client-1', clientIdAssigned: false, keepAlive });
  });

  it('[MQTT-3.2.2-21 v5] an assigned id and a Server Keep Alive come together', () => {
    const decision = decideConnect(connect({ protocolVersion: 5, clientId: '', keepAlive: 0 }), CEILING_60, () => 'srv-1');
    expect(decision).toStrictEqual({ ok: true, clientId: 'srv-1', clientIdAssigned: true, keepAlive: 60, serverKeepAlive: 60 });
  });
});

describe('keepAliveDeadlineMs', () => {
  it.each([
    [1, 1_500],
    [10, 15_000],
    [60, 90_000],
    [65535, 98_302_500],
  ])('[MQTT-3.1.2-24] keepalive %i s closes after one and a half times it: %i ms', (seconds, ms) => {
    expect(keepAliveDeadlineMs(seconds)).toBe(ms);
  });

  it('(3.1.1 §3.1.2.10) keepalive 0 turns the mechanism off: deadline 0', () => {
    expect(keepAliveDeadlineMs(0)).toBe(0);
  });
});

// ── onConnect: CONNECT at the session, driven through the harness exactly as SessionDO drives it ──────────

/** The session object's name for client 'device-1' (a route's origin, an unsubscribeShards' session). */
const SESSION = `${TENANT}\u0000device-1`;

/** SUBSCRIBE at QoS 2 on `connectionId`, answered by the shards: the session then holds `filters`. */
function subscribeTo(h: SessionHarness, connectionId: string, ...filters: string[]): void {
  h.packet(connectionId, { type: 'subscribe', packetId: 1, subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: 2 as const })) });
  h.subscribed();
}

function connackOf(h: SessionHarness, connectionId: string): Extract<Packet, { type: 'connack' }> {
  const connacks = h.sent(connectionId).filter((p): p is Extract<Packet, { type: 'connack' }> => p.type === 'connack');
  expect(connacks).toHaveLength(1);
  return connacks[0]!;
}

/** The route effect of a will of client 'device-1' (no ack: nobody waits for a will). */
function willRoute(w: Will): Effect {
  return { type: 'route', tenant: TENANT, message: { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, origin: SESSION } };
}

function publishOut(topic: string, payload: string, qos: 1 | 2, packetId: number, dup: boolean): Packet {
  return { type: 'publish', topic, payload: new TextEncoder().encode(payload), qos, retain: false, dup, packetId };
}

const persistOps = (h: SessionHarness) => h.of('persist').flatMap((e) => e.ops);
const V5_PERSISTENT = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 60 } } as const;

describe('onConnect (session)', () => {
  describe('Session Present', () => {
    it('[MQTT-3.2.2-1] a 3.1.1 clean session gets Session Present 0 even when a session was stored', () => {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: false });
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect' });
      h.connect('c2', { cleanSession: true });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
    });

    it('[MQTT-3.2.2-3] a 3.1.1 persistent CONNECT with nothing stored gets Session Present 0', () => {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: false });
      expect(connackOf(h, 'c1')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.store.record).toMatchObject({ connectionId: 'c1', sessionExpiryInterval: 0xffffffff });
    });

    it('[MQTT-3.2.2-2] [MQTT-3.1.2-4] a 3.1.1 persistent session is resumed with Session Present 1 and its subscriptions', () => {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: false });
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect' });
      h.connect('c2', { cleanSession: false });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: true, reasonCode: 0 });
      expect(persistOps(h)).not.toContainEqual({ op: 'deleteAll' });
      expect(h.of('unsubscribeShards')).toEqual([]);
      expect([...h.store.subscriptions.keys()]).toEqual(['a/b']);
      expect(h.store.record).toMatchObject({ connectionId: 'c2' });
    });

    it('[MQTT-3.2.2-3] [MQTT-3.1.2-6] a clean session is not resumed by a later persistent CONNECT', () => {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: true });
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect' });
      h.connect('c2', { cleanSession: false });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.store.subscriptions.size).toBe(0);
    });

    it('[MQTT-3.2.2-3 v5] a session with Session Expiry Interval 0 (absent) ended with its connection: Session Present 0', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5, cleanSession: false });
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect', reasonCode: 0 });
      h.connect('c2', { protocolVersion: 5, cleanSession: false });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.store.subscriptions.size).toBe(0);
    });

    it('[MQTT-3.2.2-3 v5] [MQTT-3.1.2-5 v5] a session within its Session Expiry Interval is resumed with Session Present 1', () => {
      const h = new SessionHarness();
      h.connect('c1', V5_PERSISTENT);
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect', reasonCode: 0 });
      h.advance(59_999);
      h.connect('c2', V5_PERSISTENT);
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: true, reasonCode: 0 });
      expect([...h.store.subscriptions.keys()]).toEqual(['a/b']);
      expect(h.store.record).toMatchObject({ connectionId: 'c2', expiresAt: null });
    });

    it('[MQTT-4.1.0-2 v5] a session whose expiry passed is not resumed even if its alarm has not run: Session Present 0', () => {
      const h = new SessionHarness();
      h.connect('c1', V5_PERSISTENT);
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect', reasonCode: 0 });
      h.advance(60_000);
      h.connect('c2', V5_PERSISTENT);
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b'] }]);
      expect(h.store.subscriptions.size).toBe(0);
    });

    it('[MQTT-3.2.2-2 v5] [MQTT-3.1.2-4 v5] Clean Start 1 gets Session Present 0 and discards the stored session', () => {
      const h = new SessionHarness();
      h.connect('c1', V5_PERSISTENT);
      subscribeTo(h, 'c1', 'a/b');
      h.packet('c1', { type: 'disconnect', reasonCode: 0 });
      h.connect('c2', { ...V5_PERSISTENT, cleanSession: true });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.store.subscriptions.size).toBe(0);
      expect(h.store.record).toMatchObject({ connectionId: 'c2', sessionExpiryInterval: 60 });
    });
  });

  describe('clean start', () => {
    it('[MQTT-3.1.2-6] clean session discards stored subscriptions and queued messages and unsubscribes them at the shards', () => {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: false });
      subscribeTo(h, 'c1', 'a/b', 'c/#');
      h.packet('c1', { type: 'disconnect' });
      h.deliver(delivery('a/b', 'one', 1), delivery('c/d', 'two', 2, { filters: ['c/#'] }));
      expect(h.store.queued().map((m) => m.topic)).toEqual(['a/b', 'c/d']);

      h.connect('c2', { cleanSession: true });
      expect(persistOps(h)[0]).toEqual({ op: 'deleteAll' });
      expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['a/b', 'c/#'] }]);
      expect(h.sent('c2').map((p) => p.type)).toEqual(['connack']);
      expect(h.store.subscriptions.size).toBe(0);
      expect(h.store.outbound.size).toBe(0);
      expect(h.state.session.queue.length).toBe(0);
    });

    it('[MQTT-3.1.2-8] the will of the CONNECT is stored with the session', () => {
      const h = new SessionHarness();
      const w = will('status/device-1');
      h.connect('c1', { cleanSession: false, will: w });
      expect(h.store.record).toMatchObject({ will: w, willAt: null, expiresAt: null, token: null });
    });
  });

  describe('take-over', () => {
    it('[MQTT-3.1.4-3 v5] a CONNECT for a live client id closes the old connection with DISCONNECT 0x8E and publishes its will', () => {
      const h = new SessionHarness();
      const w = will('status/device-1');
      h.connect('c1', { ...V5_PERSISTENT, will: w });
      h.connect('c2', V5_PERSISTENT);
      expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.SessionTakenOver)]);
      expect(h.closed('c1')).toBe(true);
      expect(h.closed('c2')).toBe(false);
      // DISCONNECT first, then the close: the client learns why.
      const toC1 = h.effects.filter((e) => (e.type === 'send' || e.type === 'close') && e.connectionId === 'c1').map((e) => e.type);
      expect(toC1).toEqual(['send', 'close']);
      expect(h.of('route')).toEqual([willRoute(w)]);
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: true, reasonCode: 0 });
      expect(h.store.record).toMatchObject({ connectionId: 'c2', will: null });
      expect(h.state.connections.get('c1')?.phase).toBe('closed');
    });

    it('[MQTT-3.1.4-2] a 3.1.1 take-over closes the old connection without a DISCONNECT and publishes its will', () => {
      const h = new SessionHarness();
      const w = will('status/device-1');
      h.connect('c1', { cleanSession: true, will: w });
      h.connect('c2', { cleanSession: true });
      expect(h.sent('c1')).toEqual([]);
      expect(h.closed('c1')).toBe(true);
      expect(h.of('route')).toEqual([willRoute(w)]);
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
    });

    it('[MQTT-3.1.3-9 v5] a take-over that resumes the session does not publish a will with a Will Delay Interval', () => {
      const h = new SessionHarness();
      h.connect('c1', { ...V5_PERSISTENT, will: { ...will('status/device-1'), properties: { willDelayInterval: 30 } } });
      h.connect('c2', V5_PERSISTENT);
      expect(h.closed('c1')).toBe(true);
      expect(h.of('route')).toEqual([]);
      expect(h.of('setAlarm').at(-1)).toEqual({ type: 'setAlarm', at: null });
      expect(h.store.record).toMatchObject({ connectionId: 'c2', will: null, willAt: null });
    });
  });

  describe('take-over races', () => {
    it('[MQTT-3.1.4-2] a connection still awaiting its CONNECT is not a connected client: the other CONNECT leaves it open, and its own CONNECT then takes over', () => {
      const h = new SessionHarness();
      h.open('c1');
      h.open('c2');
      h.packet('c1', { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: false, keepAlive: 30, clientId: 'device-1' });
      expect(connackOf(h, 'c1')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.closed('c2')).toBe(false);

      h.packet('c2', { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: false, keepAlive: 30, clientId: 'device-1' });
      expect(h.closed('c1')).toBe(true);
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: true, reasonCode: 0 });
    });
  });

  describe('refused', () => {
    it('[MQTT-3.2.2-4] [MQTT-3.2.2-5] a connection whose token was lost in a restart is refused with 0x03 and the stored session is untouched', () => {
      const h = new SessionHarness();
      h.connect('c0', { cleanSession: false });
      subscribeTo(h, 'c0', 'a/b');
      h.packet('c0', { type: 'disconnect' });
      const stored = structuredClone(h.store.record);

      h.open('c1', { token: token([{ filter: '#', rights: ['pub', 'sub'] }]) });
      h.restart();
      h.packet('c1', { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, cleanSession: true, keepAlive: 30, clientId: 'device-1' });
      expect(h.effects).toEqual([
        { type: 'saveConnection', connection: expect.objectContaining({ id: 'c1', phase: 'closed', protocolVersion: 4 }) },
        { type: 'send', connectionId: 'c1', packets: [{ type: 'connack', sessionPresent: false, reasonCode: 0x03 }] },
        { type: 'close', connectionId: 'c1' },
      ]);
      expect(h.store.record).toEqual(stored);
      expect([...h.store.subscriptions.keys()]).toEqual(['a/b']);
    });

    it('[MQTT-3.2.2-6 v5] [MQTT-3.2.2-7 v5] a 5.0 connection whose token was lost is refused with 0x88 and the live owner keeps the session', () => {
      const h = new SessionHarness();
      h.connect('c0', V5_PERSISTENT);
      h.open('c1', { token: null });
      h.restart();
      h.packet('c1', { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, cleanSession: true, keepAlive: 30, clientId: 'device-1' });
      expect(h.effects).toEqual([
        { type: 'saveConnection', connection: expect.objectContaining({ id: 'c1', phase: 'closed', protocolVersion: 5 }) },
        { type: 'send', connectionId: 'c1', packets: [{ type: 'connack', sessionPresent: false, reasonCode: ReasonCode.ServerUnavailable }] },
        { type: 'close', connectionId: 'c1' },
      ]);
      expect(h.state.connections.get('c0')?.phase).toBe('connected');
      expect(h.store.record).toMatchObject({ connectionId: 'c0' });
    });

    const devicesOnly = token([{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }]);
    const everything4Bytes = token([{ filter: '#', rights: ['pub', 'sub'] }], { maxMessageSize: 4 });
    const offline: Will = { topic: 'devices/device-1/status', payload: new TextEncoder().encode('offline'), qos: 1, retain: false };
    const refusedWills: ReadonlyArray<readonly [label: string, version: 4 | 5, tok: typeof devicesOnly | null, w: Will, code: number]> = [
      ['a topic outside the ACL', 4, devicesOnly, { ...offline, topic: 'other/status' }, 0x05],
      ['a topic outside the ACL', 5, devicesOnly, { ...offline, topic: 'other/status' }, ReasonCode.NotAuthorized],
      ['a $ topic', 4, null, { ...offline, topic: '$SYS/status' }, 0x05],
      ['a $ topic', 5, null, { ...offline, topic: '$SYS/status' }, ReasonCode.NotAuthorized],
      ['a payload over maxMessageSize', 4, everything4Bytes, offline, 0x03],
      ['a payload over maxMessageSize', 5, everything4Bytes, offline, ReasonCode.QuotaExceeded],
      ['a payload declared UTF-8 that is not', 5, null, { ...offline, payload: new Uint8Array([0xff]), properties: { payloadFormatIndicator: 1 } }, ReasonCode.PayloadFormatInvalid],
    ];

    it.each(refusedWills.map(([label, version, tok, w, code]) => [label, version, `0x${code.toString(16).padStart(2, '0')}`, tok, w, code] as const))(
      '[DESIGN §3] a will with %s refuses the CONNECT (protocol level %i) with CONNACK %s',
      (_label, protocolVersion, _hex, tok, w, code) => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion, cleanSession: false, will: w }, { token: tok });
      const counted = code === 0x03 || code === ReasonCode.QuotaExceeded;
      expect(h.effects).toEqual([
        // A will refused for its size counts as the token's message-size limit hit.
        ...(counted ? [{ type: 'persist', ops: [{ op: 'count', counter: 'limit_message_size', n: 1 }] }] : []),
        { type: 'saveConnection', connection: expect.objectContaining({ id: 'c1', phase: 'closed', protocolVersion }) },
        { type: 'send', connectionId: 'c1', packets: [{ type: 'connack', sessionPresent: false, reasonCode: code }] },
        { type: 'close', connectionId: 'c1' },
      ]);
      expect(h.store.record).toBeUndefined();
      },
    );

    it('[DESIGN §3] a will inside the ACL and within maxMessageSize is accepted', () => {
      const h = new SessionHarness();
      const tok = token([{ filter: 'devices/%c/#', rights: ['pub'] }], { maxMessageSize: 7 });
      h.connect('c1', { protocolVersion: 5, will: offline }, { token: tok });
      expect(connackOf(h, 'c1')).toMatchObject({ sessionPresent: false, reasonCode: 0 });
      expect(h.store.record).toMatchObject({ will: offline, token: tok });
    });
  });

  describe('5.0 CONNACK properties', () => {
    const ANNOUNCED = {
      receiveMaximum: 1024,
      maximumPacketSize: 1_048_576,
      topicAliasMaximum: 32,
      retainAvailable: 1,
      wildcardSubscriptionAvailable: 1,
      subscriptionIdentifierAvailable: 1,
      sharedSubscriptionAvailable: 1,
    };

    it('(5.0 §3.2.2.3) CONNACK announces Receive Maximum, Maximum Packet Size, Topic Alias Maximum and nothing assigned', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5 });
      expect(h.sent('c1')).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0, properties: ANNOUNCED }]);
    });

    it('[MQTT-3.1.3-7 v5] [MQTT-3.2.2-16 v5] an assigned client identifier is returned in CONNACK', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5 }, { clientId: 'srv-7f3a', clientIdAssigned: true });
      expect(connackOf(h, 'c1').properties).toEqual({ ...ANNOUNCED, assignedClientIdentifier: 'srv-7f3a' });
    });

    it('[MQTT-3.2.2-21 v5] Server Keep Alive is announced when the Worker set one', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5, keepAlive: 0 }, { serverKeepAlive: 60 });
      expect(connackOf(h, 'c1').properties).toEqual({ ...ANNOUNCED, serverKeepAlive: 60 });
    });

    it.each([undefined, 0] as const)('[MQTT-3.1.2-28 v5] Request Response Information %s: no Response Information', (requestResponseInformation) => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5, properties: requestResponseInformation === undefined ? {} : { requestResponseInformation } });
      expect(connackOf(h, 'c1').properties).toEqual(ANNOUNCED);
    });

    it('(5.0 §3.1.2.11.7) Request Response Information 1: Response Information is returned', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5, properties: { requestResponseInformation: 1 } });
      expect(connackOf(h, 'c1').properties).toEqual({ ...ANNOUNCED, responseInformation: 'response/device-1' });
    });

    it('(3.1.1 §3.2) a 3.1.1 CONNACK carries no properties', () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 4 }, { clientIdAssigned: true, serverKeepAlive: 60 });
      expect(connackOf(h, 'c1').properties ?? {}).toEqual({});
    });

    it("(5.0 §3.1.2.11.3) the client's Receive Maximum bounds what is sent to it unacknowledged", () => {
      const h = new SessionHarness();
      h.connect('c1', { protocolVersion: 5, properties: { receiveMaximum: 1 } });
      expect(h.of('saveConnection').at(-1)?.connection).toMatchObject({ receiveMaximum: 1, protocolVersion: 5 });
      subscribeTo(h, 'c1', 'a/b');
      h.deliver(delivery('a/b', 'one', 1), delivery('a/b', 'two', 1));
      expect(h.sent('c1')).toEqual([publishOut('a/b', 'one', 1, 1, false)]);
      h.packet('c1', { type: 'puback', packetId: 1 });
      expect(h.sent('c1')).toEqual([publishOut('a/b', 'two', 1, 2, false)]);
    });
  });

  describe('resume', () => {
    /** A persistent 3.1.1 session with a/1 (QoS 1) and a/3 (QoS 2) published, a/2 released, a/4 and a/5 queued. */
    function sessionWithInflightAndQueue(): SessionHarness {
      const h = new SessionHarness();
      h.connect('c1', { cleanSession: false });
      subscribeTo(h, 'c1', 'a/#');
      const on = { filters: ['a/#'] };
      h.deliver(delivery('a/1', 'one', 1, on), delivery('a/2', 'two', 2, on), delivery('a/3', 'three', 2, on));
      expect(h.sent('c1')).toEqual([publishOut('a/1', 'one', 1, 1, false), publishOut('a/2', 'two', 2, 2, false), publishOut('a/3', 'three', 2, 3, false)]);
      h.packet('c1', { type: 'pubrec', packetId: 2 });
      expect(h.sent('c1')).toEqual([{ type: 'pubrel', packetId: 2 }]);
      h.input({ type: 'socketClosed', connectionId: 'c1' });
      h.deliver(delivery('a/4', 'four', 1, on), delivery('a/5', 'five', 2, on));
      expect(h.store.queued().map((m) => m.topic)).toEqual(['a/4', 'a/5']);
      return h;
    }

    it('[MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1] inflight messages are resent with DUP=1 and PUBREL for released ones, in original order; then the queue in order', () => {
      const h = sessionWithInflightAndQueue();
      h.restart();
      h.connect('c2', { cleanSession: false });
      const sends = h.of('send').map((e) => [e.connectionId, e.packets]);
      expect(sends).toEqual([
        ['c2', [expect.objectContaining({ type: 'connack', sessionPresent: true, reasonCode: 0 })]],
        ['c2', [publishOut('a/1', 'one', 1, 1, true), { type: 'pubrel', packetId: 2 }, publishOut('a/3', 'three', 2, 3, true)]],
        ['c2', [publishOut('a/4', 'four', 1, 4, false), publishOut('a/5', 'five', 2, 5, false)]],
      ]);
      expect([...h.store.outbound.values()].map((m) => [m.topic, m.packetId, m.state])).toEqual([
        ['a/1', 1, OutboundState.Published],
        ['a/2', 2, OutboundState.Released],
        ['a/3', 3, OutboundState.Published],
        ['a/4', 4, OutboundState.Published],
        ['a/5', 5, OutboundState.Published],
      ]);
    });

    it('[MQTT-3.2.0-1] CONNACK travels in a send of its own, before anything else to the client', () => {
      const h = sessionWithInflightAndQueue();
      h.connect('c2', { cleanSession: false });
      const sends = h.of('send');
      expect(sends.length).toBeGreaterThan(1);
      expect(sends[0]).toEqual({ type: 'send', connectionId: 'c2', packets: [expect.objectContaining({ type: 'connack' })] });
      expect(sends.slice(1).flatMap((e) => e.packets).map((p) => p.type)).toEqual(['publish', 'pubrel', 'publish', 'publish', 'publish']);
    });

    it('[MQTT-3.1.3-9 v5] a reconnect within the Will Delay Interval cancels the delayed will', () => {
      const h = new SessionHarness();
      const w: Will = { ...will('status/device-1'), properties: { willDelayInterval: 60 } };
      h.connect('c1', { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 300 }, will: w });
      h.input({ type: 'socketClosed', connectionId: 'c1' });
      expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: T0 + 60_000 }]);
      expect(h.of('route')).toEqual([]);

      h.advance(59_999);
      h.connect('c2', { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 300 } });
      expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
      expect(h.of('route')).toEqual([]);
      expect(h.store.record).toMatchObject({ connectionId: 'c2', will: null, willAt: null });

      // An alarm that was already due (alarms are at least once) finds nothing to publish.
      h.advance(1);
      h.input({ type: 'alarm' });
      expect(h.effects).toEqual([]);
    });

    it('[MQTT-3.1.2-8 v5] a reconnect after the Will Delay Interval passed does not cancel the will, even before the alarm ran', () => {
      const h = new SessionHarness();
      const w: Will = { ...will('status/device-1'), properties: { willDelayInterval: 60 } };
      h.connect('c1', { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 300 }, will: w });
      h.input({ type: 'socketClosed', connectionId: 'c1' });
      h.advance(61_000);
      // The alarm for T0 + 60 s has not run yet (it is at least once, not on time): the CONNECT comes first.
      h.connect('c2', { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 300 } });
      expect(h.of('route')).toEqual([willRoute(w)]);
    });

    it('[DESIGN §3] a resume under another token drops the stored subscriptions that token may not subscribe to', () => {
      const h = new SessionHarness();
      const all = token([{ filter: '#', rights: ['pub', 'sub'] }], {}, 'tokA');
      const publicOnly = token([{ filter: 'public/#', rights: ['pub', 'sub'] }], {}, 'tokB');
      h.connect('c1', { cleanSession: false }, { token: all });
      subscribeTo(h, 'c1', 'secret/#', 'public/#');
      h.packet('c1', { type: 'disconnect' });
      h.connect('c2', { cleanSession: false }, { token: publicOnly });
      expect(connackOf(h, 'c2')).toMatchObject({ sessionPresent: true, reasonCode: 0 });
      expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['secret/#'] }]);
      expect([...h.store.subscriptions.keys()]).toEqual(['public/#']);
    });
  });
});
