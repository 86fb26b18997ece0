// Deployment defaults that protect a tenant from itself, end to end: filters per SUBSCRIBE, subscriptions per
// session, the queue's byte bound, retained topics and bytes per tenant, and the retained replay in rounds
// and bounded WebSocket messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketFramer, decodePacket } from '../../core/codec/index.js';
import { describeSession, sessionOffline, startBroker, type RunningBroker } from './broker.js';
import { RawClient, connectBytes, connectClient, end, publish, recorder, roundTrip, sentinel, subscribe, subscribeBytes } from './clients.js';

/** A topic shard's statistics over RPC (the default tenant, anonymous clients). */
async function shardStatistics(broker: RunningBroker, index: number): Promise<{ retainedRefused: number }> {
  const namespace = await broker.miniflare.getDurableObjectNamespace('SHARD');
  const stub = namespace.get(namespace.idFromName(`default\u0000shard\u0000${index}`)) as unknown as { statistics(): Promise<{ retainedRefused: number }> };
  return stub.statistics();
}

describe('filters per SUBSCRIBE and subscriptions per session', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { MAX_FILTERS_PER_SUBSCRIBE: '3', MAX_SUBSCRIPTIONS: '4' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[MQTT-3.9.3-1 v5] filters past MAX_FILTERS_PER_SUBSCRIBE get 0x97 in their SUBACK slot and are not subscribed', async () => {
    const client = await connectClient(broker.mqttUrl, { clientId: 'many-filters', protocolVersion: 5 });
    const granted = await subscribe(client, ['mf/1', 'mf/2', 'mf/3', 'mf/4', 'mf/5'], 0);
    expect(granted.map((g) => g.qos)).toEqual([0, 0, 0, 0x97, 0x97]);
    expect((await describeSession(broker, 'many-filters'))?.subscriptions.map((s) => s.filter).sort()).toEqual(['mf/1', 'mf/2', 'mf/3']);
    await end(client);
  });

  it('[MQTT-3.9.3-1] 3.1.1: filters past the limit get 0x80', async () => {
    const client = await connectClient(broker.mqttUrl, { clientId: 'many-filters-v4' });
    const granted = await subscribe(client, ['mf4/1', 'mf4/2', 'mf4/3', 'mf4/4'], 1);
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1, 0x80]);
    await end(client);
  });

  it('[MQTT-3.9.3-1 v5] an anonymous session holds at most MAX_SUBSCRIPTIONS; re-subscribing a held filter still works', async () => {
    const client = await connectClient(broker.mqttUrl, { clientId: 'many-subs', protocolVersion: 5 });
    expect((await subscribe(client, ['ms/1', 'ms/2', 'ms/3'], 0)).map((g) => g.qos)).toEqual([0, 0, 0]);
    expect((await subscribe(client, ['ms/4', 'ms/5'], 0)).map((g) => g.qos)).toEqual([0, 0x97]);
    expect((await subscribe(client, 'ms/1', 1)).map((g) => g.qos)).toEqual([1]);
    await end(client);
  });
});

describe('the queue\'s byte bound', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { MAX_QUEUED_BYTES: '100' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[DESIGN §3] an offline session keeps at most MAX_QUEUED_BYTES of payload: the oldest messages are dropped', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'bytes-sub', clean: false });
    await subscribe(sub, 'qb/t', 1);
    await end(sub);
    await sessionOffline(broker, 'bytes-sub');
    const pub = await connectClient(broker.mqttUrl, { clientId: 'bytes-pub' });
    for (let i = 0; i < 5; i++) await publish(pub, 'qb/t', `${i}`.repeat(30), { qos: 1 });
    expect((await describeSession(broker, 'bytes-sub'))?.queued).toBe(3);
    const back = await connectClient(broker.mqttUrl, { clientId: 'bytes-sub', clean: false });
    const got = recorder(back);
    await got.waitFor(3);
    await sentinel(pub, 'qb/t', got);
    expect(got.messages.map((m) => m.payload[0])).toEqual(['2', '3', '4']);
    await Promise.all([end(back), end(pub)]);
  });
});

