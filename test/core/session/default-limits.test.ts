// Deployment defaults that protect a tenant from itself, through the session state machine: filters per
// SUBSCRIBE, subscriptions per session, the queue's byte bound, and the retained replay read in rounds (across
// wakes too).
import { describe, expect, it } from 'vitest';
import type { ConnectPacket, Packet, QoS, Subscription } from '../../../core/codec/packets.js';
import { ReasonCode, SUBACK_FAILURE_V3 } from '../../../core/reason-codes.js';
import { sessionName, type Delivery, type RetainedMessage } from '../../../core/routing/message.js';
import type { RetainedPage } from '../../../core/routing/subscription.js';
import type { Effect } from '../../../core/session/effects.js';
import { CONFIG, SessionHarness, TENANT, token, type OpenOptions } from './harness.js';

const V5: Partial<ConnectPacket> = { protocolVersion: 5 };
const V4: Partial<ConnectPacket> = { protocolVersion: 4 };
const PERSISTENT_V4: Partial<ConnectPacket> = { protocolVersion: 4, cleanSession: false };
const SESSION = sessionName(TENANT, 'device-1');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function online(connect: Partial<ConnectPacket> = V5, options: OpenOptions = {}, config = CONFIG): SessionHarness {
  const h = new SessionHarness(config);
  h.connect('c1', connect, options);
  return h;
}

function subscribePacket(...subscriptions: Subscription[]): Packet {
  return { type: 'subscribe', packetId: 10, subscriptions };
}

function filters(n: number, qos: QoS = 0): Subscription[] {
  return Array.from({ length: n }, (_, i) => ({ topicFilter: `f/${i}/#`, qos }));
}

function suback(h: SessionHarness, connectionId = 'c1'): number[] {
  const packet = h.sent(connectionId).find((p) => p.type === 'suback');
  if (packet?.type !== 'suback') throw new Error('no SUBACK');
  return packet.reasonCodes;
}

function subscribeShards(effects: readonly Effect[]): Extract<Effect, { type: 'subscribeShards' }> | undefined {
  return effects.find((e): e is Extract<Effect, { type: 'subscribeShards' }> => e.type === 'subscribeShards');
}

describe('filters per SUBSCRIBE (MAX_FILTERS_PER_SUBSCRIBE)', () => {
  it('[MQTT-3.9.3-1 v5] filters past the limit get 0x97 Quota exceeded in their SUBACK slot, are not subscribed, and are counted', () => {
    const h = online(V5, {}, { ...CONFIG, maximumFiltersPerSubscribe: 3 });
    const effects = h.packet('c1', subscribePacket(...filters(5, 1)));
    expect(subscribeShards(effects)?.subscriptions.map((s) => s.filter)).toStrictEqual(['f/0/#', 'f/1/#', 'f/2/#']);
    h.subscribed();
    expect(suback(h)).toStrictEqual([1, 1, 1, ReasonCode.QuotaExceeded, ReasonCode.QuotaExceeded]);
    expect([...h.store.subscriptions.keys()]).toStrictEqual(['f/0/#', 'f/1/#', 'f/2/#']);
    expect(h.store.counters.get('limit_filters_per_subscribe')).toBe(2);
  });

  it('[MQTT-3.9.3-1] 3.1.1: filters past the limit get 0x80', () => {
    const h = online(V4, {}, { ...CONFIG, maximumFiltersPerSubscribe: 1 });
    h.packet('c1', subscribePacket(...filters(2)));
    h.subscribed();
    expect(suback(h)).toStrictEqual([0, SUBACK_FAILURE_V3]);
  });

  it('[MQTT-3.9.3-1 v5] the finding: one SUBSCRIBE with 20,000 wildcard filters is granted 100 of them by default', () => {
    const h = online();
    h.packet('c1', subscribePacket(...filters(20_000)));
    h.subscribed();
    const codes = suback(h);
    expect(codes).toHaveLength(20_000);
    expect(codes.filter((code) => code === 0)).toHaveLength(100);
    expect(codes.slice(100).every((code) => code === ReasonCode.QuotaExceeded)).toBe(true);
    expect(h.store.subscriptions.size).toBe(100);
    expect(h.store.counters.get('limit_filters_per_subscribe')).toBe(19_900);
  });
});

