// A topic shard splitting online (core/routing/shard-layout.ts): traffic goes on through the copy, nothing
// is lost or delivered twice, order per publisher holds, and the tenant's enumeration shows the new shard.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicHash } from '../../core/routing/shard.js';
import type { ShardAddress, SplitProgress } from '../../core/routing/shard-protocol.js';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, sentinel, subscribe, type Recorder } from './clients.js';

const TENANT = 'default';

interface ShardStub {
  split(address?: ShardAddress, options?: { batchRows?: number; pauseMs?: number }): Promise<SplitProgress>;
  statistics(): Promise<{ index: number | null; depth: number; exactSubscriptions: number; wildcardSubscriptions: number; retained: number }>;
  shards(): Promise<number[]>;
}

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SHARD_COUNT: '4' } });
});
afterAll(async () => {
  await broker?.stop();
});

async function shard(index: number): Promise<ShardStub> {
  const namespace = await broker.miniflare.getDurableObjectNamespace('SHARD');
  return namespace.get(namespace.idFromName(`${TENANT}\u0000shard\u0000${index}`)) as unknown as ShardStub;
}

/** Topics of region 1 (h mod 4 = 1): `stay` ones keep shard 1 after it splits at depth 2, `move` ones go to 5. */
function regionOneTopics(count: number): { stay: string[]; move: string[] } {
  const stay: string[] = [];
  const move: string[] = [];
  for (let i = 0; stay.length < count || move.length < count; i++) {
    const topic = `split/t${i}`;
    const hash = topicHash(topic);
    if (hash % 8 === 1 && stay.length < count) stay.push(topic);
    if (hash % 8 === 5 && move.length < count) move.push(topic);
  }
  return { stay, move };
}

/** Every (topic, payload) once, and per topic the payloads in sent order. */
function expectExactlyOnceInOrder(got: Recorder, sent: Map<string, string[]>): void {
  const received = new Map<string, string[]>();
  for (const { topic, payload, packet } of got.messages) {
    if (packet.retain || payload.startsWith('sentinel')) continue;
    received.set(topic, [...(received.get(topic) ?? []), payload]);
  }
  for (const [topic, payloads] of sent) expect(received.get(topic) ?? [], topic).toEqual(payloads);
}

