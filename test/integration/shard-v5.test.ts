// The topic shard's side of MQTT 5.0: shared subscriptions, subscription options, retained expiry, range lookups.
//
// Three groups: shared subscriptions end to end with mqtt.js v5 clients; the shard driven directly over RPC,
// so its own decisions are checked whatever a session sends; and end to end for what needs the session to
// pass the options and expiry to the shard (No Local, Retain As Published, identifiers, Retain Handling,
// Message Expiry Interval).
import type { IClientSubscribeOptions, IPublishPacket, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf, shardsForFilter } from '../../core/routing/shard.js';
import type { RetainedMessage, RoutedMessage } from '../../core/routing/message.js';
import type { ShardSubscription, SubscribeResult } from '../../core/routing/subscription.js';
import { startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, recorder, roundTrip, sentinel, sleep, subscribe } from './clients.js';

const SHARD_COUNT = 4;
const TENANT = 'default';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SHARD_COUNT: String(SHARD_COUNT) } });
});
afterAll(async () => {
  await broker?.stop();
});

// ── Helpers ────────────────────────────────────────────────────────────────────────────────────────

interface ShardCounts {
  rowsRead: number;
  rowsWritten: number;
  since: number;
}

interface ShardStub {
  publish(messages: RoutedMessage[]): Promise<number>;
  subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]>;
  unsubscribe(session: string, filters: string[]): Promise<void>;
  statistics(): Promise<{ retained: number }>;
  invocationCounts(): Promise<ShardCounts>;
}

async function shardStub(target: RunningBroker, index: number): Promise<ShardStub> {
  const namespace = await target.miniflare.getDurableObjectNamespace('SHARD');
  return namespace.get(namespace.idFromName(`${TENANT}\u0000shard\u0000${index}`)) as unknown as ShardStub;
}

/** The shard holding a topic, as the session's router would pick it. */
const shardFor = (topic: string, target = broker) => shardStub(target, shardOf(topic, SHARD_COUNT));

/** What a session's router does for a subscribe: every shard the filter lives in. */
async function shardSubscribe(session: string, subscription: ShardSubscription, target = broker): Promise<RetainedMessage[]> {
  const retained: RetainedMessage[] = [];
  for (const index of shardsForFilter(subscription.filter, SHARD_COUNT)) {
    const [result] = await (await shardStub(target, index)).subscribe(session, [subscription]);
    retained.push(...(result!.retained as RetainedMessage[]));
  }
  return retained;
}

const sessionOf = (clientId: string) => `${TENANT}\u0000${clientId}`;
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (payload: Uint8Array) => new TextDecoder().decode(payload);

function v5(clientId: string, options: Parameters<typeof connectClient>[1] = {}): Promise<MqttClient> {
  return connectClient(broker.mqttUrl, { protocolVersion: 5, clientId, ...options });
}

