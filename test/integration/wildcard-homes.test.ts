// Wildcard subscriptions in their homes (core/routing/wildcard-homes.ts): the shards hold them in memory only,
// so what must hold is that every shard matches them whenever it exists: across a split, after a restart of
// the runtime (the shards load them from the homes), and that an unsubscribe is gone from both.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicHash } from '../../core/routing/shard.js';
import type { ShardAddress, SplitProgress } from '../../core/routing/shard-protocol.js';
import { startBroker, tempPersistDir, type RunningBroker } from './broker.js';
import { connectClient, end, publish, recorder, sentinel, subscribe, type Recorder } from './clients.js';

const TENANT = 'default';
const HOMES = 4;

interface ShardStub {
  split(address?: ShardAddress, options?: { batchRows?: number; pauseMs?: number }): Promise<SplitProgress>;
  splitProgress(): Promise<SplitProgress>;
  statistics(): Promise<{ index: number | null; depth: number; exactSubscriptions: number; wildcardSubscriptions: number }>;
}

async function shard(target: RunningBroker, index: number): Promise<ShardStub> {
  const namespace = await target.miniflare.getDurableObjectNamespace('SHARD');
  return namespace.get(namespace.idFromName(`${TENANT}\u0000shard\u0000${index}`)) as unknown as ShardStub;
}