describe('online shard split', () => {
  it('copies, forwards and flips while publishing goes on: exactly once, in order, retained kept', async () => {
    const { stay, move } = regionOneTopics(3);
    const topics = [...stay, ...move];
    const exact = await connectClient(broker.mqttUrl, { clientId: 'split-exact', clean: true });
    const wild = await connectClient(broker.mqttUrl, { clientId: 'split-wild', clean: true });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'split-pub' });
    const exactGot = recorder(exact);
    const wildGot = recorder(wild);
    await subscribe(exact, topics, 1);
    await subscribe(wild, 'split/#', 1);
    // Extra subscribers make the copy many batches long (2 rows each, a pause between steps).
    const crowd = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const client = await connectClient(broker.mqttUrl, { clientId: `split-crowd-${i}` });
        await subscribe(client, topics, 0);
        return client;
      }),
    );
    for (const topic of topics) await publish(pub, topic, `retained ${topic}`, { qos: 1, retain: true });
    await exactGot.waitFor(topics.length);
    await wildGot.waitFor(topics.length);
    exactGot.messages.splice(0);
    wildGot.messages.splice(0);

    const sent = new Map<string, string[]>(topics.map((topic) => [topic, []]));
    const one = await shard(1);
    let splitDone = false;
    const splitting = one.split({ tenant: TENANT, index: 1 }, { batchRows: 2, pauseMs: 25 }).then((progress) => {
      splitDone = true;
      return progress;
    });
    // Publish through the split and a little after it, one topic after another (QoS 1: each acknowledged).
    let late: MqttClient | undefined;
    let lateGot: Recorder | undefined;
    let seq = 0;
    for (let after = 0; after < 2 * topics.length; seq++) {
      const topic = topics[seq % topics.length]!;
      await publish(pub, topic, `m${seq}`, { qos: 1, retain: seq % 7 === 0 });
      sent.get(topic)!.push(`m${seq}`);
      if (seq === 3) {
        // A subscription made mid-copy, to a topic of the moving half: forwarded to the child.
        late = await connectClient(broker.mqttUrl, { clientId: 'split-late' });
        lateGot = recorder(late);
        await subscribe(late, move[0]!, 1);
      }
      if (splitDone) after++;
      if (seq > 2_000) throw new Error('the split did not finish');
    }
    const progress = await splitting;
    expect(progress).toMatchObject({ index: 1, depth: 3 });
    expect(progress.rowsCopied).toBeGreaterThan(0);

    await sentinel(pub, stay[0]!, exactGot);
    await sentinel(pub, move[0]!, wildGot);
    expectExactlyOnceInOrder(exactGot, sent);
    expectExactlyOnceInOrder(wildGot, sent);
    // The late subscriber got what was published to its topic after its SUBACK, once each.
    const lateTopic = move[0]!;
    await sentinel(pub, lateTopic, lateGot!);
    const lateSeen = lateGot!.messages.filter((m) => !m.packet.retain && !m.payload.startsWith('sentinel')).map((m) => m.payload);
    expect(new Set(lateSeen).size).toBe(lateSeen.length);
    expect(lateSeen.length).toBeGreaterThan(0);

    // The child holds the moving half; both report depth 3; shard 0's list names shard 5.
    const five = await shard(5);
    const [oneStats, fiveStats] = await Promise.all([one.statistics(), five.statistics()]);
    expect(oneStats).toMatchObject({ index: 1, depth: 3 });
    expect(fiveStats).toMatchObject({ index: 5, depth: 3 });
    expect(fiveStats.exactSubscriptions).toBe(move.length * 5 + 1); // split-exact, the crowd, and split-late mid-copy
    expect(oneStats.exactSubscriptions).toBe(stay.length * 5);
    expect(fiveStats.wildcardSubscriptions).toBe(oneStats.wildcardSubscriptions);
    expect(fiveStats.retained).toBe(move.length);
    expect(oneStats.retained).toBe(stay.length);
    expect(await (await shard(0)).shards()).toEqual([0, 1, 2, 3, 5]);

    // Retained messages come back, each once with its latest value, to a new wildcard subscription.
    const fresh = await connectClient(broker.mqttUrl, { clientId: 'split-fresh' });
    const freshGot = recorder(fresh);
    await subscribe(fresh, 'split/#', 1);
    const retained = await freshGot.waitFor(topics.length);
    const latest = new Map<string, string>(topics.map((topic) => [topic, `retained ${topic}`]));
    for (let i = 0; i < seq; i++) if (i % 7 === 0) latest.set(topics[i % topics.length]!, `m${i}`);
    expect(new Map(retained.map((m) => [m.topic, m.payload]))).toEqual(latest);
    expect(retained).toHaveLength(topics.length);

    // Unsubscribing after the split reaches the new owner (exact) and both shards (wildcard).
    await new Promise<void>((resolve, reject) => exact.unsubscribe(move[1]!, (error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve, reject) => wild.unsubscribe('split/#', (error) => (error ? reject(error) : resolve())));
    exactGot.messages.splice(0);
    wildGot.messages.splice(0);
    await publish(pub, move[1]!, 'after unsubscribe', { qos: 1 });
    await publish(pub, stay[1]!, 'after unsubscribe', { qos: 1 });
    await sentinel(pub, move[0]!, exactGot);
    expect(exactGot.messages.map((m) => m.topic)).not.toContain(move[1]);
    expect(wildGot.messages).toHaveLength(0);
    // split-fresh's split/# came in, split-wild's went: on both shards of the region.
    expect((await five.statistics()).wildcardSubscriptions).toBe(fiveStats.wildcardSubscriptions);
    expect((await one.statistics()).wildcardSubscriptions).toBe(fiveStats.wildcardSubscriptions);

    await Promise.all([exact, wild, pub, fresh, late!, ...crowd].map((client) => end(client)));
  }, 60_000);
});
