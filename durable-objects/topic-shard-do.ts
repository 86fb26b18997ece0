// TopicShardDO: one slice of a tenant's topic space: the subscription trie and the retained messages.
// An adapter: SQL, RPC and counters here; what to store, return, deliver and redeliver is decided in core/routing.
import { assertNever, type Properties, type QoS } from '../core/codec/packets.js';
import { planPublish, type PickMember, type PlannedDelivery } from '../core/routing/fan-out.js';
import type { Delivery, RetainedMessage, RoutedMessage } from '../core/routing/message.js';
import { decideRetained, selectRetained, sendsRetainedOnSubscribe, shardRetainedLimits } from '../core/routing/retained.js';
import { planSharedRedelivery, sharedCopy, type SharedCopy } from '../core/routing/shared-redelivery.js';
import { subscriptionOptions, type DeliverResult, type ShardSubscription, type SubscribeResult, type SubscriptionOptions } from '../core/routing/subscription.js';
import { SubscriptionTrie } from '../core/topic/trie.js';
import { hasWildcard } from '../core/topic/validate.js';
import { retainedLookup, type RetainedLookup } from '../core/routing/retained-range.js';
import { SharedSubscriptionBalancer } from '../core/routing/shared-subscriptions.js';
import { CoalescingOutbox } from '../core/routing/coalescing-outbox.js';
import type { Env } from './env.js';
import { sessionStub } from './addresses.js';
import { fromJson, toJson } from './json.js';
import { CountedObject } from './counted-object.js';
import { afterQueuedEvents } from './shard-router.js';
import { brokerConfig } from './config.js';
import type { InvocationCounts } from './invocation-counters.js';

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
  exactSubscriptions: number;
  wildcardSubscriptions: number;
  retained: number;
  messagesReceived: number;
  messagesSent: number;
  /** This shard's invocation counts since it last started (requests, rows read and written). */
  invocations: InvocationCounts;
  retainedRefused: number;
}

type Row = Record<string, SqlStorageValue>;

/** A delivery on its way to one session; a shared subscription's copy can go to another member instead. */
interface Outgoing {
  delivery: Delivery;
  share?: SharedCopy<RoutedMessage>;
  /** Set when the picked member no longer held the shared subscription and the copy went elsewhere. */
  redelivered?: Promise<void>;
}