describe('subscriptions per session (MAX_SUBSCRIPTIONS)', () => {
  it('[MQTT-3.9.3-1 v5] an anonymous session is bounded by the deployment default: new filters past it get 0x97, counted', () => {
    const h = online(V5, {}, { ...CONFIG, maximumSubscriptions: 2 });
    h.packet('c1', subscribePacket({ topicFilter: 'a', qos: 0 }, { topicFilter: 'b', qos: 0 }, { topicFilter: 'c', qos: 0 }));
    h.subscribed();
    expect(suback(h)).toStrictEqual([0, 0, ReasonCode.QuotaExceeded]);
    expect(h.store.counters.get('limit_subscriptions')).toBe(1);
    // A filter the session holds is a re-subscription: allowed at the bound.
    h.packet('c1', subscribePacket({ topicFilter: 'a', qos: 1 }));
    h.subscribed();
    expect(suback(h)).toStrictEqual([1]);
  });

  it('the deployment default applies when a token allows more; a token\'s lower maxSubscriptions applies when it is lower', () => {
    const acl = [{ filter: '#', rights: ['sub' as const] }];
    const generous = online(V5, { token: token(acl, { maxSubscriptions: 50 }) }, { ...CONFIG, maximumSubscriptions: 2 });
    generous.packet('c1', subscribePacket({ topicFilter: 'a', qos: 0 }, { topicFilter: 'b', qos: 0 }, { topicFilter: 'c', qos: 0 }));
    generous.subscribed();
    expect(suback(generous)).toStrictEqual([0, 0, ReasonCode.QuotaExceeded]);

    const strict = online(V5, { token: token(acl, { maxSubscriptions: 1 }) }, { ...CONFIG, maximumSubscriptions: 2 });
    strict.packet('c1', subscribePacket({ topicFilter: 'a', qos: 0 }, { topicFilter: 'b', qos: 0 }));
    strict.subscribed();
    expect(suback(strict)).toStrictEqual([0, ReasonCode.QuotaExceeded]);
  });
});

/** A persistent 3.1.1 subscriber to `t/#` whose connection has gone. */
function offline(config = CONFIG): SessionHarness {
  const h = new SessionHarness(config);
  h.connect('c1', PERSISTENT_V4);
  h.packet('c1', subscribePacket({ topicFilter: 't/#', qos: 1 }));
  h.subscribed();
  h.input({ type: 'socketClosed', connectionId: 'c1' });
  return h;
}

function msg(payload: string | Uint8Array, qos: QoS = 1): Delivery {
  return { topic: 't/x', payload: typeof payload === 'string' ? utf8(payload) : payload, qos, retain: false, filters: ['t/#'] };
}

const queuedPayloads = (h: SessionHarness) => h.store.queued().map((m) => text(m.payload));

