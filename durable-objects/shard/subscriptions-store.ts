// The shard's subscriptions: SQLite rows, and the trie built from them at first use after a wake.
import type { QoS } from '../../core/codec/packets.js';
import type { SubscriptionRow } from '../../core/routing/shard-protocol.js';
import { filterHash } from '../../core/routing/shard-layout.js';
import { subscriptionOptions, type SubscriptionOptions } from '../../core/routing/subscription.js';
import { SubscriptionTrie } from '../../core/topic/trie.js';
import { hasWildcard } from '../../core/topic/validate.js';
import type { CountedSql } from '../invocation-counters.js';
import type { Row } from './schema.js';
import type { SplitLog } from './split-log.js';

/** Rows one query of the trie's load reads. */
const LOAD_PAGE_ROWS = 2_000;

/** A subscriptions row as a split sends it. */
export function subscriptionRow(row: Row): SubscriptionRow {
  const copy: SubscriptionRow = { filter: row.filter as string, session: row.session as string, qos: row.qos as QoS };
  if (row.no_local === 1) copy.noLocal = true;
  if (row.retain_as_published === 1) copy.retainAsPublished = true;
  if (row.subscription_identifier !== null) copy.subscriptionIdentifier = row.subscription_identifier as number;
  return copy;
}

export class SubscriptionsStore {
  private trie: SubscriptionTrie<SubscriptionOptions> | undefined;
  /** Wildcard subscriptions in the trie (every shard holds all of them; a split does not reduce them). */
  private wildcards = 0;

  constructor(
    private readonly sql: CountedSql,
    private readonly log: SplitLog,
  ) {}

  /** The trie of every subscription held here, loaded at first use. */
  load(): SubscriptionTrie<SubscriptionOptions> {
    if (!this.trie) {
      const trie = new SubscriptionTrie<SubscriptionOptions>();
      this.wildcards = 0;
      // Read in pages: a shard's wake holds its trie, never the whole table's rows as well.
      for (const row of this.rows()) {
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

  /** Adds or replaces a session's subscription [MQTT-3.8.4-3]; true when it is new. */
  put(filter: string, session: string, options: SubscriptionOptions): boolean {
    const isNew = this.trieAdd(filter, session, options);
    this.upsert(filter, session, options);
    this.log.record('s', filter, session);
    return isNew;
  }

  /** Removes a session's subscription if it holds it. */
  remove(filter: string, session: string): void {
    if (this.trieRemove(filter, session)) {
      this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
      this.log.record('s', filter, session);
    }
  }

  /** Child side of a split: takes in a row as the parent holds it now (a trie not loaded yet reads it later). */
  absorb(row: SubscriptionRow): void {
    this.upsert(row.filter, row.session, row);
    if (this.trie) this.trieAdd(row.filter, row.session, subscriptionOptions(row));
  }

  /** Deletes a row the split moved away (cleanup) or the parent no longer has (child side); not logged. */
  drop(filter: string, session: string): void {
    this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
    if (this.trie) this.trieRemove(filter, session);
  }

  /** The trie is read again at next use (the rows were replaced underneath it). */
  unload(): void {
    this.trie = undefined;
  }

  /** Exact subscriptions in the trie, for the split threshold; 0 while it is not loaded. */
  exactCount(): number {
    return this.trie ? this.trie.size - this.wildcards : 0;
  }

  /** Wildcard subscriptions, and exact ones of the hashes `counted` accepts. */
  census(counted: (hash: number) => boolean): { exact: number; wildcard: number } {
    let wildcard = 0;
    let exact = 0;
    for (const entry of this.load().entries()) {
      const hash = filterHash(entry.filter);
      if (hash === undefined) wildcard++;
      else if (counted(hash)) exact++;
    }
    return { exact, wildcard };
  }

  /** Subscription rows after the key [filter, session] (none: from the start), in key order. */
  page(after: string[], limit: number): Row[] {
    const columns = 'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions';
    return after.length === 2
      ? this.sql.all<Row>(`${columns} WHERE (filter, session) > (?, ?) ORDER BY filter, session LIMIT ?`, after[0]!, after[1]!, limit)
      : this.sql.all<Row>(`${columns} ORDER BY filter, session LIMIT ?`, limit);
  }

  /** The keys [filter, session] after `after`, in key order (a cleanup's walk). */
  keys(after: string[], limit: number): Row[] {
    return this.sql.all<Row>('SELECT filter, session FROM subscriptions WHERE (filter, session) > (?, ?) ORDER BY filter, session LIMIT ?', after[0] ?? '', after[1] ?? '', limit);
  }

  /** One row as a split sends it; undefined when the session no longer holds the filter. */
  row(filter: string, session: string): SubscriptionRow | undefined {
    const row = this.sql.one<Row>(
      'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions WHERE filter = ? AND session = ?',
      filter,
      session,
    );
    return row ? subscriptionRow(row) : undefined;
  }

  /** The subscription rows in key order, read LOAD_PAGE_ROWS at a time. */
  private *rows(): Generator<Row> {
    let after: string[] = [];
    for (;;) {
      const rows = this.page(after, LOAD_PAGE_ROWS);
      yield* rows;
      if (rows.length < LOAD_PAGE_ROWS) return;
      const last = rows[rows.length - 1]!;
      after = [last.filter as string, last.session as string];
    }
  }

  private upsert(filter: string, session: string, options: SubscriptionOptions): void {
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
  }

  private trieAdd(filter: string, session: string, options: SubscriptionOptions): boolean {
    const added = this.load().add(filter, session, options);
    if (added && hasWildcard(filter)) this.wildcards++;
    return added;
  }

  private trieRemove(filter: string, session: string): boolean {
    const removed = this.load().remove(filter, session);
    if (removed && hasWildcard(filter)) this.wildcards--;
    return removed;
  }
}
