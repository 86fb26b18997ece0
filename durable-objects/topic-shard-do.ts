// TopicShardDO: one slice of a tenant's topic space: the subscription trie and the retained messages.
// An adapter: SQL, RPC and counters here; what to store, return, deliver and redeliver is decided in core/routing.
// The jobs live in shard/: subscriptions and retained stores, the delivery pipeline, the splitter; this class
// wires them to the platform and holds the RPC surface that routers, tests and benchmarks call.
import { planPublish } from '../core/routing/fan-out.js';
import type { RetainedMessage, RoutedMessage } from '../core/routing/message.js';
import { sendsRetainedOnSubscribe } from '../core/routing/retained.js';
import { subscriptionOptions, type ShardSubscription, type SubscribeResult } from '../core/routing/subscription.js';
import type { RelayAnswer } from '../core/routing/fanout-relay.js';
import { filterHash, owns } from '../core/routing/shard-layout.js';
import type { DeleteRetainedAnswer, ListRetainedAnswer, PublishAnswer, ShardAddress, SplitProgress, SplitRows, SubscribeAnswer, UnsubscribeAnswer } from '../core/routing/shard-protocol.js';
import { HotTopicMeter } from '../core/routing/hot-topics.js';
import type { Env } from './env.js';
import { fanoutStub, sessionStub, shardName, shardStub, shardTenant } from './addresses.js';
import { CountedObject } from './counted-object.js';
import { afterQueuedEvents } from './shard-router.js';
import { brokerConfig, outboxBounds } from './config.js';
import type { InvocationCounts } from './invocation-counters.js';
import { MessageCounters } from './shard/counters.js';
import { EventSender } from './event-sender.js';
import type { Counts, LogEvent } from '../core/tenancy/event-log.js';
import { ShardDeliveries } from './shard/deliveries.js';
import { PlacementStore } from './shard/placement.js';
import { RetainedStore, type PageBudget } from './shard/retained-store.js';
import { migrateShard, SHARD_SCHEMA } from './shard/schema.js';
import { addShard, listShards } from './shard/shard-list.js';
import { SplitLog } from './shard/split-log.js';
import { ShardSplitter, type SplitOptions } from './shard/split.js';
import { SubscriptionsStore } from './shard/subscriptions-store.js';
import { WildcardHomes } from './wildcard-homes.js';

export interface ShardStatistics {
  /** This shard's index, once a router or its parent has named it; its depth (shard-layout.ts). */
  index: number | null;
  depth: number;
  split: SplitProgress;
  exactSubscriptions: number;
  wildcardSubscriptions: number;
  retained: number;
  messagesReceived: number;
  messagesSent: number;
  /** This shard's invocation counts since it last started (requests, rows read and written). */
  invocations: InvocationCounts;
  retainedRefused: number;
  /** QoS 0 copies dropped because a full outbox here did not take them (since the last start). */
  droppedQos0: number;
  /** QoS 1/2 copies a full outbox here refused, failing their publish (since the last start). */
  refusedOverload: number;
}

