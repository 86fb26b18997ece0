// TopicShardDO: one slice of a tenant's topic space: the subscription trie and the retained messages.
// An adapter: SQL, RPC and counters here; what to store, return, deliver and redeliver is decided in core/routing.
import { assertNever, type Properties, type QoS } from '../core/codec/packets.js';
import { planPublish, type PickMember, type PlannedDelivery } from '../core/routing/fan-out.js';
import type { ApplicationMessage, Delivery, RetainedMessage, RoutedMessage } from '../core/routing/message.js';
import { decideRetained, selectRetained, sendsRetainedOnSubscribe, shardRetainedLimits } from '../core/routing/retained.js';
import { planSharedRedelivery, sharedCopy, type SharedCopy } from '../core/routing/shared-redelivery.js';
import { subscriptionOptions, type DeliverResult, type ShardSubscription, type SubscribeResult, type SubscriptionOptions } from '../core/routing/subscription.js';
import { SubscriptionTrie } from '../core/topic/trie.js';
import { hasWildcard } from '../core/topic/validate.js';
import { retainedLookup, type RetainedLookup } from '../core/routing/retained-range.js';
import { SharedSubscriptionBalancer } from '../core/routing/shared-subscriptions.js';
import { CoalescingOutbox, FULL } from '../core/routing/coalescing-outbox.js';
import { DeliveryLanes, type LaneTicket } from '../core/routing/delivery-lanes.js';
import { deliveryFor, messageBytes, planFanout, relayedMessage, relayItemBytes, type RelayAnswer, type RelayCopy, type RelayItem } from '../core/routing/fanout-relay.js';
import { OverloadedError } from '../core/errors.js';
import { baseDepth, creationDepth, DEFAULT_SPLIT_THRESHOLDS, filterHash, MAX_DEPTH, movesInSplit, owns, shouldSplit, splitChild, topicMovesInSplit, type SplitThresholds } from '../core/routing/shard-layout.js';
import type { DeleteRetainedAnswer, ListRetainedAnswer, PublishAnswer, RetainedRow, ShardAddress, SplitProgress, SplitRows, SubscribeAnswer, SubscriptionRow, UnsubscribeAnswer } from '../core/routing/shard-protocol.js';
import { topicHash } from '../core/routing/shard.js';
import type { Env } from './env.js';
import { sessionStub, shardStub } from './addresses.js';
import { fromJson, toJson } from './json.js';
import { CountedObject } from './counted-object.js';
import { afterQueuedEvents } from './shard-router.js';
import { brokerConfig, outboxBounds } from './config.js';
import { fanoutStub } from './fanout-do.js';
import type { InvocationCounts } from './invocation-counters.js';
import { HotTopicMeter } from '../core/routing/hot-topics.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS subscriptions (
  filter TEXT NOT NULL,
  session TEXT NOT NULL,
  qos INTEGER NOT NULL,
  PRIMARY KEY (filter, session)
);
CREATE TABLE IF NOT EXISTS retained (
  topic TEXT PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  properties TEXT
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS placement (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS split_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  a TEXT NOT NULL,
  b TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shard_list (
  idx INTEGER PRIMARY KEY
);
`;
/**
 * Changes since the first schema, each applied once, in order; `schema_version` holds how many ran. Tables
 * created by an earlier release keep working (SQLite has no ADD COLUMN IF NOT EXISTS).
 */
const MIGRATIONS: readonly string[] = [
  // 5.0 subscription options and message expiry.
  `ALTER TABLE subscriptions ADD COLUMN no_local INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE subscriptions ADD COLUMN retain_as_published INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE subscriptions ADD COLUMN subscription_identifier INTEGER;
   ALTER TABLE retained ADD COLUMN expires_at INTEGER;`,
];
/** Counters reach SQLite at most this often: no row write per message. */
const COUNTER_FLUSH_MS = 10_000;
/** Retained rows one query of a page reads, and one subscribe answer examines at most. */
const SCAN_BATCH = 500;
const SCAN_PER_ANSWER = 10_000;
/** Rows a split step reads (and copies at most), and retained payload bytes one step sends at most. */
const SPLIT_BATCH_ROWS = 2_000;
const SPLIT_BATCH_BYTES = 8 * 1024 * 1024;
/** The window a publish rate is measured over for a split. */
const RATE_WINDOW_MS = 10_000;
/** A split or cleanup that stops (eviction, crash) is resumed by an alarm this long after its last step. */
const SPLIT_WATCHDOG_MS = 10_000;

/**
 * Where this shard sits in its tenant's layout (shard-layout.ts) and what a split of it has left to do; one
 * row, rewritten at each step. `after` is the copy's or the cleanup's cursor in the table being walked:
 * [filter, session] in subscriptions, [topic] in retained.
 */
interface Placement {
  self?: ShardAddress;
  depth: number;
  split?: { child: number; phase: 'begin' | 'subscriptions' | 'retained' | 'flip'; after: string[]; startedAt: number };
  cleanup?: { phase: 'subscriptions' | 'retained'; after: string[] };
  /** Children not yet registered with shard 0's list. */
  register: number[];
}

/** Test and benchmark knobs of split(): smaller steps and a pause make a split span traffic. */
interface SplitOptions {
  batchRows?: number;
  pauseMs?: number;
}

/** What is left of one subscribe answer's retained page (see replayBudget); shared by its filters. */
interface PageBudget {
  count: number;
  bytes: number;
  scan: number;
  /** Messages taken so far: the first one is taken whatever its size, so that a replay always moves on. */
  taken: number;
}

/**
 * The query (and its values) reading a retained lookup's topics and sizes after `cursor`, in topic order,
 * at most `limit`: every branch walks the topic index in order, so LIMIT stops the read (an OR of the parent
 * and the range would read the whole range and sort it). The parent ('a' for 'a/#') sorts before its range;
 * SQLite merges the two ordered branches of the UNION ALL without sorting.
 */
function retainedPageQuery(lookup: RetainedLookup, cursor: string, limit: number): [string, Array<string | number>] {
  const columns = 'SELECT topic, expires_at, length(payload) AS size FROM retained';
  switch (lookup.kind) {
    case 'exact':
      return [`${columns} WHERE topic = ? AND topic > ?`, [lookup.topic, cursor]];
    case 'all':
      return [`${columns} WHERE topic > ? ORDER BY topic LIMIT ?`, [cursor, limit]];
    case 'range': {
      const range = `${columns} WHERE topic >= ? AND topic < ? AND topic > ?`;
      const bounds = [lookup.from, lookup.to, cursor];
      return lookup.parent === undefined
        ? [`${range} ORDER BY topic LIMIT ?`, [...bounds, limit]]
        : [`${columns} WHERE topic = ? AND topic > ? UNION ALL ${range} ORDER BY topic LIMIT ?`, [lookup.parent, cursor, ...bounds, limit]];
    }
    default:
      return assertNever(lookup);
  }
}

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

type Row = Record<string, SqlStorageValue>;

/** A delivery on its way to one session; a shared subscription's copy can go to another member instead. */
interface Outgoing {
  delivery: Delivery;
  share?: SharedCopy<RoutedMessage>;
  /** Set when the picked member no longer held the shared subscription and the copy went elsewhere. */
  redelivered?: Promise<void>;
}

/** A chunk of a big fan-out on its way to its relay, and the relay's answer for it. */
interface RelayOutgoing {
  item: RelayItem;
  answer?: RelayAnswer;
}

/** The lane (delivery-lanes.ts) of copies the shard sends straight to their sessions. */
const DIRECT = 'direct';

/** A subscriptions row as a split sends it. */
function subscriptionRow(row: Row): SubscriptionRow {
  const copy: SubscriptionRow = { filter: row.filter as string, session: row.session as string, qos: row.qos as QoS };
  if (row.no_local === 1) copy.noLocal = true;
  if (row.retain_as_published === 1) copy.retainAsPublished = true;
  if (row.subscription_identifier !== null) copy.subscriptionIdentifier = row.subscription_identifier as number;
  return copy;
}

export class TopicShardDO extends CountedObject {
  private trie: SubscriptionTrie<SubscriptionOptions> | undefined;
  /** One delivery pipeline per subscribed session: in order, one call in flight, bursts batched. */
  private readonly outboxes = new Map<string, CoalescingOutbox<Outgoing>>();
  /** One pipeline per fan-out relay slot (fanout-relay.ts): chunks of big fan-outs, in order, batched. */
  private readonly relayOutboxes = new Map<number, CoalescingOutbox<RelayOutgoing>>();
  /** Keeps each session's copies in order across the direct path and the relays; waiting copies bounded. */
  private readonly lanes = new DeliveryLanes(brokerConfig(this.env).outboxMaximumItems);
  /** Copies full outboxes did not take since the last start: QoS 0 dropped, QoS 1/2 refused (publish failed). */
  private readonly overload = { droppedQos0: 0, refusedOverload: 0 };
  /** Which member of each shared subscription gets the next message; memory only. */
  private readonly balancer = new SharedSubscriptionBalancer();
  private counters: { received: number; sent: number } | undefined;
  /** Starts at construction so that the first publish after a wake writes nothing. */
  private countersFlushedAt = Date.now();
  /** Retained messages not stored because the tenant's retained limit was reached (since the last start). */
  private retainedRefused = 0;
  /**
   * The retained table's topics and payload bytes, for the retained limits: counted once after a wake, when
   * a retained message first needs them (reads every row once, writes nothing), then kept in step by every
   * change to the table. undefined = not counted since the wake.
   */
  private retainedHeld: { count: number; bytes: number } | undefined;
  /** Placement, read at first use. */
  private place: Placement | undefined;
  /** Wildcard subscriptions in the trie (every shard holds all of them; a split does not reduce them). */
  private wildcards = 0;
  /** The running split or cleanup, if any: one at a time. */
  private work: Promise<void> | undefined;
  private splitOptions: Required<SplitOptions> = { batchRows: SPLIT_BATCH_ROWS, pauseMs: 0 };
  private splitStats: { rowsCopied: number; copyMs?: number } = { rowsCopied: 0 };
  /** Messages published here in the current rate window. */
  private rate = { since: Date.now(), messages: 0 };
  /** Each topic's message rate: a hot one is named in the publish answer (core/routing/hot-topics.ts). */
  private readonly hotTopics = new HotTopicMeter(brokerConfig(this.env).hotTopicRate);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
    this.migrate();
  }

  /**
   * Stores retained messages and delivers each message once to every matching session, at the highest QoS
   * among that session's matching subscriptions, and once per shared subscription to one of its members.
   * Resolves when every delivery (and any redelivery of a shared copy) has been accepted.
   */
  async publish(messages: RoutedMessage[]): Promise<number> {
    this.invocations.rpc++;
    this.invocations.messagesIn += messages.length;
    const trie = this.loadTrie();
    const now = Date.now();
    const { received, routes } = planPublish(messages, (topic) => trie.match(topic), this.picker(now), now);
    const deliveries: Promise<void>[] = [];
    let copies = 0;
    for (const { message, deliveries: plans } of routes) {
      if (message.retain) this.storeRetained(message);
      copies += plans.length;
      this.fanOut(message, plans, deliveries);
    }
    this.invocations.messagesOut += copies;
    this.count(received, copies);
    await Promise.all(deliveries);
    return copies;
  }

  /**
   * Adds or replaces subscriptions with their options [MQTT-3.8.4-3]; answers with a first page of the
   * unexpired retained messages each filter matches here (none for a shared subscription [MQTT 5.0 §4.8.2]).
   * An entry with `after` registers nothing: it asks for the next page of a retained replay
   * (core/session/retained-replay.ts). The whole answer is one page: its budget is shared by the filters.
   */
  async subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]> {
    this.invocations.rpc++;
    const now = Date.now();
    const budget = this.replayBudget();
    return subscriptions.map((subscription) => this.subscribeOne(session, subscription, budget, now));
  }

  /** One entry of subscribe: a registration and its first page, or (with `after`) the next page only. */
  private subscribeOne(session: string, subscription: ShardSubscription, budget: PageBudget, now: number, owned?: (topic: string) => boolean): SubscribeResult {
    const { filter, after } = subscription;
    if (after !== undefined) return { filter, isNew: false, ...(sendsRetainedOnSubscribe(filter) ? this.retainedPage(filter, after, budget, now, owned) : { retained: [] }) };
    const options = subscriptionOptions(subscription);
    const isNew = this.trieAdd(filter, session, options);
    this.sql.run(
      `INSERT INTO subscriptions (filter, session, qos, no_local, retain_as_published, subscription_identifier)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (filter, session) DO UPDATE SET qos = excluded.qos, no_local = excluded.no_local,
         retain_as_published = excluded.retain_as_published, subscription_identifier = excluded.subscription_identifier`,
      filter,
      session,
      options.qos,
      options.noLocal ? 1 : 0,
      options.retainAsPublished ? 1 : 0,
      options.subscriptionIdentifier ?? null,
    );
    this.logSplitChange('s', filter, session);
    return { filter, isNew, ...(sendsRetainedOnSubscribe(filter) ? this.retainedPage(filter, '', budget, now, owned) : { retained: [] }) };
  }

  async unsubscribe(session: string, filters: string[]): Promise<void> {
    this.invocations.rpc++;
    this.forget(session, filters);
  }

  private forget(session: string, filters: readonly string[]): void {
    for (const filter of filters) {
      if (this.trieRemove(filter, session)) {
        this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
        this.logSplitChange('s', filter, session);
      }
    }
  }

  /**
   * One page of this shard's retained messages matching a filter, for the admin API: topics after `after`
   * in topic order, at most `limit` messages and `maxBytes` of payload (at least one message), examining at
   * most SCAN_PER_ANSWER rows; the same walk as a SUBSCRIBE's replay (retainedPage). `next`: the cursor to
   * go on from when it stopped early, null once nothing more matches. See worker/api/retained-page.ts.
   */
  async listRetained(
    filter: string,
    page: { after: string; limit: number; maxBytes: number },
  ): Promise<{ messages: RetainedMessage[]; next: string | null }> {
    this.invocations.rpc++;
    const budget: PageBudget = { count: page.limit, bytes: page.maxBytes, scan: SCAN_PER_ANSWER, taken: 0 };
    const { retained, next } = this.retainedPage(filter, page.after, budget, Date.now());
    return { messages: retained, next: next ?? null };
  }

  /** Deletes a topic's retained message (the admin API); true when there was one. */
  async deleteRetained(topic: string): Promise<boolean> {
    this.invocations.rpc++;
    const size = this.retainedSize(topic);
    if (size === undefined) return false;
    this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
    this.retainedChanged(size, undefined);
    this.logSplitChange('r', topic);
    return true;
  }

  async statistics(): Promise<ShardStatistics> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    let wildcard = 0;
    let exact = 0;
    const place = this.loadPlacement();
    for (const entry of trie.entries()) {
      const hash = filterHash(entry.filter);
      if (hash === undefined) wildcard++;
      // Rows of a half that moved away, not yet deleted, are the child's.
      else if (!place.cleanup || !place.self || owns(place.self.index, place.depth, hash)) exact++;
    }
    this.flushCounters(Date.now());
    const counters = this.loadCounters();
    const retained =
      (this.sql.one<Row>("SELECT COUNT(*) AS n FROM retained WHERE topic NOT LIKE '$%' AND (expires_at IS NULL OR expires_at > ?)", Date.now())
        ?.n as number) ?? 0;
    return {
      index: place.self?.index ?? null,
      depth: place.depth,
      split: this.progress(),
      exactSubscriptions: exact,
      wildcardSubscriptions: wildcard,
      retained,
      messagesReceived: counters.received,
      messagesSent: counters.sent,
      invocations: { ...this.invocations },
      retainedRefused: this.retainedRefused,
      ...this.overload,
    };
  }

  // ── Routed calls (shard-router.ts): every answer carries this shard's depth; what it does not own is "moved" ──

  /** publish() for the messages whose topics this shard owns; the others' positions come back as moved. */
  async routePublish(address: ShardAddress, messages: RoutedMessage[]): Promise<PublishAnswer> {
    const owned = this.ownership(address);
    const mine: RoutedMessage[] = [];
    const moved: number[] = [];
    messages.forEach((message, position) => (owned(message.topic) ? mine.push(message) : moved.push(position)));
    if (mine.length === 0) this.invocations.rpc++;
    const hot = this.hotTopics.note(
      mine.map((message) => message.topic),
      Date.now(),
    );
    const delivered = mine.length > 0 ? await this.publish(mine) : 0;
    this.notePublishes(mine.length);
    return { depth: this.loadPlacement().depth, delivered, moved, ...(hot.length > 0 ? { hot } : {}) };
  }

  /** subscribe() for exact filters this shard owns and every wildcard filter; null (moved) for the rest. */
  async routeSubscribe(address: ShardAddress, session: string, subscriptions: ShardSubscription[]): Promise<SubscribeAnswer> {
    this.invocations.rpc++;
    const owned = this.ownership(address);
    const now = Date.now();
    const budget = this.replayBudget();
    const results = subscriptions.map((subscription) => {
      const hash = filterHash(subscription.filter);
      if (hash !== undefined && !this.ownsHash(hash)) return null;
      return this.subscribeOne(session, subscription, budget, now, owned);
    });
    this.considerSplit();
    return { depth: this.loadPlacement().depth, results };
  }

  async routeUnsubscribe(address: ShardAddress, session: string, filters: string[]): Promise<UnsubscribeAnswer> {
    this.invocations.rpc++;
    this.ownership(address);
    const moved = filters.filter((filter) => {
      const hash = filterHash(filter);
      return hash !== undefined && !this.ownsHash(hash);
    });
    this.forget(
      session,
      filters.filter((filter) => !moved.includes(filter)),
    );
    return { depth: this.loadPlacement().depth, moved };
  }

  /** listRetained() over the topics this shard owns. */
  async routeListRetained(address: ShardAddress, filter: string, page: { after: string; limit: number; maxBytes: number }): Promise<ListRetainedAnswer> {
    this.invocations.rpc++;
    const owned = this.ownership(address);
    const budget: PageBudget = { count: page.limit, bytes: page.maxBytes, scan: SCAN_PER_ANSWER, taken: 0 };
    const { retained, next } = this.retainedPage(filter, page.after, budget, Date.now(), owned);
    return { depth: this.loadPlacement().depth, messages: retained, next: next ?? null };
  }

  async routeDeleteRetained(address: ShardAddress, topic: string): Promise<DeleteRetainedAnswer> {
    const owned = this.ownership(address);
    const depth = this.loadPlacement().depth;
    if (!owned(topic)) return { depth, moved: true, deleted: false };
    return { depth, moved: false, deleted: await this.deleteRetained(topic) };
  }

  // ── Splitting (shard-layout.ts): copy the moving half to the child, forward changes, flip, clean up ────

  /**
   * Splits this shard now (tests, benchmarks; otherwise a load threshold starts it): resolves once the
   * depth has flipped, and cleanup of the moved rows goes on in the background. A split already running is
   * joined, not started again.
   */
  async split(address?: ShardAddress, options: SplitOptions = {}): Promise<SplitProgress> {
    this.invocations.rpc++;
    if (address) this.ownership(address);
    this.splitOptions = { batchRows: options.batchRows ?? SPLIT_BATCH_ROWS, pauseMs: options.pauseMs ?? 0 };
    const place = this.loadPlacement();
    if (!place.split && !this.startSplit()) {
      if (place.cleanup || place.register.length > 0) await this.resumeWork();
      return this.progress();
    }
    await this.resumeWork();
    return this.progress();
  }

  /** Where this shard's split stands. */
  async splitProgress(): Promise<SplitProgress> {
    return this.progress();
  }

  /** Child side, first step of a split (or of a retried one): forget whatever an earlier attempt copied. */
  async adoptSplit(address: ShardAddress, depth: number): Promise<void> {
    this.invocations.rpc++;
    this.ctx.storage.transactionSync(() => {
      this.sql.run('DELETE FROM subscriptions');
      this.sql.run('DELETE FROM retained');
      this.sql.run('DELETE FROM split_log');
      this.place = { self: address, depth, register: [] };
      this.savePlacement();
    });
    this.trie = undefined;
    this.retainedHeld = undefined;
  }

  /** Child side: one ordered step of the parent's copy or of its forwarded changes (idempotent). */
  async absorbSplit(rows: SplitRows): Promise<void> {
    this.invocations.rpc++;
    this.ctx.storage.transactionSync(() => {
      for (const row of rows.subscriptions) {
        this.sql.run(
          `INSERT INTO subscriptions (filter, session, qos, no_local, retain_as_published, subscription_identifier)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (filter, session) DO UPDATE SET qos = excluded.qos, no_local = excluded.no_local,
             retain_as_published = excluded.retain_as_published, subscription_identifier = excluded.subscription_identifier`,
          row.filter,
          row.session,
          row.qos,
          row.noLocal ? 1 : 0,
          row.retainAsPublished ? 1 : 0,
          row.subscriptionIdentifier ?? null,
        );
        if (this.trie) this.trieAdd(row.filter, row.session, subscriptionOptions(row));
      }
      for (const { filter, session } of rows.unsubscribed) {
        this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
        if (this.trie) this.trieRemove(filter, session);
      }
      for (const row of rows.retained) {
        this.sql.run(
          `INSERT INTO retained (topic, payload, qos, properties, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
             properties = excluded.properties, expires_at = excluded.expires_at`,
          row.topic,
          row.payload,
          row.qos,
          row.properties,
          row.expiresAt,
        );
      }
      for (const topic of rows.unretained) this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
    });
    this.retainedHeld = undefined;
  }

  /** Shard 0 keeps the tenant's list of shards: a split registers its child (idempotent). */
  async registerShard(index: number): Promise<void> {
    this.invocations.rpc++;
    this.sql.run('INSERT INTO shard_list (idx) VALUES (?) ON CONFLICT (idx) DO NOTHING', index);
  }

  /** Shard 0: every shard of the tenant, ascending (the base ones and every registered child). */
  async shards(): Promise<number[]> {
    this.invocations.rpc++;
    const { shardCount } = brokerConfig(this.env);
    const indexes = new Set(Array.from({ length: shardCount }, (_, i) => i));
    for (const row of this.sql.all<Row>('SELECT idx FROM shard_list')) indexes.add(row.idx as number);
    return [...indexes].sort((a, b) => a - b);
  }

  /** Resumes a split or cleanup an eviction or crash stopped. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    const place = this.loadPlacement();
    if (place.split || place.cleanup || place.register.length > 0) {
      if (this.work) await this.ctx.storage.setAlarm(Date.now() + SPLIT_WATCHDOG_MS);
      else await this.resumeWork();
    }
  }

  // ── Internals ────────────────────────────────────────────────────────────────────────────────────

  private migrate(): void {
    const applied = (this.sql.one<Row>('SELECT version FROM schema_version')?.version as number | undefined) ?? 0;
    if (applied >= MIGRATIONS.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const migration of MIGRATIONS.slice(applied)) this.sql.run(migration);
      this.sql.run('DELETE FROM schema_version');
      this.sql.run('INSERT INTO schema_version (version) VALUES (?)', MIGRATIONS.length);
    });
  }

  // ── Placement and splits ──────────────────────────────────────────────────────────────────────────

  private loadPlacement(): Placement {
    if (!this.place) {
      const row = this.sql.one<Row>("SELECT value FROM placement WHERE key = 'placement'");
      this.place = row ? fromJson<Placement>(row.value as string) : { depth: baseDepth(brokerConfig(this.env).shardCount) ?? 0, register: [] };
    }
    return this.place;
  }

  private savePlacement(): void {
    this.sql.run("INSERT INTO placement (key, value) VALUES ('placement', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", toJson(this.place));
  }

  /** Learns this shard's name from a routed call (kept: an alarm resuming a split has no caller) and answers whether it owns a topic. */
  private ownership(address: ShardAddress): (topic: string) => boolean {
    const place = this.loadPlacement();
    if (!place.self) {
      place.self = { tenant: address.tenant, index: address.index };
      this.savePlacement();
    }
    return (topic) => this.ownsHash(topicHash(topic));
  }

  /** True when this shard owns topics of this hash; always when it has no name yet or the layout is fixed. */
  private ownsHash(hash: number): boolean {
    const place = this.loadPlacement();
    if (!place.self || baseDepth(brokerConfig(this.env).shardCount) === undefined) return true;
    return owns(place.self.index, place.depth, hash);
  }

  private trieAdd(filter: string, session: string, options: SubscriptionOptions): boolean {
    const added = this.loadTrie().add(filter, session, options);
    if (added && hasWildcard(filter)) this.wildcards++;
    return added;
  }

  private trieRemove(filter: string, session: string): boolean {
    const removed = this.loadTrie().remove(filter, session);
    if (removed && hasWildcard(filter)) this.wildcards--;
    return removed;
  }

  /** The subscription rows in key order, read SPLIT_BATCH_ROWS at a time. */
  private *subscriptionRows(): Generator<Row> {
    let after: string[] = [];
    for (;;) {
      const rows = this.subscriptionPage(after, SPLIT_BATCH_ROWS);
      yield* rows;
      if (rows.length < SPLIT_BATCH_ROWS) return;
      const last = rows[rows.length - 1]!;
      after = [last.filter as string, last.session as string];
    }
  }

  /** Subscription rows after the key [filter, session] (none: from the start), in key order. */
  private subscriptionPage(after: string[], limit: number): Row[] {
    const columns = 'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions';
    return after.length === 2
      ? this.sql.all<Row>(`${columns} WHERE (filter, session) > (?, ?) ORDER BY filter, session LIMIT ?`, after[0]!, after[1]!, limit)
      : this.sql.all<Row>(`${columns} ORDER BY filter, session LIMIT ?`, limit);
  }

  /** While a split copies, a change to a row of the moving half is logged, and sent to the child in order. */
  private logSplitChange(kind: 's' | 'r', a: string, b = ''): void {
    const place = this.loadPlacement();
    const split = place.split;
    if (!split) return;
    const moves = kind === 's' ? movesInSplit(a, place.depth, split.child) : topicMovesInSplit(a, place.depth, split.child);
    if (moves) this.sql.run('INSERT INTO split_log (kind, a, b) VALUES (?, ?, ?)', kind, a, b);
  }

  private thresholds(): SplitThresholds {
    const vars = this.env as Env & { SPLIT_SUBSCRIPTIONS?: string; SPLIT_PUBLISH_RATE?: string };
    const positive = (raw: string | undefined, fallback: number) => (Number.isInteger(Number(raw)) && Number(raw) > 0 ? Number(raw) : fallback);
    return {
      subscriptions: positive(vars.SPLIT_SUBSCRIPTIONS, DEFAULT_SPLIT_THRESHOLDS.subscriptions),
      rate: positive(vars.SPLIT_PUBLISH_RATE, DEFAULT_SPLIT_THRESHOLDS.rate),
    };
  }

  /** Counts routed publishes; at the end of each window, a rate past the threshold starts a split. */
  private notePublishes(messages: number): void {
    const now = Date.now();
    this.rate.messages += messages;
    const elapsed = now - this.rate.since;
    if (elapsed < RATE_WINDOW_MS) return;
    const messagesPerSecond = (this.rate.messages * 1000) / elapsed;
    this.rate = { since: now, messages: 0 };
    this.considerSplit(messagesPerSecond);
  }

  private considerSplit(messagesPerSecond = 0): void {
    if (this.work) return;
    const exactSubscriptions = this.trie ? this.trie.size - this.wildcards : 0;
    if (!shouldSplit({ exactSubscriptions, messagesPerSecond }, this.thresholds())) return;
    if (this.startSplit()) void this.resumeWork();
  }

  /** Records a new split (the copy starts from nothing); false when this shard cannot split now. */
  private startSplit(): boolean {
    const place = this.loadPlacement();
    if (!place.self || place.split || place.cleanup || place.register.length > 0) return false;
    if (baseDepth(brokerConfig(this.env).shardCount) === undefined || place.depth >= MAX_DEPTH) return false;
    place.split = { child: splitChild(place.self.index, place.depth), phase: 'begin', after: [], startedAt: Date.now() };
    this.savePlacement();
    this.splitStats = { rowsCopied: 0 };
    return true;
  }

  /** Runs what is left of a split (copy, flip, registration, cleanup), once at a time; an alarm backs it up. */
  private resumeWork(): Promise<void> {
    this.work ??= this.runWork()
      .catch((error: unknown) => console.warn('shard split step failed: the alarm retries it', { shard: this.place?.self, error: String(error) }))
      .finally(() => {
        this.work = undefined;
      });
    return this.work;
  }

  private async runWork(): Promise<void> {
    for (;;) {
      await this.ctx.storage.setAlarm(Date.now() + SPLIT_WATCHDOG_MS);
      const place = this.loadPlacement();
      if (place.split) await this.splitStep(place);
      else if (place.register.length > 0) await this.registerChildren(place);
      else if (place.cleanup) this.cleanupStep(place);
      else break;
      if (this.splitOptions.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.splitOptions.pauseMs));
    }
    await this.ctx.storage.deleteAlarm();
  }

  /**
   * One step: the child forgets an earlier attempt; then, in bounded batches, the logged changes and the
   * next rows of the moving half in key order (subscriptions, then retained), the cursor saved after each;
   * last, with the log empty, the flip. Changes and rows go to the child in one chain, so it ends in this
   * shard's state.
   */
  private async splitStep(place: Placement): Promise<void> {
    const split = place.split!;
    const self = place.self!;
    const child = shardStub(this.env, self.tenant, split.child);
    switch (split.phase) {
      case 'begin':
        await child.adoptSplit({ tenant: self.tenant, index: split.child }, place.depth + 1);
        split.phase = 'subscriptions';
        split.after = [];
        break;
      case 'subscriptions': {
        await this.drainSplitLog(child, place);
        const limit = this.splitOptions.batchRows;
        const rows = this.subscriptionPage(split.after, limit);
        const moving = rows.filter((row) => movesInSplit(row.filter as string, place.depth, split.child)).map(subscriptionRow);
        if (moving.length > 0) await child.absorbSplit({ subscriptions: moving, unsubscribed: [], retained: [], unretained: [] });
        this.splitStats.rowsCopied += moving.length;
        const last = rows[rows.length - 1];
        if (rows.length < limit || !last) {
          split.phase = 'retained';
          split.after = [];
        } else split.after = [last.filter as string, last.session as string];
        break;
      }
      case 'retained': {
        await this.drainSplitLog(child, place);
        const limit = this.splitOptions.batchRows;
        const rows = this.sql.all<Row>('SELECT topic, length(payload) AS size FROM retained WHERE topic > ? ORDER BY topic LIMIT ?', split.after[0] ?? '', limit);
        const taken: string[] = [];
        let bytes = 0;
        let examined: string | undefined;
        let cut = false;
        for (const row of rows) {
          const topic = row.topic as string;
          if (topicMovesInSplit(topic, place.depth, split.child)) {
            if (taken.length > 0 && bytes + (row.size as number) > SPLIT_BATCH_BYTES) {
              cut = true;
              break;
            }
            taken.push(topic);
            bytes += row.size as number;
          }
          examined = topic;
        }
        const retained = taken.flatMap((topic) => this.retainedRow(topic) ?? []);
        if (retained.length > 0) await child.absorbSplit({ subscriptions: [], unsubscribed: [], retained, unretained: [] });
        this.splitStats.rowsCopied += retained.length;
        if (!cut && rows.length < limit) {
          split.phase = 'flip';
          split.after = [];
        } else split.after = [examined ?? split.after[0] ?? ''];
        break;
      }
      case 'flip':
        await this.drainSplitLog(child, place);
        // No await between this check and the flip: no change can slip in unlogged and unsent.
        if (this.sql.one<Row>('SELECT seq FROM split_log LIMIT 1')) return;
        this.flip(place);
        return;
      default:
        return assertNever(split.phase);
    }
    this.savePlacement();
  }

  /** Sends the logged changes of the moving half, as the rows' current state, in bounded batches. */
  private async drainSplitLog(child: ReturnType<typeof shardStub>, place: Placement): Promise<void> {
    for (;;) {
      const log = this.sql.all<Row>('SELECT seq, kind, a, b FROM split_log ORDER BY seq LIMIT ?', this.splitOptions.batchRows);
      if (log.length === 0 || !place.split) return;
      const rows: SplitRows = { subscriptions: [], unsubscribed: [], retained: [], unretained: [] };
      const seen = new Set<string>();
      let bytes = 0;
      let upTo = 0;
      for (const entry of log) {
        const [kind, a, b] = [entry.kind as string, entry.a as string, entry.b as string];
        const key = `${kind}\u0000${a}\u0000${b}`;
        if (!seen.has(key)) {
          seen.add(key);
          if (kind === 's') {
            const row = this.sql.one<Row>(
              'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions WHERE filter = ? AND session = ?',
              a,
              b,
            );
            if (row) rows.subscriptions.push(subscriptionRow(row));
            else rows.unsubscribed.push({ filter: a, session: b });
          } else {
            const row = this.retainedRow(a);
            if (upTo > 0 && row && bytes + row.payload.length > SPLIT_BATCH_BYTES) break;
            if (row) {
              rows.retained.push(row);
              bytes += row.payload.length;
            } else rows.unretained.push(a);
          }
        }
        upTo = entry.seq as number;
      }
      await child.absorbSplit(rows);
      this.splitStats.rowsCopied += rows.subscriptions.length + rows.retained.length;
      this.sql.run('DELETE FROM split_log WHERE seq <= ?', upTo);
    }
  }

  /**
   * The child holds the moving half: from now on this shard is at depth + 1 and answers "moved" for it.
   * Synchronous and one transaction; the moved rows are deleted afterwards, in batches.
   */
  private flip(place: Placement): void {
    const split = place.split!;
    this.ctx.storage.transactionSync(() => {
      place.depth += 1;
      place.split = undefined;
      place.cleanup = { phase: 'subscriptions', after: [] };
      place.register = [...place.register, split.child];
      this.savePlacement();
    });
    this.splitStats.copyMs = Date.now() - split.startedAt;
    this.retainedHeld = undefined;
  }

  /** Adds the new children to shard 0's list of the tenant's shards. */
  private async registerChildren(place: Placement): Promise<void> {
    const self = place.self!;
    for (const index of place.register) {
      if (self.index === 0) this.sql.run('INSERT INTO shard_list (idx) VALUES (?) ON CONFLICT (idx) DO NOTHING', index);
      else await shardStub(this.env, self.tenant, 0).registerShard(index);
    }
    place.register = [];
    this.savePlacement();
  }

  /** Deletes one batch of the rows this shard no longer owns (exact subscriptions, retained messages). */
  private cleanupStep(place: Placement): void {
    const cleanup = place.cleanup!;
    const self = place.self!;
    const limit = this.splitOptions.batchRows;
    if (cleanup.phase === 'subscriptions') {
      const rows = this.sql.all<Row>('SELECT filter, session FROM subscriptions WHERE (filter, session) > (?, ?) ORDER BY filter, session LIMIT ?', cleanup.after[0] ?? '', cleanup.after[1] ?? '', limit);
      for (const row of rows) {
        const [filter, session] = [row.filter as string, row.session as string];
        const hash = filterHash(filter);
        if (hash === undefined || owns(self.index, place.depth, hash)) continue;
        this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
        if (this.trie) this.trieRemove(filter, session);
      }
      const last = rows[rows.length - 1];
      if (rows.length < limit || !last) place.cleanup = { phase: 'retained', after: [] };
      else cleanup.after = [last.filter as string, last.session as string];
    } else {
      const rows = this.sql.all<Row>('SELECT topic, length(payload) AS size FROM retained WHERE topic > ? ORDER BY topic LIMIT ?', cleanup.after[0] ?? '', limit);
      for (const row of rows) {
        const topic = row.topic as string;
        if (owns(self.index, place.depth, topicHash(topic))) continue;
        this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
        this.retainedChanged(row.size as number, undefined);
      }
      const last = rows[rows.length - 1];
      if (rows.length < limit || !last) place.cleanup = undefined;
      else cleanup.after = [last.topic as string];
    }
    this.savePlacement();
  }

  /** A retained row as stored, for a split's copy. */
  private retainedRow(topic: string): RetainedRow | undefined {
    const row = this.sql.one<Row>('SELECT payload, qos, properties, expires_at FROM retained WHERE topic = ?', topic);
    if (!row) return undefined;
    return {
      topic,
      payload: new Uint8Array(row.payload as ArrayBuffer),
      qos: row.qos as QoS,
      properties: (row.properties as string | null) ?? null,
      expiresAt: (row.expires_at as number | null) ?? null,
    };
  }

  private progress(): SplitProgress {
    const place = this.loadPlacement();
    return {
      index: place.self?.index ?? null,
      depth: place.depth,
      state: place.split ? 'copying' : place.cleanup || place.register.length > 0 ? 'cleaning' : 'idle',
      ...(place.split ? { child: place.split.child } : {}),
      rowsCopied: this.splitStats.rowsCopied,
      ...(this.splitStats.copyMs === undefined ? {} : { copyMs: this.splitStats.copyMs }),
    };
  }

  private loadTrie(): SubscriptionTrie<SubscriptionOptions> {
    if (!this.trie) {
      const trie = new SubscriptionTrie<SubscriptionOptions>();
      this.wildcards = 0;
      // Read in pages: a shard's wake holds its trie, never the whole table's rows as well.
      for (const row of this.subscriptionRows()) {
        const options: SubscriptionOptions = {
          qos: row.qos as QoS,
          noLocal: row.no_local === 1,
          retainAsPublished: row.retain_as_published === 1,
        };
        if (row.subscription_identifier !== null) options.subscriptionIdentifier = row.subscription_identifier as number;
        if (trie.add(row.filter as string, row.session as string, options) && hasWildcard(row.filter as string)) this.wildcards++;
      }
      this.trie = trie;
    }
    return this.trie;
  }

  /** Applies decideRetained, within this shard's share of the retained limits, to a message with RETAIN 1. */
  private storeRetained(message: RoutedMessage): void {
    const config = brokerConfig(this.env);
    const shares = 2 ** this.loadPlacement().depth;
    const limits = shardRetainedLimits(message, { maxRetained: config.maximumRetained, maxRetainedBytes: config.maximumRetainedBytes }, config.shardCount, Math.max(shares, config.shardCount));
    let previous: { size: number | undefined } | undefined;
    const existing = () => (previous ??= { size: this.retainedSize(message.topic) }).size;
    const decision = decideRetained(message, limits, { existing, held: () => this.heldRetained() });
    switch (decision) {
      case 'refuse':
        this.retainedRefused++;
        return;
      case 'refuseAndDelete':
      case 'delete':
        if (decision === 'refuseAndDelete') this.retainedRefused++;
        if (this.retainedHeld) this.retainedChanged(existing(), undefined);
        this.sql.run('DELETE FROM retained WHERE topic = ?', message.topic);
        this.logSplitChange('r', message.topic);
        return;
      case 'store':
        break;
      default:
        return assertNever(decision);
    }
    if (this.retainedHeld) this.retainedChanged(existing(), message.payload.length);
    this.sql.run(
      `INSERT INTO retained (topic, payload, qos, properties, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
         properties = excluded.properties, expires_at = excluded.expires_at`,
      message.topic,
      message.payload,
      message.qos,
      message.properties ? toJson(message.properties) : null,
      message.expiresAt ?? null,
    );
    this.logSplitChange('r', message.topic);
  }

  /** The payload size of a topic's retained message; undefined when there is none. */
  private retainedSize(topic: string): number | undefined {
    return this.sql.one<Row>('SELECT length(payload) AS size FROM retained WHERE topic = ?', topic)?.size as number | undefined;
  }

  /** The retained table's topics and payload bytes (see retainedHeld). */
  private heldRetained(): { count: number; bytes: number } {
    if (!this.retainedHeld) {
      const row = this.sql.one<Row>('SELECT COUNT(*) AS n, COALESCE(SUM(length(payload)), 0) AS b FROM retained');
      this.retainedHeld = { count: (row?.n as number | undefined) ?? 0, bytes: (row?.b as number | undefined) ?? 0 };
    }
    return this.retainedHeld;
  }

  /** A topic's retained payload went from `before` bytes to `after` (undefined: no message): the tally follows. */
  private retainedChanged(before: number | undefined, after: number | undefined): void {
    const held = this.retainedHeld;
    if (!held) return;
    held.count += (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    held.bytes += (after ?? 0) - (before ?? 0);
  }

  /** Deletes a retained message met past its expiry [MQTT-3.3.2-5 v5]; `size` is its payload's. */
  private deleteExpiredRetained(topic: string, size: number, now: number): void {
    this.sql.run('DELETE FROM retained WHERE topic = ? AND expires_at <= ?', topic, now);
    this.retainedChanged(size, undefined);
  }

  /**
   * The budget of one subscribe answer's retained messages: this shard's share of RETAINED_PAGE messages
   * and RETAINED_PAGE_BYTES, and at most SCAN_PER_ANSWER rows examined (a sparse wildcard match).
   */
  private replayBudget(): PageBudget {
    const { retainedPage, retainedPageBytes, shardCount } = brokerConfig(this.env);
    // A region's shards share its page (shard-router.ts merges them): at depth d, a 2^d-th of the whole.
    const shares = Math.max(shardCount, 2 ** this.loadPlacement().depth);
    return { count: Math.ceil(retainedPage / shares), bytes: Math.ceil(retainedPageBytes / shares), scan: SCAN_PER_ANSWER, taken: 0 };
  }

  /**
   * The next page of this shard's unexpired retained messages matching a (non-shared) filter: topics after
   * `after` in topic order, within `budget` (shared by the filters of one answer: at most `count` messages
   * and `bytes` of payload, though always one message if the answer has none yet). SQL walks the topic index
   * from the cursor (ORDER BY topic, LIMIT) reading topics and sizes only; payloads are read for the
   * messages returned. `next`: where the page stopped early, absent once nothing more matches.
   */
  private retainedPage(
    filter: string,
    after: string,
    budget: PageBudget,
    now: number,
    owned?: (topic: string) => boolean,
  ): { retained: RetainedMessage[]; next?: string } {
    const lookup = retainedLookup(filter);
    const chosen: string[] = [];
    let cursor = after; // every topic is longer than '', the start
    let next: string | undefined;
    // The first query reads what the budget can take and one more (to see whether more follow); each
    // further one, needed when the filter skips rows, reads twice as many, up to SCAN_BATCH.
    let batch = Math.min(budget.count + 1, SCAN_BATCH);
    read: for (;;) {
      if (budget.count <= 0 || budget.scan <= 0) {
        next = cursor;
        break;
      }
      const limit = Math.min(batch, budget.scan);
      batch = Math.min(batch * 2, SCAN_BATCH);
      const [query, values] = retainedPageQuery(lookup, cursor, limit);
      const rows = this.sql.all<Row>(query, ...values);
      budget.scan -= rows.length;
      const stored = rows
        .map((row) => ({ topic: row.topic as string, size: row.size as number, expiresAt: row.expires_at === null ? undefined : (row.expires_at as number) }))
        .filter(({ topic }) => owned === undefined || owned(topic));
      const { live, expired } = selectRetained(filter, lookup, stored, now);
      for (const { topic, size } of expired) this.deleteExpiredRetained(topic, size, now);
      for (const { topic, size } of live) {
        if (budget.count <= 0 || (budget.taken > 0 && size > budget.bytes)) {
          next = chosen[chosen.length - 1] ?? cursor;
          break read;
        }
        chosen.push(topic);
        budget.count--;
        budget.bytes -= size;
        budget.taken++;
      }
      if (rows.length < limit) break; // the index range is exhausted
      cursor = rows[rows.length - 1]!.topic as string;
    }
    const retained = this.readRetained(chosen);
    return next === undefined ? { retained } : { retained, next };
  }

  /**
   * Hands one message's copies to their paths (planFanout): each ordinary copy straight to its session while
   * they are few, in relay chunks past FANOUT_THRESHOLD; shared subscriptions' copies always straight. The
   * lanes keep each session's copies in planned order whichever path they take (delivery-lanes.ts).
   */
  private fanOut(message: RoutedMessage, plans: PlannedDelivery[], out: Promise<void>[]): void {
    const { direct, chunks } = planFanout(plans, brokerConfig(this.env).fanoutThreshold);
    for (const plan of direct) out.push(this.send(plan, message, []));
    if (chunks.length === 0) return;
    const relayed = relayedMessage(message);
    for (const { slot, copies } of chunks) {
      const path = `relay ${slot}`;
      const now: RelayCopy[] = [];
      const tickets: LaneTicket[] = [];
      for (const copy of copies) {
        const ticket = this.lanes.enter(copy.session, path);
        if (!ticket) out.push(this.overflow([copy], message.topic));
        else if (ticket.after) {
          // Its session's earlier copies went another way: this one follows once they are accepted.
          out.push(
            ticket.after.then(() => {
              const accepted = this.toRelay(slot, relayed, [copy]);
              ticket.handed(accepted);
              return accepted;
            }),
          );
        } else {
          now.push(copy);
          tickets.push(ticket);
        }
      }
      if (now.length === 0) continue;
      const accepted = this.toRelay(slot, relayed, now);
      for (const ticket of tickets) ticket.handed(accepted);
      out.push(accepted);
    }
  }

  /** Queues one planned copy for its session; resolves once it (or a redelivery of it) has been accepted. */
  private send(plan: PlannedDelivery, message: RoutedMessage, tried: readonly string[]): Promise<void> {
    const outgoing: Outgoing = { delivery: deliveryFor(plan, message) };
    const share = sharedCopy(plan, message, tried);
    if (share) outgoing.share = share;
    const accepted = this.lanes.run(plan.session, DIRECT, () => {
      const offered = this.outboxFor(plan.session).offer(outgoing);
      return offered === FULL ? this.overflow([plan], message.topic) : offered;
    });
    return (accepted ?? this.overflow([plan], message.topic)).then(() => outgoing.redelivered);
  }

  /** The member picked for a shared copy no longer held the subscription: planSharedRedelivery picks another. */
  private redeliverShared(share: SharedCopy<RoutedMessage>): Promise<void> | undefined {
    const now = Date.now();
    const plan = planSharedRedelivery(share, (topic) => this.loadTrie().match(topic), this.picker(now), now);
    if (!plan) return undefined;
    this.invocations.messagesOut++;
    this.count(0, 1);
    return this.send(plan, share.message, share.tried);
  }

  /** The balancer as fan-out's member picker, at one instant. */
  private picker(now: number): PickMember {
    return (filter, members) => this.balancer.pick(filter, members, now);
  }

  private outboxFor(session: string): CoalescingOutbox<Outgoing> {
    let outbox = this.outboxes.get(session);
    if (!outbox) {
      outbox = new CoalescingOutbox<Outgoing>((batch) => this.deliverTo(session, batch), {
        ...outboxBounds(brokerConfig(this.env)),
        size: (outgoing) => messageBytes(outgoing.delivery),
        onIdle: () => this.outboxes.delete(session),
        schedule: afterQueuedEvents,
      });
      this.outboxes.set(session, outbox);
    }
    return outbox;
  }

  /**
   * One RPC per batch. The answer says whether the session is online (shared subscriptions prefer members
   * that are) and which filters it no longer holds: those are forgotten, and a shared copy among them goes to
   * another member. The redelivery is started here, not awaited: awaiting another session's outbox inside
   * this one's send could deadlock two outboxes on each other.
   *
   * A failed call fails the publish [DESIGN §3]: the copy may not be stored, so the publisher gets no
   * acknowledgement and resends. The runtime already retried what is safe to retry (a call that never
   * reached the object); repeating one that did could store a QoS 2 copy twice.
   */
  private async deliverTo(session: string, batch: Outgoing[]): Promise<void> {
    let answer: DeliverResult;
    this.invocations.callsMade++;
    try {
      answer = await sessionStub(this.env, session).deliver(batch.map((outgoing) => outgoing.delivery));
    } catch (error) {
      console.warn('delivery failed: the publish is not acknowledged', { session, messages: batch.length, error: String(error) });
      throw error;
    }
    const { stale, online } = answer;
    this.balancer.reportPresence(session, online !== false, Date.now());
    if (stale.length > 0) {
      this.forget(session, stale);
      for (const outgoing of batch) {
        if (outgoing.share && stale.includes(outgoing.share.filter)) outgoing.redelivered = this.redeliverShared(outgoing.share);
      }
    }
  }

  /** Queues one chunk of a message for its relay; resolves once the relay has had every copy accepted. */
  private toRelay(slot: number, message: ApplicationMessage, copies: RelayCopy[]): Promise<void> {
    const outgoing: RelayOutgoing = { item: { message, copies } };
    const offered = this.relayOutboxFor(slot).offer(outgoing);
    if (offered === FULL) return this.overflow(copies, message.topic);
    return offered.then(() => {
      const answer = outgoing.answer;
      if (!answer?.ok) throw answer?.overloaded ? new OverloadedError(answer.error) : new Error(answer?.error ?? 'no answer from the relay');
    });
  }

  private relayOutboxFor(slot: number): CoalescingOutbox<RelayOutgoing> {
    let outbox = this.relayOutboxes.get(slot);
    if (!outbox) {
      outbox = new CoalescingOutbox<RelayOutgoing>((batch) => this.relayTo(slot, batch), {
        ...outboxBounds(brokerConfig(this.env)),
        size: (outgoing) => relayItemBytes(outgoing.item),
        onIdle: () => this.relayOutboxes.delete(slot),
        schedule: afterQueuedEvents,
      });
      this.relayOutboxes.set(slot, outbox);
    }
    return outbox;
  }

  /**
   * One RPC per batch of chunks to relay `slot`, answered per chunk once its copies are accepted (or not: a
   * failed chunk fails its publish, exactly like a failed deliverTo). What the sessions answered is applied
   * as deliverTo does: presence, and stale filters forgotten (no shared copy travels through a relay).
   */
  private async relayTo(slot: number, batch: RelayOutgoing[]): Promise<void> {
    let answers: RelayAnswer[];
    this.invocations.callsMade++;
    try {
      answers = (await fanoutStub(this.env, this.ctx.id.name ?? this.ctx.id.toString(), slot).deliver(batch.map((outgoing) => outgoing.item))) as RelayAnswer[];
    } catch (error) {
      console.warn('relay failed: the publish is not acknowledged', { slot, messages: batch.length, error: String(error) });
      throw error;
    }
    const now = Date.now();
    batch.forEach((outgoing, index) => {
      const answer = answers[index];
      if (!answer) return;
      outgoing.answer = answer;
      if (!answer.ok) {
        console.warn('relayed copies failed: the publish is not acknowledged', { slot, topic: outgoing.item.message.topic, error: answer.error });
        return;
      }
      const listed = new Map(answer.sessions.map((entry) => [entry.session, entry]));
      for (const { session } of outgoing.item.copies) {
        const entry = listed.get(session);
        this.balancer.reportPresence(session, entry?.online ?? true, now);
        if (entry && entry.stale.length > 0) this.forget(session, entry.stale);
      }
    });
  }

  /**
   * Copies a full outbox (or lane) did not take: QoS 0 ones are dropped and counted [MQTT-4.3.1]; QoS 1/2
   * ones are counted and fail their publish, so that no acknowledgement leaves (the session answers it).
   */
  private overflow(copies: readonly RelayCopy[], topic: string): Promise<void> {
    let refused = 0;
    for (const copy of copies) {
      if (copy.qos === 0) this.overload.droppedQos0++;
      else refused++;
    }
    if (refused === 0) return Promise.resolve();
    this.overload.refusedOverload += refused;
    return Promise.reject(new OverloadedError(`${refused} copies of ${topic} refused by a full outbox`));
  }

  /** The retained messages of these topics, payloads included, in the order given (a topic gone meanwhile is skipped). */
  private readRetained(topics: readonly string[]): RetainedMessage[] {
    return topics.flatMap((topic) => {
      const row = this.sql.one<Row>('SELECT payload, qos, properties, expires_at FROM retained WHERE topic = ?', topic);
      if (!row) return [];
      const message: RetainedMessage = { topic, payload: new Uint8Array(row.payload as ArrayBuffer), qos: row.qos as QoS };
      if (row.properties) message.properties = fromJson<Properties>(row.properties as string);
      if (row.expires_at !== null) message.expiresAt = row.expires_at as number;
      return [message];
    });
  }

  private loadCounters(): { received: number; sent: number } {
    if (!this.counters) {
      const counters = { received: 0, sent: 0 };
      for (const row of this.sql.all<Row>('SELECT name, value FROM counters')) {
        if (row.name === 'received') counters.received = row.value as number;
        if (row.name === 'sent') counters.sent = row.value as number;
      }
      this.counters = counters;
    }
    return this.counters;
  }

  private count(received: number, sent: number): void {
    const counters = this.loadCounters();
    counters.received += received;
    counters.sent += sent;
    const now = Date.now();
    if (now - this.countersFlushedAt >= COUNTER_FLUSH_MS) this.flushCounters(now);
  }

  private flushCounters(now: number): void {
    const counters = this.loadCounters();
    this.countersFlushedAt = now;
    const upsert = 'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value';
    this.sql.run(upsert, 'received', counters.received);
    this.sql.run(upsert, 'sent', counters.sent);
  }
}