/** Rows held by all of the tenant's wildcard homes. */
async function homeRows(target: RunningBroker): Promise<number> {
  const namespace = await target.miniflare.getDurableObjectNamespace('WILDCARD');
  const counts = await Promise.all(
    Array.from({ length: HOMES }, (_, home) => (namespace.get(namespace.idFromName(`${TENANT}\u0000wildcard\u0000${home}`)) as unknown as { count(): Promise<number> }).count()),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

function unsubscribe(client: MqttClient, filter: string): Promise<void> {
  return new Promise((resolve, reject) => client.unsubscribe(filter, (error) => (error ? reject(error) : resolve())));
}

/** Payloads received, without retained copies and sentinels. */
const live = (got: Recorder) => got.messages.filter((m) => !m.packet.retain && !m.payload.startsWith('sentinel')).map((m) => `${m.topic} ${m.payload}`);

describe('wildcard homes across a split', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ vars: { SHARD_COUNT: '4', WILDCARD_HOMES: String(HOMES) } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('a wildcard held before, one subscribed and one unsubscribed during the copy: the child matches exactly the held ones', async () => {
    // Region 1 topics that go to shard 5 when shard 1 splits at depth 2.
    const moving: string[] = [];
    for (let i = 0; moving.length < 3; i++) if (topicHash(`wh-split/t${i}`) % 8 === 5) moving.push(`wh-split/t${i}`);
    const before = await connectClient(broker.mqttUrl, { clientId: 'wh-before' });
    const leaving = await connectClient(broker.mqttUrl, { clientId: 'wh-leaving' });
    const during = await connectClient(broker.mqttUrl, { clientId: 'wh-during' });
    const pub = await connectClient(broker.mqttUrl, { clientId: 'wh-pub' });
    const [beforeGot, leavingGot, duringGot] = [recorder(before), recorder(leaving), recorder(during)];
    await subscribe(before, 'wh-split/#', 1);
    await subscribe(leaving, 'wh-split/+', 1);
    // Exact subscriptions of region 1 make the copy many small steps long.
    const crowd = await connectClient(broker.mqttUrl, { clientId: 'wh-crowd' });
    const crowdTopics: string[] = [];
    for (let i = 0; crowdTopics.length < 30; i++) if (topicHash(`wh-crowd/${i}`) % 4 === 1) crowdTopics.push(`wh-crowd/${i}`);
    await subscribe(crowd, crowdTopics, 0);

    const one = await shard(broker, 1);
    const splitting = one.split({ tenant: TENANT, index: 1 }, { batchRows: 1, pauseMs: 40 });
    // While the parent copies: a new wildcard subscription and an unsubscribe reach only the parent (the
    // routers do not know the child yet); the parent forwards them, and the child also reads the homes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await one.splitProgress()).state).toBe('copying');
    await subscribe(during, 'wh-split/+/x', 1);
    await unsubscribe(leaving, 'wh-split/+');
    expect((await one.splitProgress()).state).toBe('copying');
    expect(await splitting).toMatchObject({ index: 1, depth: 3 });

    const five = await shard(broker, 5);
    const [oneStats, fiveStats] = await Promise.all([one.statistics(), five.statistics()]);
    expect(fiveStats).toMatchObject({ index: 5, depth: 3 });
    expect(fiveStats.wildcardSubscriptions).toBe(oneStats.wildcardSubscriptions);
    expect(fiveStats.wildcardSubscriptions).toBe(2); // wh-split/# and wh-split/+/x

    for (const topic of moving) {
      await publish(pub, topic, 'one', { qos: 1 });
      await publish(pub, `${topic}/x`, 'two', { qos: 1 });
    }
    await sentinel(pub, moving[0]!, beforeGot);
    await sentinel(pub, `${moving[0]}/x`, duringGot);
    expect(live(beforeGot).sort()).toEqual(moving.flatMap((topic) => [`${topic} one`, `${topic}/x two`]).sort());
    expect(live(duringGot).sort()).toEqual(moving.map((topic) => `${topic}/x two`).sort());
    expect(live(leavingGot)).toEqual([]);
    await Promise.all([before, leaving, during, pub, crowd].map((client) => end(client)));
  }, 60_000);

  it('a shared wildcard subscription: each message once to one member, from every shard', async () => {
    const members = await Promise.all(['wh-m1', 'wh-m2'].map((clientId) => connectClient(broker.mqttUrl, { clientId })));
    const got = members.map((member) => recorder(member));
    for (const member of members) await subscribe(member, '$share/g/wh-shared/#', 1);
    const pub = await connectClient(broker.mqttUrl, { clientId: 'wh-shared-pub' });
    const sent = Array.from({ length: 24 }, (_, i) => `wh-shared/t${i} m${i}`);
    for (let i = 0; i < sent.length; i++) await publish(pub, `wh-shared/t${i}`, `m${i}`, { qos: 1 });
    const plain = await connectClient(broker.mqttUrl, { clientId: 'wh-shared-check' });
    const plainGot = recorder(plain);
    await subscribe(plain, 'wh-shared/#', 1);
    await sentinel(pub, 'wh-shared/end', plainGot);
    // Every publish was acknowledged after its copies were stored; give the last ones time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(got.flatMap((recorded) => live(recorded)).sort()).toEqual(sent.sort());
    expect(got.every((recorded) => live(recorded).length > 0)).toBe(true);
    await Promise.all([...members, pub, plain].map((client) => end(client)));
  });
});

describe('wildcard homes across a restart of the runtime', () => {
  it('[MQTT-4.1.0-1] wildcard and shared wildcard subscriptions are matched after a restart; an unsubscribe stays gone', async () => {
    const persistDir = tempPersistDir();
    const vars = { SHARD_COUNT: '4', WILDCARD_HOMES: String(HOMES) };
    let broker = await startBroker({ persistDir, vars });
    try {
      const sub = await connectClient(broker.mqttUrl, { clientId: 'wr-sub', clean: false });
      await subscribe(sub, 'wr/+/temp', 1);
      await subscribe(sub, '$share/g/wr/#', 1);
      await subscribe(sub, 'wr/gone/#', 1);
      await unsubscribe(sub, 'wr/gone/#');
      expect(await homeRows(broker)).toBe(2);
      await end(sub);
      await broker.stop();

      broker = await startBroker({ persistDir, vars });
      const back = await connectClient(broker.mqttUrl, { clientId: 'wr-sub', clean: false });
      const got = recorder(back);
      const pub = await connectClient(broker.mqttUrl, { clientId: 'wr-pub' });
      const topics = Array.from({ length: 8 }, (_, i) => `wr/room${i}/temp`);
      for (const topic of topics) await publish(pub, topic, 'after restart', { qos: 1 });
      await publish(pub, 'wr/gone/x', 'not for the unsubscribed', { qos: 1 });
      // Each topic matches both the plain and the shared filter: one copy per matching subscription owner,
      // the shared one included (its only member).
      await got.waitFor(topics.length + 1);
      await sentinel(pub, 'wr/end', got);
      const seen = live(got);
      for (const topic of topics) expect(seen).toContain(`${topic} after restart`);
      expect(seen.filter((line) => line.startsWith('wr/gone/x'))).toHaveLength(1); // through the shared filter only

      // Unsubscribed after the restart: the home row goes, and a further restart does not bring it back.
      await unsubscribe(back, 'wr/+/temp');
      await unsubscribe(back, '$share/g/wr/#');
      expect(await homeRows(broker)).toBe(0);
      await Promise.all([end(back), end(pub)]);
      await broker.stop();

      broker = await startBroker({ persistDir, vars });
      const again = await connectClient(broker.mqttUrl, { clientId: 'wr-sub', clean: false });
      const gotAgain = recorder(again);
      const pub2 = await connectClient(broker.mqttUrl, { clientId: 'wr-pub2' });
      await publish(pub2, 'wr/room1/temp', 'after unsubscribe', { qos: 1 });
      const check = await connectClient(broker.mqttUrl, { clientId: 'wr-check' });
      const checkGot = recorder(check);
      await subscribe(check, 'wr/end', 1);
      await sentinel(pub2, 'wr/end', checkGot);
      expect(live(gotAgain)).toEqual([]);
      const statistics = await Promise.all([0, 1, 2, 3].map(async (index) => (await shard(broker, index)).statistics()));
      expect(statistics.map((s) => s.wildcardSubscriptions)).toEqual([0, 0, 0, 0]);
      await Promise.all([end(again), end(pub2), end(check)]);
    } finally {
      await broker.stop();
    }
  }, 60_000);
});

/**
 * The broker with one extra method on its shards: writing wildcard rows the way the release before wildcard
 * homes stored them (a row in every shard), and counting the ones left.
 */
const WITH_OLD_ROWS = `
export * from './worker/index.ts';
export { default } from './worker/index.ts';
import { TopicShardDO as Shard } from './durable-objects/topic-shard-do.ts';
export class TopicShardDO extends Shard {
  async writeOldWildcardRow(filter: string, session: string, qos: number): Promise<void> {
    this.ctx.storage.sql.exec('INSERT INTO subscriptions (filter, session, qos) VALUES (?, ?, ?)', filter, session, qos);
  }
  async oldWildcardRows(): Promise<number> {
    return this.ctx.storage.sql.exec("SELECT filter FROM subscriptions WHERE filter LIKE '%#%' OR filter LIKE '%+%'").toArray().length;
  }
}
`;

describe('wildcard rows of the release before wildcard homes', () => {
  it('a shard registers its old wildcard rows with their homes on first wake and deletes its own; matching goes on', async () => {
    const persistDir = tempPersistDir();
    const vars = { SHARD_COUNT: '4', WILDCARD_HOMES: String(HOMES) };
    let broker = await startBroker({ persistDir, vars, entry: WITH_OLD_ROWS });
    type OldShard = { writeOldWildcardRow(filter: string, session: string, qos: number): Promise<void>; oldWildcardRows(): Promise<number> };
    const oldShard = async (index: number) => (await shard(broker, index)) as unknown as OldShard;
    try {
      // The session holds mig/# and mig/+/x as before the upgrade: a row in every shard, none in a home.
      const sub = await connectClient(broker.mqttUrl, { clientId: 'mig-sub', clean: false });
      await subscribe(sub, ['mig/#', 'mig/+/x'], 1);
      await end(sub);
      const namespace = await broker.miniflare.getDurableObjectNamespace('WILDCARD');
      for (let home = 0; home < HOMES; home++) {
        const stub = namespace.get(namespace.idFromName(`${TENANT}\u0000wildcard\u0000${home}`)) as unknown as { remove(keys: unknown[]): Promise<void> };
        await stub.remove(['mig/#', 'mig/+/x'].map((filter) => ({ filter, session: `${TENANT}\u0000mig-sub` })));
      }
      expect(await homeRows(broker)).toBe(0);
      for (const index of [0, 1, 2, 3]) {
        for (const filter of ['mig/#', 'mig/+/x']) await (await oldShard(index)).writeOldWildcardRow(filter, `${TENANT}\u0000mig-sub`, 1);
      }
      await broker.stop();

      broker = await startBroker({ persistDir, vars, entry: WITH_OLD_ROWS });
      const back = await connectClient(broker.mqttUrl, { clientId: 'mig-sub', clean: false });
      const got = recorder(back);
      // The first call wakes every shard: the router deletes mig/+/x from its home (holding nothing yet), each
      // shard's migration then registers it there again, and its unsubscribe deletes it once more.
      await unsubscribe(back, 'mig/+/x');
      expect(await homeRows(broker)).toBe(1);
      const pub = await connectClient(broker.mqttUrl, { clientId: 'mig-pub' });
      const topics = [...Array.from({ length: 8 }, (_, i) => `mig/${i}`), 'mig/a/x'];
      for (const topic of topics) await publish(pub, topic, 'after upgrade', { qos: 1 });
      await sentinel(pub, 'mig/end', got);
      expect(live(got).sort()).toEqual(topics.map((topic) => `${topic} after upgrade`).sort());
      const loaded = await Promise.all([0, 1, 2, 3].map(async (index) => (await shard(broker, index)).statistics()));
      expect(loaded.map((s) => s.wildcardSubscriptions)).toEqual([1, 1, 1, 1]);
      // No shard keeps a row of its own.
      expect(await Promise.all([0, 1, 2, 3].map(async (index) => (await oldShard(index)).oldWildcardRows()))).toEqual([0, 0, 0, 0]);

      // An unsubscribe now removes them from the home; a restart does not bring them back.
      await unsubscribe(back, 'mig/#');
      expect(await homeRows(broker)).toBe(0);
      await Promise.all([end(back), end(pub)]);
      await broker.stop();
      broker = await startBroker({ persistDir, vars, entry: WITH_OLD_ROWS });
      const statistics = await Promise.all([0, 1, 2, 3].map(async (index) => (await shard(broker, index)).statistics()));
      expect(statistics.map((s) => s.wildcardSubscriptions)).toEqual([0, 0, 0, 0]);
    } finally {
      await broker.stop();
    }
  }, 60_000);
});