/** A v5 session that outlives its connection. */
function persistent(clientId: string, target = broker): Promise<MqttClient> {
  return connectClient(target.mqttUrl, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
}

function subscribeWith(client: MqttClient, topic: string, options: IClientSubscribeOptions) {
  return new Promise<Array<{ topic: string; qos: number }>>((resolve, reject) => {
    client.subscribe(topic, options, (error, granted) => (error ? reject(error) : resolve((granted ?? []) as Array<{ topic: string; qos: number }>)));
  });
}

function publishWith(client: MqttClient, topic: string, payload: string, options: { qos?: 0 | 1 | 2; retain?: boolean; properties?: IPublishPacket['properties'] }) {
  return new Promise<void>((resolve, reject) => {
    client.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false, ...(options.properties ? { properties: options.properties } : {}) }, (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

function identifiers(packet: IPublishPacket): number[] {
  const value = packet.properties?.subscriptionIdentifier;
  return value === undefined ? [] : ([] as number[]).concat(value).sort((a, b) => a - b);
}

// ── Shared subscriptions, end to end ───────────────────────────────────────────────────────────────

describe('shared subscriptions [MQTT 5.0 §4.8.2]', () => {
  it('[MQTT 5.0 §4.8.2] 3 members, 30 messages: each gets some, exactly 30 in total, none twice', async () => {
    const members = await Promise.all(['bal-1', 'bal-2', 'bal-3'].map((id) => v5(id)));
    const got = members.map(recorder);
    for (const member of members) await subscribeWith(member, '$share/workers/bal/+', { qos: 1 });
    const pub = await v5('bal-pub');
    for (let i = 0; i < 30; i++) await publishWith(pub, `bal/${i % 3}`, `m${i}`, { qos: 1 });
    // Every PUBACK came after the shard's deliveries: a round trip through each member brings in its share.
    await Promise.all(members.map((member) => roundTrip(member)));
    const counts = got.map((r) => r.messages.length);
    const payloads = got.flatMap((r) => r.messages.map((m) => m.payload));
    expect(payloads).toHaveLength(30);
    expect(new Set(payloads).size).toBe(30);
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(5);
    await Promise.all([...members, pub].map((c) => end(c)));
  });

  it('[MQTT 5.0 §4.8.2] a member that went offline loses no QoS 1 message, and others take over', async () => {
    const away = await persistent('off-away');
    const stays = await persistent('off-stays');
    await subscribeWith(away, '$share/g/off/orders', { qos: 1 });
    await subscribeWith(stays, '$share/g/off/orders', { qos: 1 });
    await end(away); // its session lives on and keeps the subscription
    const gotStays = recorder(stays);
    const pub = await v5('off-pub');
    // One at a time, so the shard hears "offline" before the next pick.
    for (let i = 0; i < 20; i++) await publishWith(pub, 'off/orders', `o${i}`, { qos: 1 });
    const back = await persistent('off-away');
    const gotBack = recorder(back);
    // All acknowledged, so delivered or queued; the queue goes out with CONNACK.
    await Promise.all([roundTrip(stays), roundTrip(back)]);
    const all = [...gotStays.messages, ...gotBack.messages].map((m) => m.payload);
    expect(all.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `o${i}`).sort());
    // At most the copies picked before the shard learned the member was offline went to its queue.
    expect(gotBack.messages.length).toBeLessThanOrEqual(2);
    expect(gotBack.messages.every((m) => m.packet.qos === 1)).toBe(true);
    await Promise.all([end(back), end(stays), end(pub)]);
  });

  it('a session with a shared and an ordinary subscription gets the shared copy only when picked', async () => {
    const both = await v5('mix-both');
    const other = await v5('mix-other');
    const gotBoth = recorder(both);
    const gotOther = recorder(other);
    await subscribeWith(both, 'mix/t', { qos: 0 });
    await subscribeWith(both, '$share/g/mix/t', { qos: 1 });
    await subscribeWith(other, '$share/g/mix/t', { qos: 1 });
    const pub = await v5('mix-pub');
    for (let i = 0; i < 6; i++) await publishWith(pub, 'mix/t', `x${i}`, { qos: 1 });
    await Promise.all([roundTrip(both), roundTrip(other)]);
    // Every message once through 'mix/t', plus the shared copies the group handed to this session.
    const sharedToBoth = gotBoth.messages.length - 6;
    expect(sharedToBoth + gotOther.messages.length).toBe(6);
    expect(sharedToBoth).toBeGreaterThan(0);
    expect(gotOther.messages.length).toBeGreaterThan(0);
    await Promise.all([end(both), end(other), end(pub)]);
  });

  it('[MQTT 5.0 §4.8.2] retained messages are not sent for a shared subscription', async () => {
    const pub = await v5('sret-pub');
    await publishWith(pub, 'sret/t', 'kept', { qos: 1, retain: true });
    const sub = await v5('sret-sub');
    const got = recorder(sub);
    await subscribeWith(sub, '$share/g/sret/t', { qos: 1 });
    await subscribeWith(sub, '$share/g/sret/+', { qos: 1 });
    await roundTrip(sub); // retained messages go out with the SUBACK
    expect(got.messages).toEqual([]);
    await subscribe(sub, 'sret/t', 1);
    expect((await got.waitFor(1))[0]!.payload).toBe('kept');
    await publishWith(pub, 'sret/t', '', { qos: 1, retain: true });
    await Promise.all([end(sub), end(pub)]);
  });
});

// ── The shard over RPC ─────────────────────────────────────────────────────────────────────────────

describe('the shard, driven over RPC', () => {
  it('[MQTT-3.8.3-3 v5] No Local: the publisher gets none of its own messages; re-subscribing replaces the option', async () => {
    const self = await v5('rpc-nl-self');
    const other = await v5('rpc-nl-other');
    const gotSelf = recorder(self);
    const gotOther = recorder(other);
    await subscribe(self, 'rpc-nl/t', 1);
    await subscribe(other, 'rpc-nl/t', 1);
    // The options as a 5.0 session will pass them.
    await shardSubscribe(sessionOf('rpc-nl-self'), { filter: 'rpc-nl/t', qos: 1, noLocal: true });
    await publishWith(self, 'rpc-nl/t', 'own', { qos: 1 });
    await gotOther.waitFor(1);
    await roundTrip(self); // after the PUBACK: a copy for itself has arrived, if there was one
    expect(gotSelf.messages).toEqual([]);
    await shardSubscribe(sessionOf('rpc-nl-self'), { filter: 'rpc-nl/t', qos: 1, noLocal: false });
    await publishWith(self, 'rpc-nl/t', 'own again', { qos: 1 });
    expect((await gotSelf.waitFor(1))[0]!.payload).toBe('own again');
    await Promise.all([end(self), end(other)]);
  });

  it('[MQTT-3.3.1-13 v5] Retain As Published keeps RETAIN on live forwarding; [MQTT-3.3.1-12 v5] otherwise 0', async () => {
    const rap = await v5('rpc-rap-yes');
    const plain = await v5('rpc-rap-no');
    const gotRap = recorder(rap);
    const gotPlain = recorder(plain);
    await subscribe(rap, 'rpc-rap/t', 1);
    await subscribe(plain, 'rpc-rap/t', 1);
    await shardSubscribe(sessionOf('rpc-rap-yes'), { filter: 'rpc-rap/t', qos: 1, retainAsPublished: true });
    const pub = await v5('rpc-rap-pub');
    await publishWith(pub, 'rpc-rap/t', 'r', { qos: 1, retain: true });
    await publishWith(pub, 'rpc-rap/t', 'n', { qos: 1, retain: false });
    await gotRap.waitFor(2);
    await gotPlain.waitFor(2);
    expect(gotRap.messages.map((m) => [m.payload, m.packet.retain])).toEqual([
      ['r', true],
      ['n', false],
    ]);
    expect(gotPlain.messages.map((m) => m.packet.retain)).toEqual([false, false]);
    await publishWith(pub, 'rpc-rap/t', '', { qos: 1, retain: true });
    await Promise.all([end(rap), end(plain), end(pub)]);
  });

  it('[MQTT-3.3.2-5 v5] an already expired message is neither delivered nor stored as retained', async () => {
    const sub = await v5('rpc-exp-sub');
    const got = recorder(sub);
    await subscribe(sub, 'rpc-exp/live', 1);
    const shard = await shardFor('rpc-exp/live');
    const expired = { topic: 'rpc-exp/live', payload: bytes('late'), qos: 1, retain: true, expiresAt: Date.now() - 1 } as const;
    expect(await shard.publish([expired])).toBe(0);
    expect(await shard.publish([{ ...expired, payload: bytes('fresh'), expiresAt: Date.now() + 60_000 }])).toBe(1);
    const [message] = await got.waitFor(1);
    expect(message!.payload).toBe('fresh');
    await roundTrip(sub); // shard.publish resolved after its deliveries
    expect(got.messages).toHaveLength(1);
    const retained = await shardSubscribe(sessionOf('rpc-exp-probe'), { filter: 'rpc-exp/live', qos: 1 });
    expect(retained.map((m) => text(m.payload))).toEqual(['fresh']);
    await shard.publish([{ ...expired, payload: new Uint8Array(0), expiresAt: undefined }]);
    await end(sub);
  });

  it('[MQTT-3.3.2-5 v5] a retained message is returned with its expiry until it expires, then never again', async () => {
    const topic = 'rpc-ret/exp';
    const shard = await shardFor(topic);
    const expiresAt = Date.now() + 400;
    await shard.publish([{ topic, payload: bytes('soon gone'), qos: 1, retain: true, expiresAt }]);
    const probe = sessionOf('rpc-ret-probe');
    const before = await shardSubscribe(probe, { filter: topic, qos: 1 });
    expect(before.map((m) => [text(m.payload), m.expiresAt])).toEqual([['soon gone', expiresAt]]);
    expect((await shardSubscribe(probe, { filter: 'rpc-ret/+', qos: 1 })).length).toBe(1);
    await sleep(expiresAt + 50 - Date.now()); // just past its expiry
    expect(await shardSubscribe(probe, { filter: 'rpc-ret/+', qos: 1 })).toEqual([]);
    expect(await shardSubscribe(probe, { filter: topic, qos: 1 })).toEqual([]);
    await (await shardFor(topic)).unsubscribe(probe, [topic]);
  });

  it('[MQTT 5.0 §4.8.2] a shared copy picked for a member that no longer holds the subscription goes to another', async () => {
    const filter = '$share/g/reroute/t';
    // A member the shard believes in but whose session holds nothing (a lost unsubscribe): picked first.
    const ghost = sessionOf('rr-ghost');
    await shardSubscribe(ghost, { filter, qos: 1 });
    const real = await v5('rr-real');
    const got = recorder(real);
    await subscribeWith(real, filter, { qos: 1 });
    const shard = await shardFor('reroute/t');
    const messages = Array.from({ length: 4 }, (_, i) => ({ topic: 'reroute/t', payload: bytes(`r${i}`), qos: 1 as const, retain: false }));
    expect(await shard.publish(messages)).toBe(4);
    await got.waitFor(4);
    await roundTrip(real); // shard.publish resolved after its deliveries and redeliveries
    expect(got.messages.map((m) => m.payload).sort()).toEqual(['r0', 'r1', 'r2', 'r3']);
    await end(real);
  });

  it('[MQTT 5.0 §4.8.2] subscribe answers no retained message for a shared filter', async () => {
    const topic = 'rpc-shret/a';
    await (await shardFor(topic)).publish([{ topic, payload: bytes('r'), qos: 0, retain: true }]);
    const probe = sessionOf('rpc-shret-probe');
    expect(await shardSubscribe(probe, { filter: `$share/g/${topic}`, qos: 1 })).toEqual([]);
    expect(await shardSubscribe(probe, { filter: '$share/g/rpc-shret/#', qos: 1 })).toEqual([]);
    expect((await shardSubscribe(probe, { filter: topic, qos: 1 })).map((m) => text(m.payload))).toEqual(['r']);
  });

  it('a wildcard retained lookup reads the literal prefix range, not the whole table', async () => {
    // Stored straight into shard 0 (whatever their hash): 300 unrelated topics and 3 under 'narrow/'.
    const shard = await shardStub(broker, 0);
    const many = Array.from({ length: 300 }, (_, i) => ({ topic: `bulk/${i}`, payload: bytes('b'), qos: 0 as const, retain: true }));
    await shard.publish(many);
    await shard.publish(['narrow', 'narrow/a', 'narrow/a/b', 'narrower/x'].map((topic) => ({ topic, payload: bytes(topic), qos: 0 as const, retain: true })));
    const probe = sessionOf('rpc-range-probe');
    const before = await shard.invocationCounts();
    const [hash] = await shard.subscribe(probe, [{ filter: 'narrow/#', qos: 0 }]);
    const [plus] = await shard.subscribe(probe, [{ filter: 'narrow/+', qos: 0 }]);
    const after = await shard.invocationCounts();
    expect(after.since).toBe(before.since);
    expect(hash!.retained.map((m) => m.topic).sort()).toEqual(['narrow', 'narrow/a', 'narrow/a/b']);
    expect(plus!.retained.map((m) => m.topic)).toEqual(['narrow/a']);
    // Two subscription upserts plus the few rows in range; a full scan would read 300+ per lookup (7 measured).
    expect(after.rowsRead - before.rowsRead).toBeLessThan(15);
    // One answer is one page: this shard's share of RETAINED_PAGE (1000 / 4); `next` says where to go on.
    const [all] = await shard.subscribe(probe, [{ filter: 'bulk/+', qos: 0 }]);
    expect(all!.retained).toHaveLength(250);
    const [rest] = await shard.subscribe(probe, [{ filter: 'bulk/+', qos: 0, after: all!.next! }]);
    expect([...all!.retained, ...rest!.retained].map((m) => m.topic).sort()).toEqual(many.map((m) => m.topic).sort());
    expect(rest!.next).toBeUndefined();
    await shard.unsubscribe(probe, ['narrow/#', 'narrow/+', 'bulk/+']);
    const stored = [...many.map((m) => m.topic), 'narrow', 'narrow/a', 'narrow/a/b', 'narrower/x'];
    await shard.publish(stored.map((topic) => ({ topic, payload: new Uint8Array(0), qos: 0, retain: true })));
  });

  it('subscription options are stored: they survive a restart of the broker', async () => {
    const dir = tempPersistDir();
    let target = await startBroker({ persistDir: dir, vars: { SHARD_COUNT: String(SHARD_COUNT) } });
    try {
      const sub = await persistent('restart-rap', target);
      await subscribe(sub, 'restart/t', 1);
      await shardSubscribe(sessionOf('restart-rap'), { filter: 'restart/t', qos: 1, retainAsPublished: true }, target);
      await end(sub);
      await target.stop();
      target = await startBroker({ persistDir: dir, vars: { SHARD_COUNT: String(SHARD_COUNT) } });
      const again = await persistent('restart-rap', target);
      const got = recorder(again);
      const pub = await connectClient(target.mqttUrl, { protocolVersion: 5, clientId: 'restart-pub' });
      await publishWith(pub, 'restart/t', 'after', { qos: 1, retain: true });
      const [message] = await got.waitFor(1);
      expect([message!.payload, message!.packet.retain]).toEqual(['after', true]);
      await Promise.all([end(again), end(pub)]);
    } finally {
      await target.stop();
    }
  });
});

// ── Subscription options end to end (need the session to pass them to the shard) ──────────────────

describe('5.0 subscription options and expiry, end to end', () => {
  it('[MQTT-3.8.3-3 v5] No Local: a client does not receive its own publications', async () => {
    const self = await v5('e2e-nl-self');
    const other = await v5('e2e-nl-other');
    const gotSelf = recorder(self);
    const gotOther = recorder(other);
    await subscribeWith(self, 'e2e-nl/t', { qos: 1, nl: true });
    await subscribeWith(other, 'e2e-nl/t', { qos: 1, nl: true });
    await publishWith(self, 'e2e-nl/t', 'mine', { qos: 1 });
    await gotOther.waitFor(1);
    await roundTrip(self); // after the PUBACK: a copy for itself has arrived, if there was one
    expect(gotSelf.messages).toEqual([]);
    await Promise.all([end(self), end(other)]);
  });

  it('[MQTT-3.3.1-13 v5] Retain As Published: RETAIN as the publisher set it; [MQTT-3.3.1-12 v5] 0 without', async () => {
    const rap = await v5('e2e-rap-yes');
    const plain = await v5('e2e-rap-no');
    const gotRap = recorder(rap);
    const gotPlain = recorder(plain);
    await subscribeWith(rap, 'e2e-rap/t', { qos: 1, rap: true });
    await subscribeWith(plain, 'e2e-rap/t', { qos: 1, rap: false });
    const pub = await v5('e2e-rap-pub');
    await publishWith(pub, 'e2e-rap/t', 'r', { qos: 1, retain: true });
    await gotRap.waitFor(1);
    await gotPlain.waitFor(1);
    expect(gotRap.messages[0]!.packet.retain).toBe(true);
    expect(gotPlain.messages[0]!.packet.retain).toBe(false);
    await publishWith(pub, 'e2e-rap/t', '', { qos: 1, retain: true });
    await Promise.all([end(rap), end(plain), end(pub)]);
  });

  it('[MQTT-3.3.4-3 v5] a message carries the Subscription Identifier of the matching subscription', async () => {
    const sub = await v5('e2e-sid');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-sid/a', { qos: 1, properties: { subscriptionIdentifier: 42 } });
    const pub = await v5('e2e-sid-pub');
    await publishWith(pub, 'e2e-sid/a', 'x', { qos: 1 });
    const [message] = await got.waitFor(1);
    expect(identifiers(message!.packet)).toEqual([42]);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.4-4 v5] overlapping subscriptions: one copy with every identifier', async () => {
    const sub = await v5('e2e-sids');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-sids/a', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await subscribeWith(sub, 'e2e-sids/+', { qos: 0, properties: { subscriptionIdentifier: 9 } });
    await subscribeWith(sub, 'e2e-sids/#', { qos: 0 });
    const pub = await v5('e2e-sids-pub');
    await publishWith(pub, 'e2e-sids/a', 'x', { qos: 1 });
    await got.waitFor(1);
    await sentinel(pub, 'e2e-sids/a', got);
    expect(got.messages).toHaveLength(1);
    expect(identifiers(got.messages[0]!.packet)).toEqual([7, 9]);
    expect(got.messages[0]!.packet.qos).toBe(1);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.1-11 v5] Retain Handling 2: no retained messages on subscribe', async () => {
    const pub = await v5('e2e-rh-pub');
    await publishWith(pub, 'e2e-rh/t', 'kept', { qos: 1, retain: true });
    const sub = await v5('e2e-rh2');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-rh/t', { qos: 1, rh: 2 });
    await roundTrip(sub); // retained messages go out with the SUBACK
    expect(got.messages).toEqual([]);
    await end(sub);
  });

  it('[MQTT-3.3.1-10 v5] Retain Handling 1: retained messages only when the subscription is new', async () => {
    const sub = await v5('e2e-rh1');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-rh/t', { qos: 1, rh: 1 });
    await got.waitFor(1);
    await subscribeWith(sub, 'e2e-rh/t', { qos: 1, rh: 1 });
    await roundTrip(sub);
    expect(got.messages.map((m) => m.payload)).toEqual(['kept']);
    const pub = await v5('e2e-rh-clean');
    await publishWith(pub, 'e2e-rh/t', '', { qos: 1, retain: true });
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.2-5 v5] an expired retained message is not sent to a new subscriber', async () => {
    const pub = await v5('e2e-exp-pub');
    await publishWith(pub, 'e2e-exp/t', 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await sleep(1100); // it was stamped before its PUBACK: more than its 1 s has passed
    const sub = await v5('e2e-exp-sub');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-exp/+', { qos: 1 });
    await roundTrip(sub);
    expect(got.messages).toEqual([]);
    await Promise.all([end(sub), end(pub)]);
  });

  it('[MQTT-3.3.2-6 v5] a retained message is sent with the remaining expiry interval', async () => {
    const pub = await v5('e2e-rem-pub');
    await publishWith(pub, 'e2e-rem/t', 'lasting', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    await sleep(1100);
    const sub = await v5('e2e-rem-sub');
    const got = recorder(sub);
    await subscribeWith(sub, 'e2e-rem/t', { qos: 1 });
    const [message] = await got.waitFor(1);
    const remaining = message!.packet.properties?.messageExpiryInterval;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThan(60);
    await publishWith(pub, 'e2e-rem/t', '', { qos: 1, retain: true });
    await Promise.all([end(sub), end(pub)]);
  });
});
