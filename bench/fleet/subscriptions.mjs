// Scenario 2, subscriptions-1m: many subscriptions in one tenant registered straight at the shards' subscribe
// RPC (no sockets), placed by the tree's own router; then the largest shard's size, its wake time after a
// restart on the same storage, and workerd's memory.
//
// Two placements, whichever the tree has: the fixed shardOf(topic, SHARD_COUNT) with subscribe(), or, once
// shards split online (core/routing/shard-layout.ts), the routed protocol: routeSubscribe(address, …) to the
// owner a ShardLayout names, learning from each answer's depth and resending what came back "moved".
import { performance } from 'node:perf_hooks';
import { log, mib, round, runId, sleep, until } from './common.mjs';
import { addressOf, printable } from './objects.mjs';

/** Filters per subscribe call: one session's SUBSCRIBE of a gateway that speaks for many devices. */
const BATCH = 250;
const CONCURRENCY = 16;
/** How long splits started by the registration may take to finish before the shards are measured. */
const SPLIT_SETTLE_MS = 180_000;

export async function subscriptionsRun(fleet, { count, onRestart }) {
  const { broker, modules } = fleet;
  const { shardOf, topicHash } = modules.routing;
  const { ShardLayout } = modules.layout;
  if (typeof shardOf !== 'function') throw new Error('core/routing/shard.ts has no shardOf');
  const tenant = `subs-${runId}`;
  const shardAddress = (i) => addressOf(modules.addresses.shardStub, tenant, i) ?? { binding: 'SHARD', name: `${tenant}\u0000shard\u0000${i}` };
  const probe = await broker.stub(shardAddress(0).binding, shardAddress(0).name);
  const routed = typeof ShardLayout === 'function' && typeof topicHash === 'function' && typeof probe.routeSubscribe === 'function';
  const layout = routed ? new ShardLayout(fleet.shardCount) : undefined;
  const router = routed
    ? `routeSubscribe to ShardLayout.ownerOf(topicHash) (core/routing/shard-layout.ts), online splits`
    : `subscribe to shardOf(topic, ${fleet.shardCount}) (core/routing/shard.ts)`;
  const ownerOf = (topic) => (routed ? layout.ownerOf(topicHash(topic)) : shardOf(topic, fleet.shardCount));
  const proxy = await broker.miniflare._getProxyClient();

  const rssBefore = broker.rss();
  let registered = 0;
  let calls = 0;
  let resent = 0;
  let retried = 0;
  let gateway = 0;
  let nextLog = 0.1;
  const t0 = performance.now();
  // Topics devices/{i}/cmd in windows of BATCH × CONCURRENCY, each window grouped by owner and cut into calls
  // of at most BATCH filters (one gateway session each); what comes back moved goes round again.
  const WINDOW = BATCH * CONCURRENCY;
  let registerError;
  try {
  for (let first = 0; first < count; first += WINDOW) {
    let pending = Array.from({ length: Math.min(WINDOW, count - first) }, (_, k) => `devices/${first + k}/cmd`);
    for (let round = 0; pending.length > 0; round++) {
      if (round > 20) throw new Error(`${pending.length} filters still moved after 20 rounds`);
      const byOwner = new Map();
      for (const topic of pending) {
        const owner = ownerOf(topic);
        if (!byOwner.has(owner)) byOwner.set(owner, []);
        byOwner.get(owner).push(topic);
      }
      const jobs = [];
      for (const [owner, topics] of byOwner) for (let k = 0; k < topics.length; k += BATCH) jobs.push({ owner, topics: topics.slice(k, k + BATCH) });
      const moved = [];
      await Promise.all(
        jobs.map(async ({ owner, topics }) => {
          const address = shardAddress(owner);
          const session = `${tenant}\u0000gateway-${gateway++}`;
          const filters = topics.map((filter) => ({ filter, qos: 1 }));
          calls++;
          // A subscribe is an upsert: a call the local proxy dropped (undici "fetch failed") is sent again,
          // stub and copy included (each is a round trip through Miniflare's proxy).
          const send = async (attempt = 1) => {
            try {
              const stub = await broker.stub(address.binding, address.name);
              const reply = routed ? await stub.routeSubscribe({ tenant, index: owner }, session, filters) : await stub.subscribe(session, filters);
              return routed ? proxy.global.structuredClone(reply) : undefined;
            } catch (error) {
              if (attempt >= 3) throw error;
              retried++;
              log(`subscriptions: call to shard ${owner} failed (${error?.message ?? error}), sending again`);
              await sleep(1000 * attempt);
              return send(attempt + 1);
            }
          };
          const reply = await send();
          if (!routed) {
            registered += topics.length;
            return;
          }
          // Copied out of workerd in one structuredClone: only the depth and which entries moved are needed.
          const answer = reply;
          layout.learn(owner, answer.depth);
          answer.results.forEach((result, position) => (result === null ? moved.push(topics[position]) : registered++));
        }),
      );
      resent += moved.length;
      pending = moved;
    }
    if ((first + WINDOW) / count >= nextLog || first + WINDOW >= count) {
      log(`subscriptions: ${registered.toLocaleString('en-US')} registered, ${((performance.now() - t0) / 1000).toFixed(1)} s, workerd ${mib(broker.rss())} MiB${routed ? `, ${layout.indexes().length} shards known` : ''}`);
      nextLog += 0.1;
    }
  }
  } catch (error) {
    // Keep what was measured: how far registration got, and why it stopped.
    registerError = String(error?.stack ?? error).split('\n').slice(0, 2).join(' ');
    log(`subscriptions: registration stopped at ${registered.toLocaleString('en-US')}: ${registerError}`);
    return { tenant, count, registered, calls, resent, retried, registerError, registerS: round((performance.now() - t0) / 1000, 1), router, rssMiB: { before: mib(rssBefore), after: mib(broker.rss()) } };
  }
  const registerS = (performance.now() - t0) / 1000;
  const rssAfter = broker.rss();

  // The shards as they are now: the base ones, or shard 0's list once splits exist; splits allowed to finish.
  const listShards = async () => {
    const listed = typeof probe.shards === 'function' ? proxy.global.structuredClone(await probe.shards()) : null;
    return listed ?? Array.from({ length: fleet.shardCount }, (_, i) => i);
  };
  let indexes = await listShards();
  let stats = [];
  const settled = await until(
    async () => {
      indexes = await listShards();
      stats = await broker.callMany(indexes.map(shardAddress), 'statistics');
      return stats.every((s) => !s?.split || s.split.state === 'idle');
    },
    { maxMs: SPLIT_SETTLE_MS, stepMs: 2000 },
  );
  const sizes = stats.map((s, k) => ({ index: indexes[k], depth: s?.depth, subscriptions: s ? (s.exactSubscriptions ?? 0) + (s.wildcardSubscriptions ?? 0) : null }));
  const largest = sizes.reduce((a, b) => ((b.subscriptions ?? -1) > (a.subscriptions ?? -1) ? b : a));
  const held = sizes.reduce((a, s) => a + (s.subscriptions ?? 0), 0);
  log(`subscriptions: ${registered.toLocaleString('en-US')} in ${registerS.toFixed(1)} s; ${sizes.length} shards hold ${held.toLocaleString('en-US')} (largest ${largest.subscriptions})${settled ? '' : ', splits still running'}`);
  await sleep(1000);

  // Restart on the same storage: the largest shard's first call loads its subscriptions.
  const restarted = await fleet.restart();
  onRestart?.(restarted);
  const rssRestarted = restarted.broker.rss();
  const address = shardAddress(largest.index);
  const stub = await restarted.broker.stub(address.binding, address.name);
  const w0 = performance.now();
  await stub.statistics();
  const firstMs = performance.now() - w0;
  const w1 = performance.now();
  await stub.statistics();
  const secondMs = performance.now() - w1;
  const rssWoken = restarted.broker.rss();
  log(`subscriptions: largest shard woke in ${firstMs.toFixed(0)} ms (then ${secondMs.toFixed(0)} ms); workerd ${mib(rssRestarted)} → ${mib(rssWoken)} MiB`);

  return {
    tenant,
    count,
    registered,
    heldByShards: held,
    calls,
    resent,
    retried,
    batch: BATCH,
    concurrency: CONCURRENCY,
    registerS: round(registerS, 1),
    perSecond: Math.round(registered / registerS),
    shards: sizes.length,
    splitsSettled: settled,
    router,
    shardSizes: sizes,
    largestShard: { name: printable(address.name), subscriptions: largest.subscriptions },
    wake: { firstMs: round(firstMs, 0), secondMs: round(secondMs, 1) },
    rssMiB: { before: mib(rssBefore), after: mib(rssAfter), restarted: mib(rssRestarted), afterWake: mib(rssWoken) },
  };
}
