// A QoS 2 message routed again after its publisher's session crashed before PUBREC carries the key it was
// first routed with; a subscriber that holds that key already does not store the copy twice [MQTT-4.3.3-2].
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../core/codec/packets.js';
import { SessionHarness, delivery } from './harness.js';

const publishes = (packets: Packet[]) => packets.filter((p) => p.type === 'publish').length;

/** An offline persistent subscriber of `t` (its copies are queued). */
function offlineSubscriber(): SessionHarness {
  const h = new SessionHarness();
  h.connect('c1', { cleanSession: false });
  h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't', qos: 2 }] });
  h.subscribed();
  h.input({ type: 'socketClosed', connectionId: 'c1' });
  return h;
}

describe('exactly once across a publisher crash', () => {
  it('[MQTT-4.3.3-2] a QoS 2 copy whose key the session holds is not stored again, and is counted', () => {
    const h = offlineSubscriber();
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }));
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }), delivery('t', 'other', 2, { exactlyOnceKey: 'k2' }));
    expect(h.store.queued().map((m) => m.payload)).toEqual([new TextEncoder().encode('once'), new TextEncoder().encode('other')]);
    expect(h.store.counters.get('qos2_duplicate')).toBe(1);
  });

  it('[MQTT-4.3.3-2] the keys survive an eviction: they are read back from the stored rows', () => {
    const h = offlineSubscriber();
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }));
    h.restart();
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }));
    expect(h.store.queued()).toHaveLength(1);
  });

  it('[MQTT-4.3.3-2] an online subscriber that completed the message does not get the copy again while the object lives', () => {
    const h = new SessionHarness();
    h.connect('c1', {});
    h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't', qos: 2 }] });
    h.subscribed();
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }));
    const sent = h.sent('c1');
    expect(publishes(sent)).toBe(1);
    const packetId = (sent[0] as { packetId: number }).packetId;
    h.packet('c1', { type: 'pubrec', packetId });
    h.packet('c1', { type: 'pubcomp', packetId });
    h.deliver(delivery('t', 'once', 2, { exactlyOnceKey: 'k1' }));
    expect(publishes(h.sent('c1'))).toBe(0);
  });

  it('[MQTT-4.3.1-1] a QoS 1 copy is never suppressed: at least once allows a duplicate', () => {
    const h = offlineSubscriber();
    h.deliver(delivery('t', 'a', 1, { exactlyOnceKey: 'k1' }), delivery('t', 'a', 1, { exactlyOnceKey: 'k1' }));
    expect(h.store.queued()).toHaveLength(2);
  });
});