export class TopicShardDO extends CountedObject {
  private trie: SubscriptionTrie<SubscriptionOptions> | undefined;
  /** One delivery pipeline per subscribed session: in order, one call in flight, bursts batched. */
  private readonly outboxes = new Map<string, CoalescingOutbox<Outgoing>>();
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
    for (const { message, deliveries: plans } of routes) {
      if (message.retain) this.storeRetained(message);
      for (const plan of plans) deliveries.push(this.send(plan, message, []));
    }
    this.invocations.messagesOut += deliveries.length;
    this.count(received, deliveries.length);
    await Promise.all(deliveries);
    return deliveries.length;
  }

  /**
   * Adds or replaces subscriptions with their options [MQTT-3.8.4-3]; answers with a first page of the
   * unexpired retained messages each filter matches here (none for a shared subscription [MQTT 5.0 §4.8.2]).
   * An entry with `after` registers nothing: it asks for the next page of a retained replay
   * (core/session/retained-replay.ts). The whole answer is one page: its budget is shared by the filters.
   */
  async subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    const now = Date.now();
    const budget = this.replayBudget();
    return subscriptions.map((subscription) => {
      const { filter, after } = subscription;
      if (after !== undefined) return { filter, isNew: false, ...(sendsRetainedOnSubscribe(filter) ? this.retainedPage(filter, after, budget, now) : { retained: [] }) };
      const options = subscriptionOptions(subscription);
      const isNew = trie.add(filter, session, options);
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
      return { filter, isNew, ...(sendsRetainedOnSubscribe(filter) ? this.retainedPage(filter, '', budget, now) : { retained: [] }) };
    });
  }

  async unsubscribe(session: string, filters: string[]): Promise<void> {
    this.invocations.rpc++;
    this.forget(session, filters);
  }

  private forget(session: string, filters: readonly string[]): void {
    const trie = this.loadTrie();
    for (const filter of filters) {
      if (trie.remove(filter, session)) {
        this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
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
    return true;
  }

  async statistics(): Promise<ShardStatistics> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    let wildcard = 0;
    for (const entry of trie.entries()) if (hasWildcard(entry.filter)) wildcard++;
    this.flushCounters(Date.now());
    const counters = this.loadCounters();
    const retained =
      (this.sql.one<Row>("SELECT COUNT(*) AS n FROM retained WHERE topic NOT LIKE '$%' AND (expires_at IS NULL OR expires_at > ?)", Date.now())
        ?.n as number) ?? 0;
    return {
      exactSubscriptions: trie.size - wildcard,
      wildcardSubscriptions: wildcard,
      retained,
      messagesReceived: counters.received,
      messagesSent: counters.sent,
      invocations: { ...this.invocations },
      retainedRefused: this.retainedRefused,
    };
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

  private loadTrie(): SubscriptionTrie<SubscriptionOptions> {
    if (!this.trie) {
      const trie = new SubscriptionTrie<SubscriptionOptions>();
      const rows = this.sql.all<Row>(
        'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions',
      );
      for (const row of rows) {
        const options: SubscriptionOptions = {
          qos: row.qos as QoS,
          noLocal: row.no_local === 1,
          retainAsPublished: row.retain_as_published === 1,
        };
        if (row.subscription_identifier !== null) options.subscriptionIdentifier = row.subscription_identifier as number;
        trie.add(row.filter as string, row.session as string, options);
      }
      this.trie = trie;
    }
    return this.trie;
  }

  /** Applies decideRetained, within this shard's share of the retained limits, to a message with RETAIN 1. */
  private storeRetained(message: RoutedMessage): void {
    const config = brokerConfig(this.env);
    const limits = shardRetainedLimits(message, { maxRetained: config.maximumRetained, maxRetainedBytes: config.maximumRetainedBytes }, config.shardCount);
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
    return { count: Math.ceil(retainedPage / shardCount), bytes: Math.ceil(retainedPageBytes / shardCount), scan: SCAN_PER_ANSWER, taken: 0 };
  }

  /**
   * The next page of this shard's unexpired retained messages matching a (non-shared) filter: topics after
   * `after` in topic order, within `budget` (shared by the filters of one answer: at most `count` messages
   * and `bytes` of payload, though always one message if the answer has none yet). SQL walks the topic index
   * from the cursor (ORDER BY topic, LIMIT) reading topics and sizes only; payloads are read for the
   * messages returned. `next`: where the page stopped early, absent once nothing more matches.
   */
  private retainedPage(filter: string, after: string, budget: PageBudget, now: number): { retained: RetainedMessage[]; next?: string } {
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
      const stored = rows.map((row) => ({ topic: row.topic as string, size: row.size as number, expiresAt: row.expires_at === null ? undefined : (row.expires_at as number) }));
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

  /** Queues one planned copy for its session; resolves once it (or a redelivery of it) has been accepted. */
  private send(plan: PlannedDelivery, message: RoutedMessage, tried: readonly string[]): Promise<void> {
    const delivery: Delivery = {
      topic: message.topic,
      payload: message.payload,
      qos: plan.qos,
      retain: plan.retain,
      filters: plan.filters,
      ...(message.properties ? { properties: message.properties } : {}),
      ...(plan.subscriptionIdentifiers ? { subscriptionIdentifiers: plan.subscriptionIdentifiers } : {}),
      ...(message.expiresAt !== undefined ? { expiresAt: message.expiresAt } : {}),
      // Only a copy delivered at QoS 2 promises exactly once; at QoS 0/1 a duplicate is allowed.
      ...(message.exactlyOnceKey !== undefined && plan.qos === 2 ? { exactlyOnceKey: message.exactlyOnceKey } : {}),
    };
    const outgoing: Outgoing = { delivery };
    const share = sharedCopy(plan, message, tried);
    if (share) outgoing.share = share;
    return this.outboxFor(plan.session)
      .push(outgoing)
      .then(() => outgoing.redelivered);
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
      outbox = new CoalescingOutbox<Outgoing>(
        (batch) => this.deliverTo(session, batch),
        500,
        () => this.outboxes.delete(session),
        afterQueuedEvents,
      );
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
