// The shard's subscriptions: exact ones as SQLite rows, wildcard ones in memory only (their rows live in the
// tenant's wildcard homes, core/routing/wildcard-homes.ts), and the trie built from both at first use after a wake.
import type { QoS } from '../../core/codec/packets.js';
import type { SubscriptionRow } from '../../core/routing/shard-protocol.js';
import { filterHash } from '../../core/routing/shard-layout.js';
import { subscriptionOptions, type SubscriptionOptions } from '../../core/routing/subscription.js';
import { mergeWildcards, slices, type SubscriptionKey } from '../../core/routing/wildcard-homes.js';
import { SubscriptionTrie } from '../../core/topic/trie.js';
import type { CountedSql } from '../invocation-counters.js';
import type { Row } from './schema.js';
import type { SplitLog } from './split-log.js';

/** Rows one query of the trie's load reads, and old wildcard rows one migration step deletes. */
const LOAD_PAGE_ROWS = 2_000;

/** A subscriptions row as a split sends it. */
export function subscriptionRow(row: Row): SubscriptionRow {
  const copy: SubscriptionRow = { filter: row.filter as string, session: row.session as string, qos: row.qos as QoS };
  if (row.no_local === 1) copy.noLocal = true;
  if (row.retain_as_published === 1) copy.retainAsPublished = true;
  if (row.subscription_identifier !== null) copy.subscriptionIdentifier = row.subscription_identifier as number;
  return copy;
}

/** What the store needs of the tenant's wildcard homes (durable-objects/wildcard-homes.ts). */
export interface WildcardHomesPort {
  load(take: (rows: SubscriptionRow[]) => void): Promise<void>;
  register(rows: readonly SubscriptionRow[]): Promise<void>;
  remove(keys: readonly SubscriptionKey[]): Promise<void>;
}

type Trie = SubscriptionTrie<SubscriptionOptions>;

const isWildcard = (filter: string) => filterHash(filter) === undefined;
const keyOf = (filter: string, session: string) => `${filter}\u0000${session}`;

export class SubscriptionsStore {
  private trie: Trie | undefined;
  /** The load in progress: every caller that reads or changes the trie waits for it, and then runs in order. */
  private loading: Promise<Trie> | undefined;
  /** Bumped by unload(): a load that started before it is thrown away. */
  private generation = 0;
  /** Wildcard subscriptions in the trie (every shard holds all of them; a split does not reduce them). */
  private wildcards = 0;
  /** Old wildcard rows this wake registered with their homes (migration): an unsubscribe deletes them there again. */
  private readonly migrated = new Set<string>();

  constructor(
    private readonly sql: CountedSql,
    private readonly log: SplitLog,
    private readonly homes: () => WildcardHomesPort,
  ) {}

  /**
   * The trie of every subscription held here: at first use after a wake, the exact rows, then the wildcard
   * set from every home, merged. Calls that arrive meanwhile wait and then apply, in arrival order, on top
   * of it: a subscribe or unsubscribe is never undone by what the load read before it.
   */
  ready(): Promise<Trie> {
    if (this.trie) return Promise.resolve(this.trie);
    if (!this.loading) {
      const loading = this.load().finally(() => {
        if (this.loading === loading) this.loading = undefined;
      });
      this.loading = loading;
    }
    return this.loading;
  }

  /** The trie if it is loaded. */
  current(): Trie | undefined {
    return this.trie;
  }

  /** The trie, which a caller has awaited ready() for (a publish's redelivery, a split step). */
  loaded(): Trie {
    if (!this.trie) throw new Error('the subscription trie is not loaded');
    return this.trie;
  }

  /** Adds or replaces a session's subscription [MQTT-3.8.4-3]; true when it is new. A wildcard writes no row here. */
  put(filter: string, session: string, options: SubscriptionOptions): boolean {
    const isNew = this.trieAdd(filter, session, options);
    if (!isWildcard(filter)) this.upsert(filter, session, options);
    this.log.record('s', filter, session);
    return isNew;
  }

  /**
   * Removes a session's subscription if it holds it. True when the filter's home must be told again: an old
   * wildcard row this wake registered there after the router had deleted it (see migrate()).
   */
  remove(filter: string, session: string): boolean {
    if (this.trieRemove(filter, session)) {
      if (!isWildcard(filter)) this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
      this.log.record('s', filter, session);
    }
    return this.migrated.delete(keyOf(filter, session));
  }

