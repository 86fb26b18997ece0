// Issue 11, fan-in for a hot topic: past HOT_TOPIC_RATE messages/s the topic's shard names it hot, and its
// publishers' sessions send it through combiner objects (CombinerDO), which batch many publishers into one
// shard call. Every message still arrives once, in each publisher's order, and the shard takes fewer calls
// than messages. Read from the objects' own counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, recorder, subscribe } from './clients.js';

const COMBINERS = 4;
const SHARD = 'default\u0000shard\u00000';

interface Counts {
  rpc: number;
  messagesIn: number;
  callsMade: number;
}

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SHARD_COUNT: '1', HOT_TOPIC_RATE: '20', HOT_TOPIC_COMBINERS: String(COMBINERS) } });
});
afterAll(async () => {
  await broker?.stop();
});

async function counts(binding: 'SHARD' | 'COMBINER', name: string): Promise<Counts> {
  const namespace = await broker.miniflare.getDurableObjectNamespace(binding);
  const stub = namespace.get(namespace.idFromName(name)) as unknown as { invocationCounts(): Promise<Counts> };
  return stub.invocationCounts();
}

/** Publishes `count` QoS 1 messages `${id}:${n}` without waiting for each PUBACK; resolves when all are acknowledged. */
function burst(client: MqttClient, id: string, topic: string, count: number): Promise<void> {
  return Promise.all(
    Array.from(
      { length: count },
      (_, n) => new Promise<void>((resolve, reject) => client.publish(topic, `${id}:${n}`, { qos: 1 }, (error) => (error ? reject(error) : resolve()))),
    ),
  ).then(() => undefined);
}

describe('fan-in through combiners for a hot topic', () => {
  it('12 publishers × 50 QoS 1 messages to one topic: all delivered once in publisher order, through the combiners, with fewer shard calls than messages', async () => {
    const topic = 'hot/t';
    const publishers = 12;
    const each = 50;
    const subscriber = await connectClient(broker.mqttUrl, { clientId: 'hot-sub' });
    const got = recorder(subscriber);
    await subscribe(subscriber, topic, 1);
    const clients = await Promise.all(Array.from({ length: publishers }, (_, i) => connectClient(broker.mqttUrl, { clientId: `hot-pub-${i}` })));
    const shardBefore = await counts('SHARD', SHARD);
    // Two rounds: the first makes the topic hot, the second runs through the combiners.
    for (let round = 0; round < 2; round++) {
      await Promise.all(clients.map((client, i) => burst(client, `p${i}r${round}`, topic, each)));
    }
    await got.waitFor(publishers * each * 2, 20_000);
    const shardAfter = await counts('SHARD', SHARD);
    const combined = await Promise.all(Array.from({ length: COMBINERS }, (_, slot) => counts('COMBINER', `${SHARD}\u0000combiner\u0000${slot}`)));

    const payloads = got.messages.map((m) => m.payload.toString());
    expect(new Set(payloads).size).toBe(payloads.length);
    for (let i = 0; i < publishers; i++) {
      for (let round = 0; round < 2; round++) {
        const mine = payloads.filter((p) => p.startsWith(`p${i}r${round}:`)).map((p) => Number(p.split(':')[1]));
        expect(mine).toEqual(Array.from({ length: each }, (_, n) => n));
      }
    }
    const throughCombiners = combined.reduce((sum, c) => sum + c.messagesIn, 0);
    expect(throughCombiners).toBeGreaterThan(0);
    const shardCalls = shardAfter.rpc - shardBefore.rpc;
    const shardMessages = shardAfter.messagesIn - shardBefore.messagesIn;
    expect(shardMessages).toBe(publishers * each * 2);
    expect(shardCalls).toBeLessThan(shardMessages);
    await Promise.all([...clients, subscriber].map((client) => end(client)));
  });
});