describe('the queue\'s byte bound (MAX_QUEUED_BYTES)', () => {
  it('[DESIGN §3] past the byte bound the oldest queued messages are dropped and counted as queue_dropped_bytes', () => {
    const h = offline({ ...CONFIG, maximumQueuedBytes: 10 });
    h.deliver(msg('aaaa'), msg('bbbb'));
    const effects = h.deliver(msg('cccc'));
    expect(effects[0]).toMatchObject({
      type: 'persist',
      ops: [{ op: 'insertOutbound' }, { op: 'dropOldestQueued', count: 1 }, { op: 'count', counter: 'queue_dropped_bytes', n: 1 }],
    });
    expect(queuedPayloads(h)).toStrictEqual(['bbbb', 'cccc']);
    expect(h.state.session.queue.bytes).toBe(8);
  });

  it('[DESIGN §3] both bounds apply: the count bound first (queue_dropped), then as many more as the bytes need', () => {
    const h = offline({ ...CONFIG, maximumQueued: 3, maximumQueuedBytes: 10 });
    h.deliver(msg('111'), msg('222'), msg('333'), msg('444'));
    expect(queuedPayloads(h)).toStrictEqual(['222', '333', '444']);
    h.deliver(msg('55555'));
    // Four queued: the count drops 222; 333 + 444 + 55555 is 11 bytes: the bytes drop 333.
    expect(queuedPayloads(h)).toStrictEqual(['444', '55555']);
    expect(h.store.counters.get('queue_dropped')).toBe(2);
    expect(h.store.counters.get('queue_dropped_bytes')).toBe(1);
  });

  it('[DESIGN §3] a message larger than the byte bound is itself dropped, counted', () => {
    const h = offline({ ...CONFIG, maximumQueuedBytes: 4 });
    h.deliver(msg('ab'), msg('too large'));
    expect(queuedPayloads(h)).toStrictEqual([]);
    expect(h.state.session.queue.bytes).toBe(0);
    expect(h.store.counters.get('queue_dropped_bytes')).toBe(2);
  });

  it('[DESIGN §3] the queued bytes survive a wake: the state is rebuilt from the rows and the bound stays exact', () => {
    const h = offline({ ...CONFIG, maximumQueuedBytes: 10 });
    h.deliver(msg('aaaa'), msg('bbbb'));
    h.restart();
    expect(h.state.session.queue.bytes).toBe(8);
    h.deliver(msg('cccc'));
    expect(queuedPayloads(h)).toStrictEqual(['bbbb', 'cccc']);
    expect(h.store.counters.get('queue_dropped_bytes')).toBe(1);
  });

  it('[DESIGN §3] draining the queue frees its bytes', () => {
    const h = offline({ ...CONFIG, maximumQueuedBytes: 10 });
    h.deliver(msg('aaaa'), msg('bbbb'));
    h.connect('c2', PERSISTENT_V4);
    expect(h.sent('c2').filter((p) => p.type === 'publish')).toHaveLength(2);
    expect(h.state.session.queue.bytes).toBe(0);
    h.input({ type: 'socketClosed', connectionId: 'c2' });
    h.deliver(msg('cccccccccc'));
    expect(queuedPayloads(h)).toStrictEqual(['cccccccccc']);
    expect(h.store.counters.get('queue_dropped_bytes')).toBeUndefined();
  });

  it('[DESIGN §3] the finding: 1,000 offline messages of 64 KB keep at most 16 MiB queued by default', () => {
    const h = offline();
    const payload = new Uint8Array(64 * 1024);
    h.deliver(...Array.from({ length: 1000 }, () => msg(payload)));
    expect(h.store.queued()).toHaveLength(256);
    expect(h.state.session.queue.bytes).toBe(16 * 1024 * 1024);
    expect(h.store.counters.get('queue_dropped_bytes')).toBe(744);
  });
});

function retained(topic: string, qos: QoS = 0, size?: number): RetainedMessage {
  return { topic, payload: size === undefined ? utf8(`r ${topic}`) : new Uint8Array(size), qos };
}

function page(shard: number, messages: RetainedMessage[], next?: string): RetainedPage {
  return { shard, retained: messages, ...(next === undefined ? {} : { next }) };
}

const publishedTopics = (h: SessionHarness, connectionId = 'c1') =>
  h.sent(connectionId).flatMap((p) => (p.type === 'publish' ? [p.topic] : []));

