// core/session/token-change.ts: the tenant changed or removed the token of a session: revoked, the session
// ends (connection cut off, no will, nothing kept); otherwise the new ACL and limits apply at once, to live
// and offline sessions.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Will } from '../../../core/codec/packets.js';
import { ReasonCode } from '../../../core/reason-codes.js';
import type { TokenUpdate } from '../../../core/session/token-change.js';
import type { AclEntry } from '../../../core/acl/acl.js';
import type { TokenLimits } from '../../../core/tenancy/limits.js';
import { SessionHarness, T0, TENANT, delivery, token, serverDisconnectWith } from './harness.js';

const SESSION = `${TENANT}\u0000device-1`;
const V5: Partial<ConnectPacket> = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 60 } };

const ACL: AclEntry[] = [
  { filter: 'devices/%c/#', rights: ['pub', 'sub'] },
  { filter: 'alerts/+', rights: ['sub'] },
];
const WILL: Will = { topic: 'devices/device-1/status', payload: new TextEncoder().encode('offline'), qos: 1, retain: false };

function update(extra: Partial<TokenUpdate> = {}): TokenUpdate {
  return { acl: ACL, limits: {}, enabled: true, expiresAt: null, ...extra };
}

function tokenChanged(h: SessionHarness, tokenUpdate: TokenUpdate | null, tokenId = 'tok1') {
  return h.input({ type: 'tokenChanged', tokenId, token: tokenUpdate });
}

/** A connected session of client device-1 under token tok1 (ACL above), subscribed to `filters`. */
function connected(connect: Partial<ConnectPacket> = V5, limits: TokenLimits = {}, ...filters: string[]): SessionHarness {
  const h = new SessionHarness();
  h.connect('c1', connect, { token: token(ACL, limits) });
  if (filters.length > 0) {
    h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: 1 as const })) });
    h.subscribed();
    expect(h.sent('c1')).toEqual([{ type: 'suback', packetId: 1, reasonCodes: filters.map(() => 1) }]);
  }
  return h;
}

function publish(packetId: number, payload: string, topic = 'devices/device-1/temp') {
  return { type: 'publish' as const, topic, payload: new TextEncoder().encode(payload), qos: 1 as const, retain: false, dup: false, packetId };
}

function publish0(payload: string) {
  return { type: 'publish' as const, topic: 'devices/device-1/temp', payload: new TextEncoder().encode(payload), qos: 0 as const, retain: false, dup: false };
}

describe('onTokenChanged: revocation', () => {
  it.each([
    ['deleted', null],
    ['disabled', update({ enabled: false })],
    ['expired (expiresAt = now)', update({ expiresAt: T0 })],
    ['expired (expiresAt in the past)', update({ expiresAt: T0 - 1 })],
  ] as const)('(5.0 §3.14.2.1) [DESIGN §3] a %s token closes its connection with DISCONNECT 0x98 and ends the session: no will, nothing kept', (_label, tokenUpdate) => {
    const h = connected({ ...V5, will: WILL }, {}, 'alerts/+');
    tokenChanged(h, tokenUpdate);
    const toC1 = h.effects.filter((e) => (e.type === 'send' || e.type === 'close') && e.connectionId === 'c1');
    expect(toC1).toEqual([
      { type: 'send', connectionId: 'c1', packets: [serverDisconnectWith(ReasonCode.AdministrativeAction)] },
      { type: 'close', connectionId: 'c1' },
    ]);
    // The will was a publish with the token's rights, which are gone.
    expect(h.of('route')).toEqual([]);
    expect(h.store.record).toBeUndefined();
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['alerts/+'] }]);
    expect(h.of('presence')).toEqual([expect.objectContaining({ state: 'ended' })]);
    expect(h.state.connections.get('c1')?.phase).toBe('closed');
  });

  it('[MQTT-3.1.2-8] [DESIGN §3] a deleted token closes a 3.1.1 connection (no DISCONNECT in 3.1.1) without its will', () => {
    const h = connected({ cleanSession: false, will: WILL });
    tokenChanged(h, null);
    expect(h.sent('c1')).toEqual([]);
    expect(h.closed('c1')).toBe(true);
    expect(h.of('route')).toEqual([]);
    expect(h.store.record).toBeUndefined();
  });

  it('[DESIGN §3] a token that expires later is not revoked: the connection stays and the update is stored', () => {
    const h = connected();
    tokenChanged(h, update({ expiresAt: T0 + 1 }));
    expect(h.closed('c1')).toBe(false);
    expect(h.sent('c1')).toEqual([]);
    expect(h.state.connections.get('c1')?.phase).toBe('connected');
    expect(h.of('persist')).toEqual([{ type: 'persist', ops: [{ op: 'writeSession', record: expect.objectContaining({ connectionId: 'c1' }) }] }]);
  });

  it('[DESIGN §3] a revoked token ends an offline session too: subscriptions, queue and delayed will are discarded', () => {
    const h = connected({ ...V5, will: { ...WILL, properties: { willDelayInterval: 30 } } }, {}, 'alerts/+');
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    expect(h.store.record).toMatchObject({ connectionId: null, will: expect.anything() });
    h.deliver(delivery('alerts/a', 'queued', 1, { filters: ['alerts/+'] }));
    expect(h.store.queued().length).toBe(1);
    tokenChanged(h, null);
    expect(h.store.record).toBeUndefined();
    expect(h.store.queued()).toEqual([]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['alerts/+'] }]);
    expect(h.of('setAlarm')).toEqual([{ type: 'setAlarm', at: null }]);
    expect(h.of('presence')).toEqual([expect.objectContaining({ state: 'ended' })]);
    // The delayed will never goes out.
    h.advance(60_000);
    h.input({ type: 'alarm' });
    expect(h.of('route')).toEqual([]);
  });
});

