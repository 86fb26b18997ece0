// A session's messages leave only for a token that may read them: checked as they are queued and again as
// they are drained or resent, because the token can be narrowed, or another token can take the client id
// over, between the two [DESIGN §3] (finding H1 of the Trust review).
import { describe, expect, it } from 'vitest';
import type { AclEntry } from '../../../core/acl/acl.js';
import type { Packet } from '../../../core/codec/packets.js';
import { SessionHarness, delivery, token } from './harness.js';

const BACKEND: AclEntry[] = [{ filter: 'orders/#', rights: ['pub', 'sub'] }];
const NARROW: AclEntry[] = [{ filter: 'nothing/#', rights: ['pub', 'sub'] }];

const publishes = (packets: Packet[]) => packets.filter((p) => p.type === 'publish').map((p) => (p as { topic: string }).topic);

/** A persistent session of `device-1` under the backend's token, subscribed to orders/#. */
function backendSession(): SessionHarness {
  const h = new SessionHarness();
  h.connect('c1', { cleanSession: false }, { token: token(BACKEND, {}, 'backend') });
  h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'orders/#', qos: 1 }] });
  h.subscribed();
  return h;
}

describe('messages leave only for a token that may read them', () => {
  it('[MQTT-3.1.2-4] [DESIGN §3] a take-over by a token that may not read orders/# resumes the session without its queued or inflight messages', () => {
    const h = backendSession();
    h.deliver(delivery('orders/1', 'inflight', 1, { filters: ['orders/#'] }));
    expect(publishes(h.sent('c1'))).toEqual(['orders/1']);
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.deliver(delivery('orders/2', 'queued', 1, { filters: ['orders/#'] }), delivery('orders/3', 'queued', 2, { filters: ['orders/#'] }));
    expect(h.store.queued().map((m) => m.topic)).toEqual(['orders/2', 'orders/3']);

    h.connect('c2', { cleanSession: false }, { token: token(NARROW, {}, 'attacker') });
    const sent = h.sent('c2');
    expect(sent[0]).toMatchObject({ type: 'connack', sessionPresent: true });
    // Nothing of the backend's leaves: not the inflight message, not the queued ones.
    expect(publishes(sent)).toEqual([]);
    expect(h.store.queued()).toEqual([]);
    expect(h.state.session.inflight.size).toBe(0);
    // The subscription the new token may not hold is gone, here and at the shards.
    expect(h.state.session.subscriptions.has('orders/#')).toBe(false);
    expect(h.of('unsubscribeShards')).toEqual([expect.objectContaining({ filters: ['orders/#'] })]);
    // Live messages the shards still sent before they forgot it are not delivered either.
    h.deliver(delivery('orders/4', 'live', 1, { filters: ['orders/#'] }));
    expect(publishes(h.sent('c2'))).toEqual([]);
  });

  it('[DESIGN §3] a narrowed token: queued messages it may no longer read are dropped as they drain, and counted', () => {
    const h = backendSession();
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    h.deliver(delivery('orders/1', 'a', 1, { filters: ['orders/#'] }), delivery('orders/secret', 'b', 1, { filters: ['orders/#'] }));
    expect(h.store.queued().map((m) => m.topic)).toEqual(['orders/1', 'orders/secret']);
    // First match wins: the deny entry comes before the allow.
    const acl: AclEntry[] = [
      { filter: 'orders/secret', rights: ['sub'], access: 'deny' },
      { filter: 'orders/#', rights: ['pub', 'sub'] },
    ];
    h.input({ type: 'tokenChanged', tokenId: 'backend', token: { acl, limits: {}, enabled: true, expiresAt: null } });
    h.connect('c2', { cleanSession: false }, { token: token(acl, {}, 'backend') });
    expect(publishes(h.sent('c2'))).toEqual(['orders/1']);
    expect(h.store.queued()).toEqual([]);
    expect(h.store.counters.get('acl_dropped')).toBe(1);
    // And a new one is not even queued.
    h.input({ type: 'socketClosed', connectionId: 'c2' });
    h.deliver(delivery('orders/secret', 'c', 1, { filters: ['orders/#'] }));
    expect(h.store.queued()).toEqual([]);
    expect(h.store.counters.get('acl_dropped')).toBe(2);
  });

  it('[DESIGN §5] allow # then deny sub test/nosubscribe: a # subscriber receives test/ok but not test/nosubscribe', () => {
    const acl: AclEntry[] = [
      { filter: 'test/nosubscribe', rights: ['sub'], access: 'deny' },
      { filter: '#', rights: ['pub', 'sub'] },
    ];
    const h = new SessionHarness();
    h.connect('c1', {}, { token: token(acl) });
    h.packet('c1', {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: '#', qos: 1 },
        { topicFilter: 'test/nosubscribe', qos: 1 },
      ],
    });
    h.subscribed();
    expect(h.sent('c1')).toEqual([{ type: 'suback', packetId: 1, reasonCodes: [1, 0x80] }]);
    h.deliver(delivery('test/nosubscribe', 'no', 0, { filters: ['#'] }), delivery('test/ok', 'yes', 1, { filters: ['#'] }));
    expect(publishes(h.sent('c1'))).toEqual(['test/ok']);
  });
});
