// TopicShardDO: one slice of a tenant's topic space: the subscription trie and the retained messages.
// An adapter: SQL, RPC and counters here; what to store, return, deliver and redeliver is decided in core/routing.
import { assertNever, type Properties, type QoS } from '../core/codec/packets.js';
import { planPublish, type PickMember, type PlannedDelivery } from '../core/routing/fan-out.js';
import type { Delivery, RetainedMessage, RoutedMessage } from '../core/routing/message.js';
import { decideRetained, selectRetained, sendsRetainedOnSubscribe } from '../core/routing/retained.js';
import { planSharedRedelivery, sharedCopy, type SharedCopy } from '../core/routing/shared-redelivery.js';
import { subscriptionOptions, type ShardSubscription, type SubscribeResult, type SubscriptionOptions } from '../core/routing/subscription.js';
import { SubscriptionTrie } from '../core/topic/trie.js';
import { hasWildcard } from '../core/topic/validate.js';
import { retainedLookup } from '../core/routing/retained-range.js';
import { SharedSubscriptionBalancer } from '../core/routing/shared-subscriptions.js';
import { CoalescingOutbox } from '../core/routing/coalescing-outbox.js';
import type { Env } from './env.js';
import { sessionStub } from './addresses.js';
import { fromJson, toJson } from './json.js';
import { CountedObject } from './counted-object.js';
import { afterQueuedEvents } from './shard-router.js';
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
   * Adds or replaces subscriptions with their options [MQTT-3.8.4-3]; answers with the unexpired retained
   * messages each filter matches here (none for a shared subscription [MQTT 5.0 §4.8.2]).
   */
  async subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    const now = Date.now();
    return subscriptions.map((subscription) => {
      const { filter } = subscription;
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
      return { filter, isNew, retained: sendsRetainedOnSubscribe(filter) ? this.matchRetained(filter, now) : [] };
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

  /** Retained messages of this shard matching a filter, for the admin API (at most `limit`). */
  async listRetained(filter: string, limit: number): Promise<RetainedMessage[]> {
    this.invocations.rpc++;
    return this.matchRetained(filter, Date.now()).slice(0, limit);
  }

  /** Deletes a topic's retained message (the admin API); true when there was one. */
  async deleteRetained(topic: string): Promise<boolean> {
    this.invocations.rpc++;
    const existed = this.sql.one<Row>('SELECT 1 AS y FROM retained WHERE topic = ?', topic) !== undefined;
    if (existed) this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
    return existed;
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

  /** Applies decideRetained to a message with RETAIN 1; its expiry is kept with it. */
  private storeRetained(message: RoutedMessage): void {
    const decision = decideRetained(message, {
      exists: () => this.sql.one<Row>('SELECT 1 AS y FROM retained WHERE topic = ?', message.topic) !== undefined,
      held: () => (this.sql.one<Row>('SELECT COUNT(*) AS n FROM retained')?.n as number) ?? 0,
    });
    switch (decision) {
      case 'delete':
        this.sql.run('DELETE FROM retained WHERE topic = ?', message.topic);
        return;
      case 'refuse':
        this.retainedRefused++;
        return;
      case 'store':
        break;
      default:
        return assertNever(decision);
    }
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

  /**
   * Unexpired retained messages of this shard matching a (non-shared) filter: one index lookup for an exact
   * filter, an index range from the literal prefix for a wildcard one; selectRetained sorts the rows read.
   */
  private matchRetained(filter: string, now: number): RetainedMessage[] {
    const columns = 'SELECT topic, payload, qos, properties, expires_at FROM retained';
    const lookup = retainedLookup(filter);
    let rows: Row[];
    switch (lookup.kind) {
      case 'exact':
        rows = this.sql.all<Row>(`${columns} WHERE topic = ?`, lookup.topic);
        break;
      case 'range':
        rows = this.sql.all<Row>(`${columns} WHERE (topic >= ? AND topic < ?) OR topic = ?`, lookup.from, lookup.to, lookup.parent ?? null);
        break;
      case 'all':
        rows = this.sql.all<Row>(columns);
        break;
      default:
        return assertNever(lookup);
    }
    const stored = rows.map((row) => {
      const expiresAt = row.expires_at === null ? undefined : (row.expires_at as number);
      return { row, topic: row.topic as string, expiresAt };
    });
    const { live, expired } = selectRetained(filter, lookup, stored, now);
    for (const { topic } of expired) this.sql.run('DELETE FROM retained WHERE topic = ? AND expires_at <= ?', topic, now);
    return live.map(({ row, topic, expiresAt }) => {
      const message: RetainedMessage = { topic, payload: new Uint8Array(row.payload as ArrayBuffer), qos: row.qos as QoS };
      if (row.properties) message.properties = fromJson<Properties>(row.properties as string);
      if (expiresAt !== undefined) message.expiresAt = expiresAt;
      return message;
    });
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
   * One RPC per batch; a failure is logged with its context and the fan-out goes on (STYLE §10). The answer
   * says whether the session is online (shared subscriptions prefer members that are) and which filters it
   * no longer holds: those are forgotten, and a shared copy among them goes to another member. The
   * redelivery is started here, not awaited: awaiting another session's outbox inside this one's send could
   * deadlock two outboxes on each other.
   */
  private async deliverTo(session: string, batch: Outgoing[]): Promise<void> {
    try {
      const { stale, online } = await sessionStub(this.env, session).deliver(batch.map((outgoing) => outgoing.delivery));
      this.balancer.reportPresence(session, online !== false, Date.now());
      if (stale.length > 0) {
        this.forget(session, stale);
        for (const outgoing of batch) {
          if (outgoing.share && stale.includes(outgoing.share.filter)) outgoing.redelivered = this.redeliverShared(outgoing.share);
        }
      }
    } catch (error) {
      console.error('delivery failed', { session, messages: batch.length, error: String(error) });
    }
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