describe('onTokenChanged: a changed ACL', () => {
  it('[DESIGN §3] subscriptions the new ACL no longer allows are removed here and at the shards; the others stay', () => {
    const h = connected(V5, {}, 'devices/device-1/#', 'alerts/+');
    const acl: AclEntry[] = [{ filter: 'devices/%c/#', rights: ['pub', 'sub'] }];
    tokenChanged(h, update({ acl }));
    expect(h.of('persist')).toEqual([
      {
        type: 'persist',
        ops: [
          { op: 'writeSession', record: expect.objectContaining({ token: { id: 'tok1', acl, limits: {} } }) },
          { op: 'deleteSubscription', filter: 'alerts/+' },
        ],
      },
    ]);
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['alerts/+'] }]);
    expect([...h.store.subscriptions.keys()]).toEqual(['devices/device-1/#']);
    expect(h.store.record?.token).toEqual({ id: 'tok1', acl, limits: {} });
    expect(h.closed('c1')).toBe(false);
    expect(h.sent('c1')).toEqual([]);
  });

  it('[DESIGN §3] an ACL that still allows every subscription removes none', () => {
    const h = connected(V5, {}, 'devices/device-1/#', 'alerts/+');
    tokenChanged(h, update({ acl: [...ACL, { filter: 'more/#', rights: ['sub'] }] }));
    expect(h.of('unsubscribeShards')).toEqual([]);
    expect(h.store.subscriptions.size).toBe(2);
  });

  it('[DESIGN §3] the subscriptions of an offline session are checked against the new ACL too', () => {
    const h = connected(V5, {}, 'devices/device-1/#', 'alerts/+');
    h.packet('c1', { type: 'disconnect', reasonCode: 0 });
    tokenChanged(h, update({ acl: [{ filter: 'alerts/+', rights: ['sub'] }] }));
    expect(h.of('unsubscribeShards')).toEqual([{ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['devices/device-1/#'] }]);
    expect([...h.store.subscriptions.keys()]).toEqual(['alerts/+']);
  });

  it('(5.0 §3.4.2.1) [DESIGN §5] the new ACL applies to the next PUBLISH: a topic it no longer allows gets PUBACK 0x87', () => {
    const h = connected();
    tokenChanged(h, update({ acl: [{ filter: 'devices/%c/#', rights: ['sub'] }] }));
    h.packet('c1', publish(7, 'x'));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([{ type: 'puback', packetId: 7, reasonCode: ReasonCode.NotAuthorized }]);
  });
});

describe('onTokenChanged: new limits', () => {
  it('(5.0 §3.4.2.1) a lower maxMessageSize applies to the next PUBLISH: PUBACK 0x97, counted, not routed', () => {
    const h = connected();
    h.packet('c1', publish(1, 'hello'));
    const [route] = h.of('route');
    h.routed(route!);
    expect(h.sent('c1')).toEqual([{ type: 'puback', packetId: 1 }]);

    tokenChanged(h, update({ limits: { maxMessageSize: 4 } }));
    h.packet('c1', publish(2, 'hello'));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([{ type: 'puback', packetId: 2, reasonCode: ReasonCode.QuotaExceeded }]);
    expect(h.store.counters.get('limit_message_size')).toBe(1);
  });

  it('(5.0 §3.14.2.1 0x96) a new publishRate applies to the next PUBLISH', () => {
    const h = connected();
    tokenChanged(h, update({ limits: { publishRate: 1 } }));
    h.packet('c1', publish0('a'));
    expect(h.of('route')).toHaveLength(1);
    h.packet('c1', publish0('b'));
    expect(h.of('route')).toEqual([]);
    expect(h.sent('c1')).toEqual([serverDisconnectWith(ReasonCode.MessageRateTooHigh, 'Message rate too high: this token may publish 1 messages per second')]);
    expect(h.closed('c1')).toBe(true);
    expect(h.store.counters.get('limit_publish_rate')).toBe(1);
  });

  it('(5.0 §3.14.2.1 0x96) a token change starts a fresh publish-rate bucket', () => {
    const h = connected(V5, { publishRate: 1 });
    h.packet('c1', publish0('a'));
    expect(h.of('route')).toHaveLength(1);
    tokenChanged(h, update({ limits: { publishRate: 1 } }));
    // Same instant: the old bucket is empty, the new one full.
    h.packet('c1', publish0('b'));
    expect(h.of('route')).toHaveLength(1);
    expect(h.closed('c1')).toBe(false);
  });
});

describe('onTokenChanged: not this session', () => {
  it('a change of another token does nothing', () => {
    const h = connected(V5, {}, 'alerts/+');
    const before = structuredClone(h.store.record);
    expect(tokenChanged(h, null, 'tok2')).toEqual([]);
    expect(tokenChanged(h, update({ acl: [] }), 'tok2')).toEqual([]);
    expect(h.store.record).toEqual(before);
    expect(h.store.subscriptions.size).toBe(1);
  });

  it('an anonymous session is bound by no token: nothing happens', () => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    expect(tokenChanged(h, null)).toEqual([]);
  });

  it('a session object with no session does nothing', () => {
    const h = new SessionHarness();
    expect(tokenChanged(h, null)).toEqual([]);
  });
});
