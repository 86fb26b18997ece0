// What a message costs in Durable Object terms (DESIGN §2, §4), read from the objects' own counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionSettled, startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, subscribe } from './clients.js';
import { FLUSH_AFTER_MS } from '../../durable-objects/stats/counter-buffer.js';

interface Counts {
  rpc: number;
  rowsWritten: number;
  webSocketMessage: number;
  messagesIn: number;
  messagesOut: number;
  since: number;
}

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ vars: { SHARD_COUNT: '1' } });
});
afterAll(async () => {
  await broker?.stop();
});

async function counts(binding: 'SESSION' | 'SHARD', name: string): Promise<Counts> {
  const namespace = await broker.miniflare.getDurableObjectNamespace(binding);
  const stub = namespace.get(namespace.idFromName(name)) as unknown as { invocationCounts(): Promise<Counts> };
  return stub.invocationCounts();
}

function delta(after: Counts, before: Counts): Counts {
  // A restarted object (new `since`) counted from zero.
  const base = after.since === before.since ? before : { rpc: 0, rowsWritten: 0, webSocketMessage: 0, messagesIn: 0, messagesOut: 0, since: 0 };
  return {
    rpc: after.rpc - base.rpc,
    rowsWritten: after.rowsWritten - base.rowsWritten,
    webSocketMessage: after.webSocketMessage - base.webSocketMessage,
    messagesIn: after.messagesIn - base.messagesIn,
    messagesOut: after.messagesOut - base.messagesOut,
    since: after.since,
  };
}

describe('costs per message', () => {
  it('[DESIGN §2] QoS 0 to an online subscriber writes no SQLite row per message (only the shard\'s counters, at most once a second), and deliveries are batched', async () => {
    const sub = await connectClient(broker.mqttUrl, { clientId: 'cost0-sub' });
    const got = recorder(sub);
    await subscribe(sub, 'cost0/t', 0);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'cost0-pub' });
    await publish(pub, 'cost0/t', 'warm-up');
    await got.waitFor(1);
    const names = { sub: 'default\u0000cost0-sub', pub: 'default\u0000cost0-pub', shard: 'default\u0000shard\u00000' };
    const before = { sub: await counts('SESSION', names.sub), pub: await counts('SESSION', names.pub), shard: await counts('SHARD', names.shard) };
    const started = Date.now();
    for (let i = 0; i < 300; i++) pub.publish('cost0/t', String(i), { qos: 0 });
    // Each counter below moves before the delivery that carries the last message leaves the subscriber's session.
    await got.waitFor(301, 10_000);
    const after = { sub: await counts('SESSION', names.sub), pub: await counts('SESSION', names.pub), shard: await counts('SHARD', names.shard) };
    const sub0 = delta(after.sub, before.sub);
    const pub0 = delta(after.pub, before.pub);
    const shard0 = delta(after.shard, before.shard);
    expect(sub0.rowsWritten + pub0.rowsWritten).toBe(0);
    // [issue 13] The shard's per-minute counters: one row per second of activity (stats/counter-buffer.ts).
    expect(shard0.rowsWritten).toBeLessThanOrEqual(counterRows(Date.now() - started));
    expect(sub0.messagesOut).toBe(300);
    // [DESIGN §4] QoS 0 to N online subscribers costs at most N + 1 requests per message (here N = 1);
    // calls made while one is in flight are coalesced, so a burst costs fewer.
    expect(shard0.rpc + sub0.rpc).toBeLessThanOrEqual(2 * 300);
    console.log('QoS 0 x300: shard calls', shard0.rpc, 'deliver calls', sub0.rpc, 'publisher messages', pub0.webSocketMessage);
    // The Worker gathers the packets a client sends back to back into one message to its session
    // (worker/mqtt-relay.ts sendToSession): the burst's 300 frames reach the publisher's session in fewer.
    expect(pub0.webSocketMessage).toBeLessThan(300);
    await Promise.all([end(sub), end(pub)]);
  });

  /** 20 QoS 1 messages, each awaited, to a subscriber of the given session kind; its rows written meanwhile. */
  async function qos1Rows(clientId: string, clean: boolean, settleMs: number): Promise<Counts> {
    const sub = await connectClient(broker.mqttUrl, { clientId, clean });
    const got = recorder(sub);
    await subscribe(sub, `${clientId}/t`, 1);
    const pub = await connectClient(broker.mqttUrl, { clientId: `${clientId}-pub` });
    await publish(pub, `${clientId}/t`, 'warm-up', { qos: 1 });
    await got.waitFor(1);
    await sessionSettled(broker, clientId);
    await new Promise((resolve) => setTimeout(resolve, settleMs)); // the warm-up's mark row, if any, is written
    const name = `default\u0000${clientId}`;
    const before = await counts('SESSION', name);
    for (let i = 0; i < 20; i++) await publish(pub, `${clientId}/t`, String(i), { qos: 1 });
    await got.waitFor(21);
    await sessionSettled(broker, clientId); // the PUBACKs arrived
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const used = delta(await counts('SESSION', name), before);
    expect(used.messagesOut).toBe(20);
    await Promise.all([end(sub, true), end(pub)]);
    return used;
  }

  it('[DESIGN §4] a QoS 1 delivery to a clean-session subscriber writes no row: its inflight window lives in memory', async () => {
    const used = await qos1Rows('cost1-clean', true, 0);
    expect(used.rowsWritten).toBe(0);
  });

  it('[DESIGN §4] a QoS 1 delivery to a persistent subscriber writes one row (its slot; PUBACK writes none), plus one mark row when the burst ends', async () => {
    // 1.5 s: the mark row is written once the session has been quiet for a second (session-do.ts).
    const used = await qos1Rows('cost1-persistent', false, 1500);
    console.log(`persistent QoS 1 x20: rows written ${used.rowsWritten}`);
    expect(used.rowsWritten).toBeGreaterThanOrEqual(20);
    expect(used.rowsWritten).toBeLessThanOrEqual(21);
  });

  it('[DESIGN §4] a burst of QoS 1 to a persistent subscriber writes one row per deliver batch, not per message', async () => {
    const clientId = 'cost1-batch';
    const sub = await connectClient(broker.mqttUrl, { clientId, clean: false });
    const got = recorder(sub);
    await subscribe(sub, `${clientId}/t`, 1);
    const pub = await connectClient(broker.mqttUrl, { clientId: `${clientId}-pub` });
    const name = `default\u0000${clientId}`;
    const before = await counts('SESSION', name);
    const BURST = 300;
    await Promise.all(Array.from({ length: BURST }, (_, i) => publish(pub, `${clientId}/t`, String(i), { qos: 1 })));
    await got.waitFor(BURST);
    await sessionSettled(broker, clientId);
    const used = delta(await counts('SESSION', name), before);
    console.log(`persistent QoS 1 burst x${BURST}: ${used.rpc} deliver calls, rows written ${used.rowsWritten}`);
    expect(used.messagesOut).toBe(BURST);
    // One row per deliver call at most (the mark row may come on top): fewer than one per message whenever
    // the shard batched (how much it batches depends on timing).
    expect(used.rowsWritten).toBeLessThanOrEqual(used.rpc + 1);
    expect(used.rpc).toBeLessThan(BURST);
    expect(used.rowsWritten).toBeLessThan(BURST);
    await Promise.all([end(sub, true), end(pub)]);
  });
});

