// How a session (or the tenant) reaches the topic shards: publish to one shard, subscribe to one or all.
//
// Shards split (core/routing/shard-layout.ts), and a router learns the layout from the depths the shards
// answer with: no lookup on the hot path. Everything is keyed by region (h mod SHARD_COUNT, today's shard):
// a region's shards only ever split among themselves, so one ordered pipeline per region keeps a
// publisher's order per topic across a move:
//
//   publish(t/1) ─▶ outbox(region 1) ─▶ batch ─▶ owner per layout: shard 1 ─▶ "moved" (depth 3)
//                                               learn: 5 exists ─▶ resend to 5 ─▶ batch resolves
//   publish(t/2) waits in the same outbox, so it reaches 5 after t/1 did.
import { OverloadedError } from '../core/errors.js';
import { CoalescingOutbox, FULL, OverloadCounts } from '../core/routing/coalescing-outbox.js';
import { messageBytes } from '../core/routing/fanout-relay.js';
import type { RetainedMessage, RoutedMessage } from '../core/routing/message.js';
import { mergeRetainedPages } from '../core/routing/retained-merge.js';
import { topicHash } from '../core/routing/shard.js';
import { filterHash, ShardLayout } from '../core/routing/shard-layout.js';
import type { ShardAddress } from '../core/routing/shard-protocol.js';
import { subscriptionOptions, type RetainedPage, type ShardSubscription, type SubscribeOutcome, type SubscribeResult } from '../core/routing/subscription.js';
import { combinerStub, shardStub } from './addresses.js';
import { HotTopics, combinerSlot } from '../core/routing/hot-topics.js';
import { brokerConfig, outboxBounds } from './config.js';
import type { Env } from './env.js';
import { WildcardHomes } from './wildcard-homes.js';

/** Flush after one macrotask: publishes of events already queued for this object join the first call. */
export function afterQueuedEvents(flush: () => void): void {
  setTimeout(flush, 0);
}

/** A "moved" answer names an owner the layout learns from it; a layout that stops learning is a bug. */
const MAX_RESENDS = 24;

/**
 * What this isolate knows of each tenant's layout: depths only grow, so every router here may share it and
 * start from what the others learned.
 */
const layouts = new Map<string, ShardLayout>();

/** The topics shards said are hot, per tenant, shared by this isolate's routers like the layouts. */
const hotTopicsByTenant = new Map<string, HotTopics>();

function hotTopicsOf(tenant: string): HotTopics {
  let hot = hotTopicsByTenant.get(tenant);
  if (!hot) {
    hot = new HotTopics();
    hotTopicsByTenant.set(tenant, hot);
  }
  return hot;
}

function layoutOf(tenant: string, shardCount: number): ShardLayout {
  const key = `${shardCount}\u0000${tenant}`;
  let layout = layouts.get(key);
  if (!layout) {
    layout = new ShardLayout(shardCount);
    layouts.set(key, layout);
  }
  return layout;
}

/**
 * Every shard of a tenant, ascending, for enumeration (statistics, $SYS, the retained API): the list shard
 * 0 keeps (a split registers its child there, after its flip). A caller that must not miss a shard being
 * registered closes over the depths the shards answer with (ShardRouter.listRetained does).
 */
export async function shardIndexes(env: Env, tenant: string): Promise<number[]> {
  return shardStub(env, tenant, 0).shards();
}

/** One entry of a region's subscribe: where it goes (one owner, or every shard of the region). */
interface RegionEntry {
  entry: ShardSubscription;
  /** The filter's hash for an exact filter; undefined for a wildcard (every shard). */
  hash: number | undefined;
}

/**
 * One outbox per region keeps a publisher's messages in order and batches bursts into one RPC call per
 * owning shard (DESIGN §2: a publish touches one shard). Subscribes and unsubscribes of a region are chained,
 * so that a late unsubscribe (a discarded session's) never overtakes a new subscribe, moves included.
 */
export class ShardRouter {
  private readonly outboxes = new Map<number, CoalescingOutbox<RoutedMessage>>();
  private readonly controls = new Map<number, Promise<unknown>>();
  /** The last wildcard (un)subscribe of this router: the next one writes the homes after it (homesFirst). */
  private wildcardLane: Promise<void> = Promise.resolve();
  private readonly homes: WildcardHomes;
  private readonly layout: ShardLayout;
  private readonly hot: HotTopics;

  /**
   * `combine`: send hot topics through combiners (core/routing/hot-topics.ts); a combiner's own router
   * does not, or it would send them back to itself.
   */
  constructor(
    private readonly env: Env,
    private readonly tenant: string,
    private readonly shardCount: number,
    private readonly combine = true,
  ) {
    this.layout = layoutOf(tenant, shardCount);
    this.hot = hotTopicsOf(tenant);
    this.homes = new WildcardHomes(env, tenant, brokerConfig(env).wildcardHomes);
  }