export class TopicShardDO extends CountedObject {
  private readonly config = brokerConfig(this.env);
  private readonly placement = new PlacementStore(this.sql, this.config.shardCount);
  private readonly splitLog = new SplitLog(this.sql, this.placement);
  private readonly subscriptions = new SubscriptionsStore(this.sql, this.splitLog, () => this.homes());
  private wildcardHomes: WildcardHomes | undefined;
  private readonly retained = new RetainedStore(this.sql, this.config, () => this.placement.get().depth, this.splitLog);
  private readonly counters = new MessageCounters(this.sql, this.invocations);
  private readonly events = new EventSender(this.env);
  private readonly deliveries = new ShardDeliveries({
    fanoutThreshold: this.config.fanoutThreshold,
    outboxBounds: outboxBounds(this.config),
    schedule: afterQueuedEvents,
    invocations: this.invocations,
    counters: this.counters,
    match: (topic) => this.subscriptions.loaded().match(topic),
    // A session's "stale": forgotten in memory (a wildcard's home row is the router's to delete).
    forget: (session, filters) => {
      this.subscriptions
        .ready()
        .then(() => this.forget(session, filters))
        .catch((error: unknown) => console.warn('forgetting stale subscriptions failed', { session, error: String(error) }));
    },
    deliverToSession: (session, deliveries) => sessionStub(this.env, session).deliver(deliveries),
    deliverToRelay: async (slot, items) => (await fanoutStub(this.env, this.relayOwner(), slot).deliver(items)) as RelayAnswer[],
  });
  private readonly splitter = new ShardSplitter({
    sql: this.sql,
    storage: this.ctx.storage,
    placement: this.placement,
    subscriptions: this.subscriptions,
    retained: this.retained,
    log: this.splitLog,
    shardCount: this.config.shardCount,
    thresholds: this.config.splitThresholds,
    peer: (tenant, index) => shardStub(this.env, tenant, index),
  });
  /** Each topic's message rate: a hot one is named in the publish answer (core/routing/hot-topics.ts). */
  private readonly hotTopics = new HotTopicMeter(this.config.hotTopicRate);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SHARD_SCHEMA);
    migrateShard(this.sql, this.ctx.storage);
  }

  /**
   * Stores retained messages and delivers each message once to every matching session, at the highest QoS
   * among that session's matching subscriptions, and once per shared subscription to one of its members.
   * Resolves when every delivery (and any redelivery of a shared copy) has been accepted.
   */
  async publish(messages: RoutedMessage[]): Promise<number> {
    this.invocations.rpc++;
    this.invocations.messagesIn += messages.length;
    // Loaded already for a routed publish: nothing awaits between its ownership check and the match (a
    // split's flip could come in between).
    const trie = this.subscriptions.current() ?? (await this.subscriptions.ready());
    const now = Date.now();
    const { routes } = planPublish(messages, (topic) => trie.match(topic), this.deliveries.picker(now), now);
    const deliveries: Promise<void>[] = [];
    let copies = 0;
    let bytesOut = 0;
    for (const { message, deliveries: plans } of routes) {
      if (message.retain && !this.retained.store(message)) this.logRetainedRefusal(message);
      copies += plans.length;
      bytesOut += plans.length * message.payload.length;
      this.deliveries.fanOut(message, plans, deliveries);
    }
    this.invocations.messagesOut += copies;
    this.counters.published(messages, copies, bytesOut);
    await Promise.all(deliveries);
    return copies;
  }

  /**
   * Adds or replaces subscriptions with their options [MQTT-3.8.4-3]; answers with a first page of the
   * unexpired retained messages each filter matches here (none for a shared subscription [MQTT 5.0 §4.8.2]).
   * An entry with `after` registers nothing: it asks for the next page of a retained replay
   * (core/session/retained-replay.ts). The whole answer is one page: its budget is shared by the filters.
   * A wildcard filter is held in memory only: its row is in its wildcard home, which the router writes first.
   */
  async subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]> {
    this.invocations.rpc++;
    await this.subscriptions.ready();
    const now = Date.now();
    const budget = this.retained.replayBudget();
    return subscriptions.map((subscription) => this.subscribeOne(session, subscription, budget, now));
  }

  /** One entry of subscribe: a registration and its first page, or (with `after`) the next page only. */
  private subscribeOne(session: string, subscription: ShardSubscription, budget: PageBudget, now: number, owned?: (topic: string) => boolean): SubscribeResult {
    const { filter, after } = subscription;
    if (after !== undefined) return { filter, isNew: false, ...(sendsRetainedOnSubscribe(filter) ? this.retained.page(filter, after, budget, now, owned) : { retained: [] }) };
    const isNew = this.subscriptions.put(filter, session, subscriptionOptions(subscription));
    return { filter, isNew, ...(sendsRetainedOnSubscribe(filter) ? this.retained.page(filter, '', budget, now, owned) : { retained: [] }) };
  }

  async unsubscribe(session: string, filters: string[]): Promise<void> {
    this.invocations.rpc++;
    await this.subscriptions.ready();
    await this.subscriptions.removeFromHomes(this.forget(session, filters));
  }

  /** Removes subscriptions here; answers the keys whose home must be told again (SubscriptionsStore.remove). */
  private forget(session: string, filters: readonly string[]): Array<{ filter: string; session: string }> {
    return filters.filter((filter) => this.subscriptions.remove(filter, session)).map((filter) => ({ filter, session }));
  }

  /** A retained message a limit refused: an entry of the tenant's event log (the tenant's limitHits count it). */
  private logRetainedRefusal(message: RoutedMessage): void {
    const tenant = shardTenant(this.ownName) ?? this.placement.get().self?.tenant;
    if (tenant === undefined) return;
    const clientId = message.origin?.startsWith(`${tenant}\u0000`) ? message.origin.slice(tenant.length + 1) : undefined;
    const event: LogEvent = {
      at: Date.now(),
      kind: 'limit',
      limit: 'retained',
      message: `retained message on "${message.topic}" not stored: the tenant's retained limit is reached`,
      ...(clientId === undefined ? {} : { clientId }),
      ...(message.tokenId === undefined ? {} : { tokenId: message.tokenId }),
    };
    const sent = this.events.add(tenant, event);
    if (sent) this.ctx.waitUntil(sent);
  }

  /** This shard's name (shardStub's), which its relays' names extend: from its id, or a routed call's address. */
  private relayOwner(): string {
    if (this.ownName !== undefined) return this.ownName;
    const self = this.placement.get().self;
    if (!self) throw new Error('this shard does not know its name yet: its relays are unknown');
    return shardName(self.tenant, self.index);
  }

  /** The tenant's wildcard homes: the tenant is in this object's name (or a routed call named it). */
  private homes(): WildcardHomes {
    const tenant = shardTenant(this.ownName) ?? this.placement.get().self?.tenant;
    if (tenant === undefined) throw new Error('this shard does not know its tenant yet: its wildcard homes are unknown');
    this.wildcardHomes ??= new WildcardHomes(this.env, tenant, this.config.wildcardHomes);
    return this.wildcardHomes;
  }

  /**
   * One page of this shard's retained messages matching a filter, for the admin API: topics after `after`
   * in topic order, at most `limit` messages and `maxBytes` of payload (at least one message), examining at
   * most SCAN_PER_ANSWER rows; the same walk as a SUBSCRIBE's replay (RetainedStore.page). `next`: the cursor
   * to go on from when it stopped early, null once nothing more matches. See worker/api/retained-page.ts.
   */
  async listRetained(
    filter: string,
    page: { after: string; limit: number; maxBytes: number },
  ): Promise<{ messages: RetainedMessage[]; next: string | null }> {
    this.invocations.rpc++;
    const { retained, next } = this.retained.page(filter, page.after, this.retained.listBudget(page), Date.now());
    return { messages: retained, next: next ?? null };
  }

  /** Deletes a topic's retained message (the admin API); true when there was one. */
  async deleteRetained(topic: string): Promise<boolean> {
    this.invocations.rpc++;
    return this.retained.delete(topic);
  }

  /** This shard's per-minute counts (messages, bytes, per token, its requests and rows) from `fromMinute` on. */
  async history(fromMinute: number): Promise<Array<{ minute: number; counts: Counts }>> {
    this.invocations.rpc++;
    return this.counters.since(fromMinute);
  }

  async statistics(): Promise<ShardStatistics> {
    this.invocations.rpc++;
    await this.subscriptions.ready();
    const place = this.placement.get();
    // Rows of a half that moved away, not yet deleted, are the child's.
    const { exact, wildcard } = this.subscriptions.census((hash) => !place.cleanup || !place.self || owns(place.self.index, place.depth, hash));
    const counters = this.counters.totals();
    const retained = this.retained.countLive(Date.now());
    return {
      index: place.self?.index ?? null,
      depth: place.depth,
      split: this.splitter.progress(),
      exactSubscriptions: exact,
      wildcardSubscriptions: wildcard,
      retained,
      messagesReceived: counters.received,
      messagesSent: counters.sent,
      invocations: { ...this.invocations },
      retainedRefused: this.retained.refused,
      ...this.deliveries.overload,
    };
  }

  // ── Routed calls (shard-router.ts): every answer carries this shard's depth; what it does not own is "moved" ──

  /** publish() for the messages whose topics this shard owns; the others' positions come back as moved. */
  async routePublish(address: ShardAddress, messages: RoutedMessage[]): Promise<PublishAnswer> {
    const owned = this.placement.ownership(address);
    await this.subscriptions.ready();
    const mine: RoutedMessage[] = [];
    const moved: number[] = [];
    messages.forEach((message, position) => (owned(message.topic) ? mine.push(message) : moved.push(position)));
    if (mine.length === 0) this.invocations.rpc++;
    const hot = this.hotTopics.note(mine, Date.now());
    const delivered = mine.length > 0 ? await this.publish(mine) : 0;
    this.splitter.notePublishes(mine.length);
    return { depth: this.placement.get().depth, delivered, moved, ...(hot.length > 0 ? { hot } : {}) };
  }

  /** subscribe() for exact filters this shard owns and every wildcard filter; null (moved) for the rest. */
  async routeSubscribe(address: ShardAddress, session: string, subscriptions: ShardSubscription[]): Promise<SubscribeAnswer> {
    this.invocations.rpc++;
    const owned = this.placement.ownership(address);
    await this.subscriptions.ready();
    const now = Date.now();
    const budget = this.retained.replayBudget();
    const results = subscriptions.map((subscription) => {
      const hash = filterHash(subscription.filter);
      if (hash !== undefined && !this.placement.ownsHash(hash)) return null;
      return this.subscribeOne(session, subscription, budget, now, owned);
    });
    this.splitter.consider();
    return { depth: this.placement.get().depth, results };
  }

  async routeUnsubscribe(address: ShardAddress, session: string, filters: string[]): Promise<UnsubscribeAnswer> {
    this.invocations.rpc++;
    this.placement.ownership(address);
    await this.subscriptions.ready();
    const moved = filters.filter((filter) => {
      const hash = filterHash(filter);
      return hash !== undefined && !this.placement.ownsHash(hash);
    });
    const again = this.forget(
      session,
      filters.filter((filter) => !moved.includes(filter)),
    );
    await this.subscriptions.removeFromHomes(again);
    return { depth: this.placement.get().depth, moved };
  }

  /** listRetained() over the topics this shard owns. */
  async routeListRetained(address: ShardAddress, filter: string, page: { after: string; limit: number; maxBytes: number }): Promise<ListRetainedAnswer> {
    this.invocations.rpc++;
    const owned = this.placement.ownership(address);
    const { retained, next } = this.retained.page(filter, page.after, this.retained.listBudget(page), Date.now(), owned);
    return { depth: this.placement.get().depth, messages: retained, next: next ?? null };
  }

  async routeDeleteRetained(address: ShardAddress, topic: string): Promise<DeleteRetainedAnswer> {
    const owned = this.placement.ownership(address);
    const depth = this.placement.get().depth;
    if (!owned(topic)) return { depth, moved: true, deleted: false };
    return { depth, moved: false, deleted: await this.deleteRetained(topic) };
  }

  // ── Splitting (shard/split.ts): copy the moving half to the child, forward changes, flip, clean up ────

  /**
   * Splits this shard now (tests, benchmarks; otherwise a load threshold starts it): resolves once the
   * depth has flipped, and cleanup of the moved rows goes on in the background. A split already running is
   * joined, not started again.
   */
  async split(address?: ShardAddress, options: SplitOptions = {}): Promise<SplitProgress> {
    this.invocations.rpc++;
    if (address) this.placement.ownership(address);
    return this.splitter.split(options);
  }

  /** Where this shard's split stands. */
  async splitProgress(): Promise<SplitProgress> {
    return this.splitter.progress();
  }

  /** Child side, first step of a split (or of a retried one): forget whatever an earlier attempt copied. */
  async adoptSplit(address: ShardAddress, depth: number): Promise<void> {
    this.invocations.rpc++;
    this.splitter.adopt(address, depth);
  }

  /** Child side: one ordered step of the parent's copy or of its forwarded changes (idempotent). */
  async absorbSplit(rows: SplitRows): Promise<void> {
    this.invocations.rpc++;
    await this.subscriptions.ready();
    this.splitter.absorb(rows);
  }

  /** Shard 0 keeps the tenant's list of shards: a split registers its child (idempotent). */
  async registerShard(index: number): Promise<void> {
    this.invocations.rpc++;
    addShard(this.sql, index);
  }

  /** Shard 0: every shard of the tenant, ascending (the base ones and every registered child). */
  async shards(): Promise<number[]> {
    this.invocations.rpc++;
    return listShards(this.sql, this.config.shardCount);
  }

  /** Resumes a split or cleanup an eviction or crash stopped. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    await this.splitter.alarm();
  }
}
