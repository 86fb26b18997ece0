// TopicShardDO: one slice of a tenant's topic space: the subscription trie and the retained messages.
import type { Properties, QoS } from '../core/codec/packets.js';
import { deliveryQoS } from '../core/session/subscribe.js';
import { SubscriptionTrie } from '../core/topic/trie.js';
import { hasWildcard } from '../core/topic/validate.js';
import { topicMatchesFilter } from '../core/topic/match.js';
import { CoalescingOutbox } from '../core/util/coalescing-outbox.js';
import type { Env } from '../worker/env.js';
import { sessionStub } from './addresses.js';
import type { Delivery, RetainedMessage, RoutedMessage, ShardSubscription, SubscribeResult } from './routed-message.js';
import { fromJson, toJson } from './json.js';
import { CountedObject } from './counted-object.js';

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
`;
/** Counters reach SQLite at most this often: no row write per message. */
const COUNTER_FLUSH_MS = 10_000;

export interface ShardStatistics {
  exactSubscriptions: number;
  wildcardSubscriptions: number;
  retained: number;
  messagesReceived: number;
  messagesSent: number;
}

type Row = Record<string, SqlStorageValue>;

export class TopicShardDO extends CountedObject {
  private trie: SubscriptionTrie<QoS> | undefined;
  /** One delivery pipeline per subscribed session: in order, one call in flight, bursts batched. */
  private readonly outboxes = new Map<string, CoalescingOutbox<Delivery>>();
  private counters: { received: number; sent: number } | undefined;
  /** Starts at construction so that the first publish after a wake writes nothing. */
  private countersFlushedAt = Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
  }

  /**
   * Stores retained messages and delivers each message once to every matching session, at the highest
   * QoS among that session's matching subscriptions. Resolves when every delivery has been accepted.
   */
  async publish(messages: RoutedMessage[]): Promise<number> {
    this.invocations.rpc++;
    this.invocations.messagesIn += messages.length;
    const trie = this.loadTrie();
    const deliveries: Promise<void>[] = [];
    let received = 0;
    for (const message of messages) {
      if (!message.topic.startsWith('$')) received++;
      if (message.retain) this.storeRetained(message);
      // One copy per session, at the maximum QoS of its overlapping subscriptions.
      const perSession = new Map<string, { qos: QoS; filters: string[] }>();
      for (const { filter, key, value } of trie.match(message.topic)) {
        const entry = perSession.get(key);
        if (!entry) perSession.set(key, { qos: value, filters: [filter] });
        else {
          entry.filters.push(filter);
          if (value > entry.qos) entry.qos = value;
        }
      }
      for (const [session, { qos, filters }] of perSession) {
        const delivery: Delivery = {
          topic: message.topic,
          payload: message.payload,
          qos: deliveryQoS(message.qos, qos),
          // [MQTT-3.3.1-9] live forwarding clears RETAIN.
          retain: false,
          filters,
          ...(message.properties ? { properties: message.properties } : {}),
        };
        deliveries.push(this.outboxFor(session).push(delivery));
      }
    }
    this.invocations.messagesOut += deliveries.length;
    this.count(received, deliveries.length);
    await Promise.all(deliveries);
    return deliveries.length;
  }

  /** Adds or replaces subscriptions; answers with the retained messages each filter matches here. */
  async subscribe(session: string, subscriptions: ShardSubscription[]): Promise<SubscribeResult[]> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    return subscriptions.map(({ filter, qos }) => {
      const isNew = trie.add(filter, session, qos);
      this.sql.run(
        'INSERT INTO subscriptions (filter, session, qos) VALUES (?, ?, ?) ON CONFLICT (filter, session) DO UPDATE SET qos = excluded.qos',
        filter,
        session,
        qos,
      );
      return { filter, isNew, retained: this.matchRetained(filter) };
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

  async statistics(): Promise<ShardStatistics> {
    this.invocations.rpc++;
    const trie = this.loadTrie();
    let wildcard = 0;
    for (const entry of trie.entries()) if (hasWildcard(entry.filter)) wildcard++;
    this.flushCounters(Date.now());
    const counters = this.loadCounters();
    const retained = (this.sql.one<Row>("SELECT COUNT(*) AS n FROM retained WHERE topic NOT LIKE '$%'")?.n as number) ?? 0;
    return {
      exactSubscriptions: trie.size - wildcard,
      wildcardSubscriptions: wildcard,
      retained,
      messagesReceived: counters.received,
      messagesSent: counters.sent,
    };
  }

  // ── Internals ────────────────────────────────────────────────────────────────────────────────────

  private loadTrie(): SubscriptionTrie<QoS> {
    if (!this.trie) {
      const trie = new SubscriptionTrie<QoS>();
      for (const row of this.sql.all<Row>('SELECT filter, session, qos FROM subscriptions')) {
        trie.add(row.filter as string, row.session as string, row.qos as QoS);
      }
      this.trie = trie;
    }
    return this.trie;
  }

  /**
   * [MQTT-3.3.1-5] a retained message replaces the topic's previous one; [MQTT-3.3.1-10] an empty payload
   * deletes it (and is still forwarded to current subscribers [MQTT-3.3.1-12]).
   */
  private storeRetained(message: RoutedMessage): void {
    if (message.payload.length === 0) {
      this.sql.run('DELETE FROM retained WHERE topic = ?', message.topic);
      return;
    }
    this.sql.run(
      `INSERT INTO retained (topic, payload, qos, properties) VALUES (?, ?, ?, ?)
       ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, properties = excluded.properties`,
      message.topic,
      message.payload,
      message.qos,
      message.properties ? toJson(message.properties) : null,
    );
  }

  /** Retained messages of this shard matching a filter: one index lookup for an exact filter. */
  private matchRetained(filter: string): RetainedMessage[] {
    const rows = hasWildcard(filter)
      ? this.sql.all<Row>('SELECT * FROM retained').filter((row) => topicMatchesFilter(filter, row.topic as string))
      : this.sql.all<Row>('SELECT * FROM retained WHERE topic = ?', filter);
    return rows.map((row) => {
      const message: RetainedMessage = {
        topic: row.topic as string,
        payload: new Uint8Array(row.payload as ArrayBuffer),
        qos: row.qos as QoS,
      };
      if (row.properties) message.properties = fromJson<Properties>(row.properties as string);
      return message;
    });
  }

  private outboxFor(session: string): CoalescingOutbox<Delivery> {
    let outbox = this.outboxes.get(session);
    if (!outbox) {
      outbox = new CoalescingOutbox<Delivery>(
        (batch) => this.deliverTo(session, batch),
        500,
        () => this.outboxes.delete(session),
      );
      this.outboxes.set(session, outbox);
    }
    return outbox;
  }

  /** One RPC per batch; a failure is logged with its context and the fan-out goes on (STYLE §10). */
  private async deliverTo(session: string, batch: Delivery[]): Promise<void> {
    try {
      const { stale } = await sessionStub(this.env, session).deliver(batch);
      if (stale.length > 0) this.forget(session, stale);
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