  /** Messages publish()'s full outboxes did not take since this router was made (QoS 0 dropped, QoS 1/2 refused). */
  readonly publishOverload = new OverloadCounts();

  /**
   * Resolves once the owning shard has stored (if retained) and delivered the message to every subscriber.
   * A full outbox (OUTBOX_MAX_ITEMS / OUTBOX_MAX_BYTES) drops a QoS 0 message and refuses a QoS 1/2 one: the
   * promise rejects with an OverloadedError (core/errors.ts isOverloaded), as a shard's overload does.
   */
  publish(message: RoutedMessage): Promise<void> {
    const region = this.layout.regionOf(topicHash(message.topic));
    let outbox = this.outboxes.get(region);
    if (!outbox) {
      outbox = new CoalescingOutbox<RoutedMessage>(
        async (batch) => {
          await this.publishBatch(batch);
        },
        { maximumBatch: 500, ...outboxBounds(brokerConfig(this.env)), size: messageBytes, schedule: afterQueuedEvents },
      );
      this.outboxes.set(region, outbox);
    }
    const offered = outbox.offer(message);
    if (offered !== FULL) return offered;
    const refused = this.publishOverload.shed(message.qos);
    return Promise.reject(new OverloadedError(`the outbox to shard region ${region} is full${refused ? '' : ': QoS 0 message dropped'}`));
  }

  /** Publishes without batching and answers how many sessions received the message (for $SYS). */
  publishCounted(message: RoutedMessage): Promise<number> {
    return this.publishBatch([message]);
  }