describe('costs per retained message', () => {
  it('[DESIGN §4] a retained publish writes at most one row at its shard (an upsert by topic)', async () => {
    const pub = await connectClient(broker.mqttUrl, { clientId: 'cost-retained-pub' });
    await publish(pub, 'cost-retained/warm', 'x', { qos: 1, retain: true });
    const shard = 'default\u0000shard\u00000';
    const before = await counts('SHARD', shard);
    const started = Date.now();
    const N = 20;
    for (let i = 0; i < N; i++) await publish(pub, `cost-retained/${i % 5}`, `v${i}`, { qos: 1, retain: true });
    const used = delta(await counts('SHARD', shard), before);
    console.log(`retained x${N}: shard rows written ${used.rowsWritten}`);
    expect(used.rowsWritten).toBeLessThanOrEqual(N + counterRows(Date.now() - started));
    await end(pub);
  });
});

/** Counter rows a shard may write in `ms` of activity: one per FLUSH_AFTER_MS begun, and one more in flight. */
function counterRows(ms: number): number {
  return Math.ceil(ms / FLUSH_AFTER_MS) + 1;
}

describe('costs per subscribe', () => {
  const SHARDS = 8;
  const HOMES = 4;
  let wide: RunningBroker;
  beforeAll(async () => {
    wide = await startBroker({ vars: { SHARD_COUNT: String(SHARDS), WILDCARD_HOMES: String(HOMES) } });
  });
  afterAll(async () => {
    await wide?.stop();
  });

  /** Rows written by every shard and every wildcard home of the tenant (only those that exist are woken). */
  async function rowsWritten(): Promise<{ shards: number; homes: number; since: number[] }> {
    const read = async (binding: 'SHARD' | 'WILDCARD', name: string) => {
      const namespace = await wide.miniflare.getDurableObjectNamespace(binding);
      return (namespace.get(namespace.idFromName(name)) as unknown as { invocationCounts(): Promise<Counts> }).invocationCounts();
    };
    const shards = await Promise.all(Array.from({ length: SHARDS }, (_, i) => read('SHARD', `default\u0000shard\u0000${i}`)));
    const homes = await Promise.all(Array.from({ length: HOMES }, (_, i) => read('WILDCARD', `default\u0000wildcard\u0000${i}`)));
    const sum = (counts: Counts[]) => counts.reduce((total, c) => total + c.rowsWritten, 0);
    return { shards: sum(shards), homes: sum(homes), since: [...shards, ...homes].map((c) => c.since) };
  }

  it('[DESIGN §4] a wildcard SUBSCRIBE writes 2 rows in its wildcard home and none in the shards (was 2 per shard: 16 with 8 shards)', async () => {
    const client = await connectClient(wide.mqttUrl, { clientId: 'cost-wild' });
    // The first subscribe wakes and names every shard (each writes its placement once).
    await subscribe(client, 'cost-warm/#', 0);
    const before = await rowsWritten();
    await subscribe(client, 'cost-wild/+/x', 1);
    await subscribe(client, '$share/g/cost-wild/#', 1);
    const after = await rowsWritten();
    expect(after.since).toEqual(before.since);
    const shards = after.shards - before.shards;
    const homes = after.homes - before.homes;
    console.log(`wildcard SUBSCRIBE x2 with ${SHARDS} shards: shard rows written ${shards}, home rows written ${homes}`);
    expect(shards).toBe(0);
    expect(homes).toBe(2 * 2);
    await end(client);
  });
});