describe('the retained replay, read in rounds', () => {
  it('[MQTT-3.3.1-6] a page that stopped early is followed by a round for the rest, from where each shard stopped, without a second SUBACK', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    const effects = h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1'), retained('a/2')], 'a/2'), page(1, [retained('a/3')], 'a/4')] } });
    expect(suback(h)).toStrictEqual([0]);
    expect(publishedTopics(h)).toStrictEqual(['a/1', 'a/2', 'a/3']);
    expect(subscribeShards(effects)).toStrictEqual({
      type: 'subscribeShards',
      tenant: TENANT,
      session: SESSION,
      connectionId: 'c1',
      subscriptions: [{ filter: 'a/#', qos: 0, continueFrom: [{ shard: 0, after: 'a/2' }, { shard: 1, after: 'a/4' }] }],
      then: { packetId: 0, reasonCodes: [], retained: [{ filter: 'a/#', qos: 0, retainHandling: 0 }], added: [], epoch: h.state.routes.epoch, replayRound: expect.any(Number) },
    });
    // The round: shard 0 is done, shard 1 has one more page.
    const second = h.subscribed({ 'a/#': { pages: [page(0, [retained('a/20')]), page(1, [retained('a/5')], 'a/5')] } });
    expect(h.sent()).toStrictEqual([
      { type: 'publish', topic: 'a/20', payload: utf8('r a/20'), qos: 0, retain: true, dup: false },
      { type: 'publish', topic: 'a/5', payload: utf8('r a/5'), qos: 0, retain: true, dup: false },
    ]);
    expect(subscribeShards(second)?.subscriptions).toStrictEqual([{ filter: 'a/#', qos: 0, continueFrom: [{ shard: 1, after: 'a/5' }] }]);
    // The last page: the replay ends, no further round.
    expect(subscribeShards(h.subscribed({ 'a/#': { pages: [page(1, [retained('a/6')])] } }))).toBeUndefined();
    expect(publishedTopics(h)).toStrictEqual(['a/6']);
    expect(h.state.connections.get('c1')?.replay).toBeUndefined();
  });

  it('[DESIGN §3] QoS 1 retained messages are taken as far as the window and queue have room; the rest waits for the queue to empty and a window slot, and none is dropped', () => {
    const h = online({ protocolVersion: 5, properties: { receiveMaximum: 1 } }, {}, { ...CONFIG, maximumQueued: 2, maximumQueuedOnline: 2 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }));
    const five = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5'].map((topic) => retained(topic, 1));
    const effects = h.subscribed({ 'a/#': { pages: [page(0, five)] } });
    // Room: one window slot and two queue slots.
    expect(publishedTopics(h)).toStrictEqual(['a/1']);
    expect(h.store.queued().map((m) => m.topic)).toStrictEqual(['a/2', 'a/3']);
    expect(subscribeShards(effects)).toBeUndefined();
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(publishedTopics(h)).toStrictEqual(['a/2']);
    expect(subscribeShards(h.effects)).toBeUndefined();
    // The last queued message moves into the window: the queue is empty, but the window is full.
    h.packet('c1', { type: 'puback', packetId: 2 });
    expect(publishedTopics(h)).toStrictEqual(['a/3']);
    expect(subscribeShards(h.effects)).toBeUndefined();
    // A slot frees: the next round reads from a/3 on.
    h.packet('c1', { type: 'puback', packetId: 3 });
    expect(subscribeShards(h.effects)?.subscriptions).toStrictEqual([{ filter: 'a/#', qos: 1, continueFrom: [{ shard: 0, after: 'a/3' }] }]);
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/4', 1), retained('a/5', 1)])] } });
    expect(publishedTopics(h)).toStrictEqual(['a/4']);
    expect(h.store.queued().map((m) => m.topic)).toStrictEqual(['a/5']);
    expect(h.store.counters.get('queue_dropped')).toBeUndefined();
  });

  it('[DESIGN §3] a message larger than the queue\'s byte bound does not stall the replay: with a window slot free the first is always taken', () => {
    const h = online({ protocolVersion: 5, properties: { receiveMaximum: 1 } }, {}, { ...CONFIG, maximumQueuedBytes: 5 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/big', 1, 20), retained('a/next', 1, 20)])] } });
    expect(publishedTopics(h)).toStrictEqual(['a/big']);
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(subscribeShards(h.effects)?.subscriptions[0]?.continueFrom).toStrictEqual([{ shard: 0, after: 'a/big' }]);
  });

  it('[MQTT-3.10.4-1] UNSUBSCRIBE ends the replay: the round in flight is not used', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    h.packet('c1', { type: 'unsubscribe', packetId: 11, topicFilters: ['a/#'] });
    const effects = h.subscribed({ 'a/#': { pages: [page(0, [retained('a/2')], 'a/2')] } });
    expect(publishedTopics(h)).toStrictEqual([]);
    expect(subscribeShards(effects)).toBeUndefined();
  });

  it('[MQTT-3.8.4-3] a new SUBSCRIBE of the filter replaces its replay: the older round\'s answer is not used', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    const round = subscribeShards(h.effects)!;
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { isNew: false, pages: [page(0, [retained('a/1')])] } });
    expect(publishedTopics(h)).toStrictEqual(['a/1']);
    const stale = h.input({ type: 'subscribed', connectionId: 'c1', then: round.then, results: new Map([['a/#', { isNew: false, pages: [page(0, [retained('a/2')])] }]]) });
    expect(stale).toStrictEqual([]);
  });

  it('[MQTT-3.8.4-3] a round of an ended replay is not taken for a round of the replay that followed it', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    const old = subscribeShards(h.effects)!;
    h.packet('c1', { type: 'unsubscribe', packetId: 11, topicFilters: ['a/#'] });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    const current = subscribeShards(h.effects)!;
    expect(current.then.replayRound).not.toBe(old.then.replayRound);
    expect(h.input({ type: 'subscribed', connectionId: 'c1', then: old.then, results: new Map([['a/#', { isNew: false, pages: [page(0, [retained('a/old')])] }]]) })).toStrictEqual([]);
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/2')])] } });
    expect(publishedTopics(h)).toStrictEqual(['a/2']);
  });

  it('a round whose shards fail ends the replay, counted; the connection and the subscription stay', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    const effects = h.subscribed({}, false);
    expect(h.closed()).toBe(false);
    expect(subscribeShards(effects)).toBeUndefined();
    expect(h.store.counters.get('retained_replay_failed')).toBe(1);
    expect(h.store.subscriptions.has('a/#')).toBe(true);
  });

  it('[MQTT-3.3.1-11 v5] Retain Handling 2 starts no replay, whatever the shards have', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0, retainHandling: 2 }));
    const effects = h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    expect(publishedTopics(h)).toStrictEqual([]);
    expect(subscribeShards(effects)).toBeUndefined();
  });

  it('the replay ends with its connection, and its row', () => {
    const h = online({ protocolVersion: 5, properties: { receiveMaximum: 1 } }, {}, { ...CONFIG, maximumQueued: 1, maximumQueuedOnline: 1 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1', 1), retained('a/2', 1), retained('a/3', 1)])] } });
    h.input({ type: 'socketClosed', connectionId: 'c1' });
    expect(h.history.filter((e) => e.type === 'subscribeShards')).toHaveLength(1);
    expect(h.store.replays.size).toBe(0);
  });
});