  /**
   * Sends a batch to the owners of its topics (in parallel, each owner's part in order), then what came
   * back "moved" to the owners the answers name, until every message was taken. Answers the deliveries.
   */
  private async publishBatch(batch: readonly RoutedMessage[]): Promise<number> {
    let pending = [...batch];
    let delivered = 0;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > MAX_RESENDS) throw new Error(`shard layout of ${this.tenant} did not settle for a publish`);
      // One call per owner, and per combiner for its hot topics: each topic's messages go one way per batch.
      const now = Date.now();
      const { hotTopicCombiners } = brokerConfig(this.env);
      const byCall = new Map<string, { index: number; slot: number | undefined; messages: RoutedMessage[] }>();
      for (const message of pending) {
        const index = this.layout.ownerOf(topicHash(message.topic));
        const slot = this.combine && this.hot.isHot(message.topic, now) ? combinerSlot(message.origin ?? this.tenant, hotTopicCombiners) : undefined;
        const key = `${index}/${slot ?? ''}`;
        const call = byCall.get(key);
        if (call) call.messages.push(message);
        else byCall.set(key, { index, slot, messages: [message] });
      }
      const answers = await Promise.all(
        [...byCall.values()].map(async ({ index, slot, messages }) => {
          const address = this.address(index);
          const target = slot === undefined ? shardStub(this.env, this.tenant, index) : combinerStub(this.env, this.tenant, index, slot);
          return { index, messages, answer: await target.routePublish(address, messages) };
        }),
      );
      const moved: RoutedMessage[] = [];
      for (const { index, messages, answer } of answers) {
        this.layout.learn(index, answer.depth);
        if (answer.hot) this.hot.mark(answer.hot, now);
        delivered += answer.delivered;
        for (const position of answer.moved) moved.push(messages[position]!);
      }
      // Messages of one topic are in one group, in order, so `moved` keeps each topic's order.
      pending = moved;
    }
    return delivered;
  }

  /**
   * Registers filters and their 5.0 options with their shards (a wildcard goes to its wildcard home first,
   * then to every shard's memory; a shared subscription where its inner filter goes) and collects a first
   * page of retained messages per region, expiry included. An entry with `continueFrom` registers nothing:
   * it reads the next page of each region named, after its cursor (core/session/retained-replay.ts). A
   * region's page merges its shards' pages, so a cursor stays right however the region's shards split
   * between two rounds.
   */
  async subscribe(session: string, subscriptions: readonly ShardSubscription[]): Promise<Map<string, SubscribeOutcome>> {
    const homeRows = subscriptions.filter((s) => !s.continueFrom && filterHash(s.filter) === undefined).map((s) => ({ filter: s.filter, session, ...subscriptionOptions(s) }));
    return this.homesFirst(
      () => this.homes.put(homeRows),
      homeRows.length > 0,
      (written) => this.subscribeShards(session, subscriptions, written),
    );
  }

  private async subscribeShards(session: string, subscriptions: readonly ShardSubscription[], written: Promise<void>): Promise<Map<string, SubscribeOutcome>> {
    const byRegion = new Map<number, RegionEntry[]>();
    const add = (region: number, item: RegionEntry) => {
      const entries = byRegion.get(region);
      if (entries) entries.push(item);
      else byRegion.set(region, [item]);
    };
    for (const subscription of subscriptions) {
      const entry: ShardSubscription = { filter: subscription.filter, ...subscriptionOptions(subscription) };
      const hash = filterHash(subscription.filter);
      if (subscription.continueFrom) {
        for (const { shard: region, after } of subscription.continueFrom) add(region, { entry: { ...entry, after }, hash });
      } else if (hash === undefined) {
        for (let region = 0; region < this.shardCount; region++) add(region, { entry, hash });
      } else add(this.layout.regionOf(hash), { entry, hash });
    }
    const merged = new Map<string, SubscribeOutcome>();
    for (const subscription of subscriptions) merged.set(subscription.filter, { isNew: false, pages: [] });
    const answers = await Promise.all(
      [...byRegion].map(async ([region, entries]) => ({ region, results: await this.inOrder(region, () => written.then(() => this.subscribeRegion(session, region, entries))) })),
    );
    for (const { region, results } of answers) {
      for (const { filter, isNew, page } of results) {
        const outcome = merged.get(filter);
        if (!outcome) continue;
        outcome.isNew ||= isNew;
        outcome.pages.push({ shard: region, ...page });
      }
    }
    return merged;
  }

  /**
   * A region's part of a subscribe: each entry to its owner (exact) or to every shard of the region
   * (wildcard), learning from each answer's depth and sending again where it said "moved" or revealed a
   * shard not yet asked, until every shard that exists has answered. A shard that is copying to a child
   * forwards the change itself (shard/split-log.ts), so a child created meanwhile is covered either way.
   */
  private async subscribeRegion(
    session: string,
    region: number,
    entries: readonly RegionEntry[],
  ): Promise<Array<{ filter: string; isNew: boolean; page: Omit<RetainedPage, 'shard'> }>> {
    const answered = entries.map(() => new Map<number, SubscribeResult>());
    for (let attempt = 0; ; attempt++) {
      if (attempt > MAX_RESENDS) throw new Error(`shard layout of ${this.tenant} did not settle for a subscribe`);
      const byShard = new Map<number, number[]>();
      entries.forEach(({ hash }, position) => {
        const targets = hash === undefined ? this.layout.inRegion(region) : [this.layout.ownerOf(hash)];
        for (const index of targets) if (!answered[position]!.has(index)) push(byShard, index, position);
      });
      if (byShard.size === 0) break;
      await Promise.all(
        [...byShard].map(async ([index, positions]) => {
          const group = positions.map((position) => entries[position]!.entry);
          const answer = await shardStub(this.env, this.tenant, index).routeSubscribe(this.address(index), session, group);
          this.layout.learn(index, answer.depth);
          answer.results.forEach((result, i) => {
            // RPC typing widens tuples (user properties); the values are what the shard stored.
            if (result) answered[positions[i]!]!.set(index, result as SubscribeResult);
          });
        }),
      );
    }
    return entries.map(({ entry }, position) => {
      // An exact filter's page is its owner's (moved answers carry none); a wildcard's merges the region's.
      const results = [...answered[position]!.values()];
      const page = mergeRetainedPages(
        results.map((result) => ({ messages: result.retained, next: result.next ?? null })),
        Number.MAX_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      );
      return {
        filter: entry.filter,
        isNew: results.some((result) => result.isNew),
        page: { retained: page.messages, ...(page.next === null ? {} : { next: page.next }) },
      };
    });
  }

  /** Forgets filters: a wildcard's home row first (a shard that wakes afterwards does not read it), then the shards. */
  async unsubscribe(session: string, filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return;
    const homeKeys = filters.filter((filter) => filterHash(filter) === undefined).map((filter) => ({ filter, session }));
    await this.homesFirst(
      () => this.homes.remove(homeKeys),
      homeKeys.length > 0,
      async (written) => {
        const byRegion = new Map<number, string[]>();
        for (const filter of filters) {
          const hash = filterHash(filter);
          if (hash === undefined) for (let region = 0; region < this.shardCount; region++) push(byRegion, region, filter);
          else push(byRegion, this.layout.regionOf(hash), filter);
        }
        await Promise.all([...byRegion].map(([region, group]) => this.inOrder(region, () => written.then(() => this.unsubscribeRegion(session, region, group)))));
      },
    );
  }

  /**
   * Runs an operation whose shard calls must follow a write to the wildcard homes. The shard calls are queued
   * in their regions at once (so order per region is the order of calls, exact filters included) and each
   * waits for the write; the write waits until every earlier wildcard operation of this router has finished,
   * shard calls included, so a re-subscribe's home row is never written before an earlier unsubscribe of the
   * same filter is through (a shard may delete a migrated row from its home during one: SubscriptionsStore).
   */
  private homesFirst<T>(write: () => Promise<void>, writes: boolean, shardCalls: (written: Promise<void>) => Promise<T>): Promise<T> {
    if (!writes) return shardCalls(Promise.resolve());
    const written = this.wildcardLane.then(write);
    const operation = shardCalls(written);
    this.wildcardLane = operation.then(
      () => undefined,
      () => undefined,
    );
    return operation;
  }

  /** Like subscribeRegion: wildcards from every shard of the region, exact filters from their owners. */
  private async unsubscribeRegion(session: string, region: number, filters: readonly string[]): Promise<void> {
    const answered = filters.map(() => new Set<number>());
    for (let attempt = 0; ; attempt++) {
      if (attempt > MAX_RESENDS) throw new Error(`shard layout of ${this.tenant} did not settle for an unsubscribe`);
      const byShard = new Map<number, number[]>();
      filters.forEach((filter, position) => {
        const hash = filterHash(filter);
        const targets = hash === undefined ? this.layout.inRegion(region) : [this.layout.ownerOf(hash)];
        for (const index of targets) if (!answered[position]!.has(index)) push(byShard, index, position);
      });
      if (byShard.size === 0) return;
      await Promise.all(
        [...byShard].map(async ([index, positions]) => {
          const group = positions.map((position) => filters[position]!);
          const answer = await shardStub(this.env, this.tenant, index).routeUnsubscribe(this.address(index), session, group);
          this.layout.learn(index, answer.depth);
          positions.forEach((position) => {
            if (!answer.moved.includes(filters[position]!)) answered[position]!.add(index);
          });
        }),
      );
    }
  }

  /**
   * One page of the retained messages matching `filter` from every shard of the tenant (the admin API),
   * merged (core/routing/retained-merge.ts). Starts from shard 0's list and closes over the depths the
   * shards answer with, so a child whose registration is still on its way is read too.
   */
  async listRetained(filter: string, page: { after: string; limit: number; maxBytes: number }): Promise<{ messages: RetainedMessage[]; next: string | null }> {
    for (const index of await shardIndexes(this.env, this.tenant)) this.layout.noteShard(index);
    const hash = filterHash(filter);
    const pages = new Map<number, { messages: RetainedMessage[]; next: string | null }>();
    for (let attempt = 0; ; attempt++) {
      if (attempt > MAX_RESENDS) throw new Error(`shard layout of ${this.tenant} did not settle for a retained page`);
      const targets = (hash === undefined ? this.layout.indexes() : [this.layout.ownerOf(hash)]).filter((index) => !pages.has(index));
      if (targets.length === 0) break;
      await Promise.all(
        targets.map(async (index) => {
          const answer = await shardStub(this.env, this.tenant, index).routeListRetained(this.address(index), filter, page);
          this.layout.learn(index, answer.depth);
          pages.set(index, { messages: answer.messages as RetainedMessage[], next: answer.next });
        }),
      );
    }
    return mergeRetainedPages([...pages.values()], page.limit, page.maxBytes);
  }

  /** Deletes a topic's retained message from its owner (the admin API); true when there was one. */
  async deleteRetained(topic: string): Promise<boolean> {
    const hash = topicHash(topic);
    for (let attempt = 0; attempt <= MAX_RESENDS; attempt++) {
      const index = this.layout.ownerOf(hash);
      const answer = await shardStub(this.env, this.tenant, index).routeDeleteRetained(this.address(index), topic);
      this.layout.learn(index, answer.depth);
      if (!answer.moved) return answer.deleted;
    }
    throw new Error(`shard layout of ${this.tenant} did not settle for a retained delete`);
  }

  private address(index: number): ShardAddress {
    return { tenant: this.tenant, index };
  }

  /** Runs a (un)subscribe call of one region after the earlier ones to it have settled. */
  private inOrder<T>(region: number, call: () => Promise<T>): Promise<T> {
    const previous = this.controls.get(region) ?? Promise.resolve();
    const next = previous.then(call, call);
    const settled = next.catch(() => undefined);
    this.controls.set(region, settled);
    void settled.then(() => {
      if (this.controls.get(region) === settled) this.controls.delete(region);
    });
    return next;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const values = map.get(key);
  if (values) values.push(value);
  else map.set(key, [value]);
}