describe('retained topics and bytes per tenant', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    // One shard: the shard's share is the whole tenant's limit.
    broker = await startBroker({ vars: { SHARD_COUNT: '1', MAX_RETAINED: '3', MAX_RETAINED_BYTES: '1000' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[MQTT-3.3.1-5] past MAX_RETAINED a new topic is not retained (counted) but still reaches current subscribers; replacing stays allowed', async () => {
    const live = await connectClient(broker.mqttUrl, { clientId: 'rc-live' });
    const liveGot = recorder(live);
    await subscribe(live, 'rc/#', 0);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'rc-pub' });
    for (const n of [1, 2, 3, 4, 5]) await publish(pub, `rc/${n}`, `v${n}`, { qos: 1, retain: true });
    await publish(pub, 'rc/1', 'v1-new', { qos: 1, retain: true });
    await liveGot.waitFor(6);
    const later = await connectClient(broker.mqttUrl, { clientId: 'rc-later' });
    const got = recorder(later);
    await subscribe(later, 'rc/#', 0);
    await roundTrip(later);
    expect(got.messages.map((m) => [m.topic, m.payload]).sort()).toEqual([
      ['rc/1', 'v1-new'],
      ['rc/2', 'v2'],
      ['rc/3', 'v3'],
    ]);
    expect((await shardStatistics(broker, 0)).retainedRefused).toBe(2);
    await Promise.all([end(live), end(pub), end(later)]);
  });

  it('[MQTT-3.3.1-5] past MAX_RETAINED_BYTES a payload is not retained; a replacement that grows past it takes the older message with it', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'rb-pub' });
    // Clear the topics of the test above: an empty payload deletes [MQTT-3.3.1-10].
    for (const n of [1, 2, 3]) await publish(pub, `rc/${n}`, '', { qos: 1, retain: true });
    const before = (await shardStatistics(broker, 0)).retainedRefused;
    await publish(pub, 'rb/a', 'a'.repeat(600), { qos: 1, retain: true });
    await publish(pub, 'rb/b', 'b'.repeat(600), { qos: 1, retain: true }); // 1,200 bytes: refused
    await publish(pub, 'rb/c', 'c'.repeat(300), { qos: 1, retain: true }); // 900 bytes: kept
    await publish(pub, 'rb/a', 'A'.repeat(800), { qos: 1, retain: true }); // 1,100 bytes: refused, rb/a deleted
    const sub = await connectClient(broker.mqttUrl, { clientId: 'rb-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'rb/#', 0);
    await roundTrip(sub);
    expect(got.messages.map((m) => m.topic)).toEqual(['rb/c']);
    expect((await shardStatistics(broker, 0)).retainedRefused - before).toBe(2);
    // The byte tally followed the deletions: 300 bytes held, so 700 more fit.
    await publish(pub, 'rb/d', 'd'.repeat(700), { qos: 1, retain: true });
    const again = await connectClient(broker.mqttUrl, { clientId: 'rb-again' });
    const gotAgain = recorder(again);
    await subscribe(again, 'rb/#', 0);
    await roundTrip(again);
    expect(gotAgain.messages.map((m) => m.topic)).toEqual(['rb/c', 'rb/d']);
    await Promise.all([end(pub), end(sub), end(again)]);
  });
});

describe('the retained replay in rounds', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    // Two messages per shard per round; a window of 2 and a queue of 3: one answer of 30 would drop 25.
    broker = await startBroker({ vars: { SHARD_COUNT: '2', RETAINED_PAGE: '4', MAX_INFLIGHT: '2', MAX_QUEUED: '3' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('[MQTT-3.3.1-6] a wildcard subscriber gets every retained message, read in rounds as it acknowledges, none dropped', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'rr-pub' });
    const topics = Array.from({ length: 30 }, (_, i) => `rr/${String(i).padStart(2, '0')}`);
    for (const topic of topics) await publish(pub, topic, topic, { qos: 1, retain: true });
    const sub = await connectClient(broker.mqttUrl, { clientId: 'rr-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'rr/#', 1);
    await got.waitFor(30);
    await roundTrip(sub);
    expect(got.messages.map((m) => m.topic).sort()).toEqual(topics);
    expect(got.messages.every((m) => m.packet.retain)).toBe(true);
    await Promise.all([end(pub), end(sub)]);
  });
});

describe('bounded WebSocket messages', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { MAX_PACKET_SIZE: '1048576' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('a retained replay of 2.4 MB leaves the session as WebSocket messages of at most 1 MiB, every packet whole', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'ws-pub' });
    for (let i = 0; i < 6; i++) await publish(pub, `ws/${i}`, Buffer.alloc(400_000, 0x61 + i), { qos: 1, retain: true });
    const raw = new RawClient(broker.mqttUrl);
    await raw.send(connectBytes({ clientId: 'ws-raw' }));
    await raw.until((b) => b.length >= 4);
    raw.received.length = 0;
    await raw.send(subscribeBytes(1, [['ws/#', 0]]));
    await raw.until((bytes) => bytes.length >= 5 + 6 * 400_000);
    expect(new PacketFramer(2 * 1024 * 1024).push(raw.bytes())).toHaveLength(7); // SUBACK and six PUBLISH packets
    expect(raw.received.length).toBeGreaterThan(1);
    expect(Math.max(...raw.received.map((m) => m.length))).toBeLessThanOrEqual(1024 * 1024);
    // Every WebSocket message holds whole packets.
    for (const message of raw.received) {
      const own = new PacketFramer(2 * 1024 * 1024);
      for (const packet of own.push(new Uint8Array(message))) expect(['suback', 'publish']).toContain(decodePacket(packet, 4).type);
      expect(own.buffered).toBe(0);
    }
    raw.close();
    await end(pub);
  });
});