/** Every topic published to a connection since the harness was made, wakes included. */
const allPublished = (h: SessionHarness, connectionId = 'c1') =>
  h.history.flatMap((e) => (e.type === 'send' && e.connectionId === connectionId ? e.packets : [])).flatMap((p) => (p.type === 'publish' ? [p.topic] : []));

/** The replay rows the last input wrote. */
const replayWrites = (h: SessionHarness) => h.of('persist').flatMap((e) => e.ops.filter((op) => op.op === 'saveReplay'));

describe('the retained replay survives a wake (hibernation, eviction)', () => {
  it('[MQTT-3.3.1-6] a replay cut by wakes goes on at the next PUBACK: every retained message once, in order, one row write per round', () => {
    const h = online({ protocolVersion: 5, properties: { receiveMaximum: 1 } }, {}, { ...CONFIG, maximumQueued: 2, maximumQueuedOnline: 2 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }));
    h.subscribed({ 'a/#': { pages: [page(0, ['a/1', 'a/2', 'a/3', 'a/4'].map((t) => retained(t, 1)), 'a/4')] } });
    // One window slot and two queue slots: a/1 sent, a/2 and a/3 queued, the rest is one row.
    expect(replayWrites(h)).toStrictEqual([{ op: 'saveReplay', connectionId: 'c1', replay: [{ filter: 'a/#', qos: 1, cursors: [{ shard: 0, after: 'a/3' }] }] }]);
    expect(h.store.replays.get('c1')).toStrictEqual([{ filter: 'a/#', qos: 1, cursors: [{ shard: 0, after: 'a/3' }] }]);

    h.restart();
    h.packet('c1', { type: 'puback', packetId: 1 });
    expect(publishedTopics(h)).toStrictEqual(['a/2']);
    expect(replayWrites(h)).toStrictEqual([]);
    h.restart();
    h.packet('c1', { type: 'puback', packetId: 2 });
    expect(publishedTopics(h)).toStrictEqual(['a/3']);
    expect(subscribeShards(h.effects)).toBeUndefined();
    h.restart();
    // The queue is empty and a slot frees: the next round reads from the stored cursor. The round in flight
    // is not written.
    h.packet('c1', { type: 'puback', packetId: 3 });
    expect(subscribeShards(h.effects)?.subscriptions).toStrictEqual([{ filter: 'a/#', qos: 1, continueFrom: [{ shard: 0, after: 'a/3' }] }]);
    expect(replayWrites(h)).toStrictEqual([]);
    // The last page: the replay ends, and its row with it.
    h.subscribed({ 'a/#': { pages: [page(0, ['a/4', 'a/5', 'a/6'].map((t) => retained(t, 1)))] } });
    expect(replayWrites(h)).toStrictEqual([{ op: 'saveReplay', connectionId: 'c1', replay: null }]);
    expect(h.store.replays.size).toBe(0);
    h.restart();
    expect(h.state.connections.get('c1')?.replay).toBeUndefined();
    for (const packetId of [4, 5, 6]) h.packet('c1', { type: 'puback', packetId });

    expect(allPublished(h)).toStrictEqual(['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6']);
    expect(h.history.flatMap((e) => (e.type === 'send' ? e.packets : [])).some((p) => p.type === 'publish' && p.dup)).toBe(false);
    expect(h.store.outbound.size).toBe(0);
    expect(h.history.filter((e) => e.type === 'subscribeShards')).toHaveLength(2);
  });

  it('[MQTT-3.3.1-6] a round in flight when the object went away is read again at the first input after the wake', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    expect(subscribeShards(h.effects)?.subscriptions[0]?.continueFrom).toStrictEqual([{ shard: 0, after: 'a/1' }]);
    // Its answer is lost with the memory; QoS 0 leaves no acknowledgement to wait for.
    h.restart();
    h.packet('c1', { type: 'pingreq' });
    expect(subscribeShards(h.effects)?.subscriptions).toStrictEqual([{ filter: 'a/#', qos: 0, continueFrom: [{ shard: 0, after: 'a/1' }] }]);
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/2')])] } });
    expect(allPublished(h)).toStrictEqual(['a/1', 'a/2']);
    // Once only: a later input asks for nothing more.
    h.packet('c1', { type: 'pingreq' });
    expect(subscribeShards(h.effects)).toBeUndefined();
  });

  it('[DESIGN §3] the row goes when the replay is read to the end', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1')], 'a/1')] } });
    expect(h.store.replays.has('c1')).toBe(true);
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/2')])] } });
    expect(replayWrites(h)).toStrictEqual([{ op: 'saveReplay', connectionId: 'c1', replay: null }]);
    expect(h.store.replays.size).toBe(0);
    expect(h.state.connections.get('c1')?.replay).toBeUndefined();
  });

  it('[DESIGN §4] a SUBSCRIBE whose retained messages fit in the first page writes no row', () => {
    const h = online();
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 0 }));
    h.subscribed({ 'a/#': { pages: [page(0, [retained('a/1'), retained('a/2')])] } });
    expect(allPublished(h)).toStrictEqual(['a/1', 'a/2']);
    expect(replayWrites(h)).toStrictEqual([]);
  });

  it('[MQTT-3.10.4-1] UNSUBSCRIBE rewrites the row without the filter, and deletes it with the last one', () => {
    const h = online(PERSISTENT_V4, {}, { ...CONFIG, maximumInflight: 1, maximumQueued: 1, maximumQueuedOnline: 1 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }, { topicFilter: 'b/#', qos: 1 }));
    h.subscribed({
      'a/#': { pages: [page(0, ['a/1', 'a/2', 'a/3'].map((t) => retained(t, 1)))] },
      'b/#': { pages: [page(0, [retained('b/1', 1)])] },
    });
    const a = { filter: 'a/#', qos: 1, cursors: [{ shard: 0, after: 'a/2' }] };
    expect(h.store.replays.get('c1')).toStrictEqual([a, { filter: 'b/#', qos: 1, cursors: [{ shard: 0, after: '' }] }]);
    h.packet('c1', { type: 'unsubscribe', packetId: 11, topicFilters: ['b/#'] });
    expect(replayWrites(h)).toStrictEqual([{ op: 'saveReplay', connectionId: 'c1', replay: [a] }]);
    h.packet('c1', { type: 'unsubscribe', packetId: 12, topicFilters: ['a/#'] });
    expect(replayWrites(h)).toStrictEqual([{ op: 'saveReplay', connectionId: 'c1', replay: null }]);
    expect(h.store.replays.size).toBe(0);
  });

  const endings: Array<[string, (h: SessionHarness) => void]> = [
    ['closed', (h) => h.input({ type: 'socketClosed', connectionId: 'c1' })],
    ['taken over', (h) => h.connect('c2', PERSISTENT_V4)],
    ['lost in a reset without a close event', (h) => h.restart(['c1'])],
  ];
  it.each(endings)('[DESIGN §3] a replay is not resumed once its connection is gone (%s): the row goes, the next connection reads no round', (_, end) => {
    const h = online(PERSISTENT_V4, {}, { ...CONFIG, maximumInflight: 1, maximumQueued: 1, maximumQueuedOnline: 1 });
    h.packet('c1', subscribePacket({ topicFilter: 'a/#', qos: 1 }));
    h.subscribed({ 'a/#': { pages: [page(0, ['a/1', 'a/2', 'a/3'].map((t) => retained(t, 1)))] } });
    expect(h.store.replays.has('c1')).toBe(true);
    end(h);
    expect(h.store.replays.size).toBe(0);
    h.restart();
    if (!h.state.connections.has('c2')) h.connect('c2', PERSISTENT_V4);
    // The session resumes: a/1 again (DUP), then the queued a/2; no round for the replay of c1.
    h.packet('c2', { type: 'puback', packetId: 1 });
    h.packet('c2', { type: 'puback', packetId: 2 });
    expect(allPublished(h, 'c2')).toStrictEqual(['a/1', 'a/2']);
    expect(h.history.filter((e) => e.type === 'subscribeShards')).toHaveLength(1);
    expect(h.state.connections.get('c2')?.replay).toBeUndefined();
  });
});