  /** Child side of a split (after ready()): takes in a row as the parent holds it now. */
  absorb(row: SubscriptionRow): void {
    if (!isWildcard(row.filter)) this.upsert(row.filter, row.session, row);
    this.trieAdd(row.filter, row.session, subscriptionOptions(row));
  }

  /** Deletes a row the split moved away (cleanup) or the parent no longer has (child side); not logged. */
  drop(filter: string, session: string): void {
    if (!isWildcard(filter)) this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
    if (this.trie) this.trieRemove(filter, session);
  }

  /** The trie is read again at next use (the rows were replaced underneath it). */
  unload(): void {
    this.trie = undefined;
    this.loading = undefined;
    this.generation++;
  }

  /** Exact subscriptions in the trie, for the split threshold; 0 while it is not loaded. */
  exactCount(): number {
    return this.trie ? this.trie.size - this.wildcards : 0;
  }

  /** Wildcard subscriptions, and exact ones of the hashes `counted` accepts (after ready()). */
  census(counted: (hash: number) => boolean): { exact: number; wildcard: number } {
    let wildcard = 0;
    let exact = 0;
    for (const entry of this.loaded().entries()) {
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

  /** One subscription as a split sends it (a wildcard from the loaded trie); undefined when the session no longer holds the filter. */
  row(filter: string, session: string): SubscriptionRow | undefined {
    if (isWildcard(filter)) {
      const options = this.loaded().get(filter, session);
      return options ? { filter, session, ...options } : undefined;
    }
    const row = this.sql.one<Row>(
      'SELECT filter, session, qos, no_local, retain_as_published, subscription_identifier FROM subscriptions WHERE filter = ? AND session = ?',
      filter,
      session,
    );
    return row ? subscriptionRow(row) : undefined;
  }

  /** Removes subscriptions from their homes (an unsubscribe of keys migrate() put back there). */
  removeFromHomes(keys: readonly SubscriptionKey[]): Promise<void> {
    return keys.length === 0 ? Promise.resolve() : this.homes().remove(keys);
  }

  private async load(): Promise<Trie> {
    const generation = this.generation;
    const trie = new SubscriptionTrie<SubscriptionOptions>();
    const old: SubscriptionRow[] = [];
    // Read in pages: a shard's wake holds its trie, never the whole table's rows as well.
    for (const row of this.rows()) {
      const filter = row.filter as string;
      if (isWildcard(filter)) old.push(subscriptionRow(row));
      else trie.add(filter, row.session as string, subscriptionOptions(subscriptionRow(row)));
    }
    if (old.length > 0) await this.migrate(old);
    let wildcards = 0;
    await this.homes().load((rows) => {
      wildcards += mergeWildcards(trie, rows);
    });
    // unload() ran meanwhile (a split's adopt replaced the rows): read them again.
    if (generation !== this.generation) return this.ready();
    this.trie = trie;
    this.wildcards = wildcards;
    return trie;
  }

  /**
   * Migration from the release that stored every wildcard filter as a row in every shard: the old rows are
   * registered with their homes (added only where the home holds none: a home row is newer) and deleted here,
   * a bounded batch at a time; an eviction midway leaves the rest for the next wake. They are not read as a
   * fallback: after this the homes alone hold wildcards, and the trie reads them from there.
   */
  private async migrate(rows: readonly SubscriptionRow[]): Promise<void> {
    for (const batch of slices(rows, LOAD_PAGE_ROWS)) {
      await this.homes().register(batch);
      for (const { filter, session } of batch) {
        this.sql.run('DELETE FROM subscriptions WHERE filter = ? AND session = ?', filter, session);
        this.migrated.add(keyOf(filter, session));
      }
    }
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
    const added = this.loaded().add(filter, session, options);
    if (added && isWildcard(filter)) this.wildcards++;
    return added;
  }

  private trieRemove(filter: string, session: string): boolean {
    const removed = this.loaded().remove(filter, session);
    if (removed && isWildcard(filter)) this.wildcards--;
    return removed;
  }
}
