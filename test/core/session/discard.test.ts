// core/session/discard.ts: an administrator ends an offline session (DELETE …/sessions/{clientId}/state);
// a connected one is left alone, and nothing stored answers 'none'.
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Will } from '../../../core/codec/packets.js';
import { discardOffline } from '../../../core/session/discard.js';
import { CONFIG, SessionHarness, TENANT, token } from './harness.js';

const SESSION = `${TENANT}\u0000device-1`;
const WILL: Will = { topic: 'status/device-1', payload: new TextEncoder().encode('gone'), qos: 1, retain: false, properties: { willDelayInterval: 300 } };
const V5: Partial<ConnectPacket> = { protocolVersion: 5, cleanSession: false, properties: { sessionExpiryInterval: 3600 }, will: WILL };

/** A 5.0 session of device-1 subscribed to alerts/+, its client gone (the delayed will pending). */
function offline(): SessionHarness {
  const h = new SessionHarness();
  h.connect('c1', V5, { token: token([{ filter: '#', rights: ['pub', 'sub'] }]) });
  h.packet('c1', { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'alerts/+', qos: 1 }] });
  h.subscribed();
  h.input({ type: 'socketClosed', connectionId: 'c1' });
  expect(h.store.record?.willAt).not.toBeNull();
  return h;
}

describe('discardOffline', () => {
  it('[MQTT-4.1.0-2 v5] ends an offline session: rows, shard subscriptions, alarm and presence go; the pending will is dropped, not published', () => {
    const h = offline();
    const { outcome, effects } = discardOffline(h.state, h.now, CONFIG);
    expect(outcome).toBe('discarded');
    const persist = effects.find((e) => e.type === 'persist');
    expect(persist).toEqual({ type: 'persist', ops: [{ op: 'deleteAll' }] });
    h.store.apply(persist!.type === 'persist' ? persist!.ops : []);
    expect(h.store.record).toBeUndefined();
    expect(effects).toContainEqual({ type: 'unsubscribeShards', tenant: TENANT, session: SESSION, filters: ['alerts/+'] });
    expect(effects).toContainEqual({ type: 'setAlarm', at: null });
    expect(effects).toContainEqual(expect.objectContaining({ type: 'presence', clientId: 'device-1', state: 'ended' }));
    expect(effects.filter((e) => e.type === 'route')).toEqual([]);
    expect(h.state.session.record).toBeUndefined();
  });

  it('[MQTT-3.2.2-2] the next CONNECT with clean session 0 finds no session (session present 0)', () => {
    const h = offline();
    const { effects } = discardOffline(h.state, h.now, CONFIG);
    for (const effect of effects) if (effect.type === 'persist') h.store.apply(effect.ops);
    h.connect('c2', V5);
    expect(h.sent('c2')[0]).toMatchObject({ type: 'connack', sessionPresent: false });
  });

  it('leaves a connected session alone', () => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    const { outcome, effects } = discardOffline(h.state, h.now, CONFIG);
    expect(outcome).toBe('connected');
    expect(effects).toEqual([]);
    expect(h.state.session.record?.connectionId).toBe('c1');
  });

  it('answers none when nothing is stored', () => {
    const h = new SessionHarness();
    expect(discardOffline(h.state, h.now, CONFIG)).toEqual({ outcome: 'none', effects: [] });
  });

  it('an owner a reset lost without a close event counts as offline', () => {
    const h = new SessionHarness();
    h.connect('c1', V5);
    h.restart(['c1']);
    expect(discardOffline(h.state, h.now, CONFIG).outcome).toBe('discarded');
  });
});
