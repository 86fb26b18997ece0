// The shard's retained messages: storing within its share of the limits, and reading them in bounded pages.
import { assertNever, type Properties, type QoS } from '../../core/codec/packets.js';
import type { RetainedMessage, RoutedMessage } from '../../core/routing/message.js';
import { retainedLookup, type RetainedLookup } from '../../core/routing/retained-range.js';
import { decideRetained, selectRetained, shardRetainedLimits } from '../../core/routing/retained.js';
import type { RetainedRow } from '../../core/routing/shard-protocol.js';
import type { CountedSql } from '../invocation-counters.js';
import { fromJson, toJson } from '../json.js';
import type { Row } from './schema.js';
import type { SplitLog } from './split-log.js';

/** Retained rows one query of a page reads, and one subscribe answer examines at most. */
const SCAN_BATCH = 500;
const SCAN_PER_ANSWER = 10_000;

/** What of the broker configuration (config.ts) the retained store reads. */
export interface RetainedConfig {
  shardCount: number;
  maximumRetained: number;
  maximumRetainedBytes: number;
  retainedPage: number;
  retainedPageBytes: number;
}

/** What is left of one subscribe answer's retained page (see replayBudget); shared by its filters. */
export interface PageBudget {
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

export class RetainedStore {
  /** Retained messages not stored because the tenant's retained limit was reached (since the last start). */
  refused = 0;
  /**
   * The retained table's topics and payload bytes, for the retained limits: counted once after a wake, when
   * a retained message first needs them (reads every row once, writes nothing), then kept in step by every
   * change to the table. undefined = not counted since the wake.
   */
  private held: { count: number; bytes: number } | undefined;

  constructor(
    private readonly sql: CountedSql,
    private readonly config: RetainedConfig,
    /** This shard's depth: at depth d it holds a 2^d-th of the tenant's retained limits and pages. */
    private readonly depth: () => number,
    private readonly log: SplitLog,
  ) {}

  /** Applies decideRetained, within this shard's share of the retained limits, to a message with RETAIN 1. */
  /** Stores (or deletes) a topic's retained message; false when a limit refused it. */
  store(message: RoutedMessage): boolean {
    const config = this.config;
    const shares = 2 ** this.depth();
    const limits = shardRetainedLimits(message, { maxRetained: config.maximumRetained, maxRetainedBytes: config.maximumRetainedBytes }, config.shardCount, Math.max(shares, config.shardCount));
    let previous: { size: number | undefined } | undefined;
    const existing = () => (previous ??= { size: this.size(message.topic) }).size;
    const decision = decideRetained(message, limits, { existing, held: () => this.heldRetained() });
    switch (decision) {
      case 'refuse':
        this.refused++;
        return false;
      case 'refuseAndDelete':
      case 'delete':
        if (decision === 'refuseAndDelete') this.refused++;
        if (this.held) this.changed(existing(), undefined);
        this.sql.run('DELETE FROM retained WHERE topic = ?', message.topic);
        this.log.record('r', message.topic);
        return decision === 'delete';
      case 'store':
        break;
      default:
        return assertNever(decision);
    }
    if (this.held) this.changed(existing(), message.payload.length);
    this.upsert({
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      properties: message.properties ? toJson(message.properties) : null,
      expiresAt: message.expiresAt ?? null,
    });
    this.log.record('r', message.topic);
    return true;
  }

  /** Deletes a topic's retained message (the admin API); true when there was one. */
  delete(topic: string): boolean {
    const size = this.size(topic);
    if (size === undefined) return false;
    this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
    this.changed(size, undefined);
    this.log.record('r', topic);
    return true;
  }

  /** Unexpired retained messages, `$` topics aside (statistics). */
  countLive(now: number): number {
    return (this.sql.one<Row>("SELECT COUNT(*) AS n FROM retained WHERE topic NOT LIKE '$%' AND (expires_at IS NULL OR expires_at > ?)", now)?.n as number) ?? 0;
  }

  /** A retained row as stored, for a split's copy. */
  row(topic: string): RetainedRow | undefined {
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

  /** Topics and payload sizes after `after`, in topic order (a split's copy and cleanup walk these). */
  keys(after: string, limit: number): Row[] {
    return this.sql.all<Row>('SELECT topic, length(payload) AS size FROM retained WHERE topic > ? ORDER BY topic LIMIT ?', after, limit);
  }

  /** Child side of a split: takes in a row as the parent holds it now. */
  absorb(row: RetainedRow): void {
    this.upsert(row);
  }

  /** Deletes a row the split moved away (cleanup, `size`: its payload's) or the parent no longer has; not logged. */
  drop(topic: string, size?: number): void {
    this.sql.run('DELETE FROM retained WHERE topic = ?', topic);
    if (size !== undefined) this.changed(size, undefined);
  }

  /** The tally is counted again at next need (rows were added or removed in bulk). */
  forgetHeld(): void {
    this.held = undefined;
  }

  /**
   * The budget of one subscribe answer's retained messages: this shard's share of RETAINED_PAGE messages
   * and RETAINED_PAGE_BYTES, and at most SCAN_PER_ANSWER rows examined (a sparse wildcard match).
   */
  replayBudget(): PageBudget {
    const { retainedPage, retainedPageBytes, shardCount } = this.config;
    // A region's shards share its page (shard-router.ts merges them): at depth d, a 2^d-th of the whole.
    const shares = Math.max(shardCount, 2 ** this.depth());
    return { count: Math.ceil(retainedPage / shares), bytes: Math.ceil(retainedPageBytes / shares), scan: SCAN_PER_ANSWER, taken: 0 };
  }

  /** The budget of one admin page: at most `limit` messages and `maxBytes` of payload, SCAN_PER_ANSWER rows examined. */
  listBudget(page: { limit: number; maxBytes: number }): PageBudget {
    return { count: page.limit, bytes: page.maxBytes, scan: SCAN_PER_ANSWER, taken: 0 };
  }

  /**
   * The next page of this shard's unexpired retained messages matching a (non-shared) filter: topics after
   * `after` in topic order, within `budget` (shared by the filters of one answer: at most `count` messages
   * and `bytes` of payload, though always one message if the answer has none yet). SQL walks the topic index
   * from the cursor (ORDER BY topic, LIMIT) reading topics and sizes only; payloads are read for the
   * messages returned. `next`: where the page stopped early, absent once nothing more matches.
   */
  page(filter: string, after: string, budget: PageBudget, now: number, owned?: (topic: string) => boolean): { retained: RetainedMessage[]; next?: string } {
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
      for (const { topic, size } of expired) this.deleteExpired(topic, size, now);
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
    const retained = this.read(chosen);
    return next === undefined ? { retained } : { retained, next };
  }

  /** The retained messages of these topics, payloads included, in the order given (a topic gone meanwhile is skipped). */
  private read(topics: readonly string[]): RetainedMessage[] {
    return topics.flatMap((topic) => {
      const row = this.row(topic);
      if (!row) return [];
      const message: RetainedMessage = { topic, payload: row.payload, qos: row.qos };
      if (row.properties) message.properties = fromJson<Properties>(row.properties);
      if (row.expiresAt !== null) message.expiresAt = row.expiresAt;
      return [message];
    });
  }

  private upsert(row: RetainedRow): void {
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

  /** The payload size of a topic's retained message; undefined when there is none. */
  private size(topic: string): number | undefined {
    return this.sql.one<Row>('SELECT length(payload) AS size FROM retained WHERE topic = ?', topic)?.size as number | undefined;
  }

  /** The retained table's topics and payload bytes (see held). */
  private heldRetained(): { count: number; bytes: number } {
    if (!this.held) {
      const row = this.sql.one<Row>('SELECT COUNT(*) AS n, COALESCE(SUM(length(payload)), 0) AS b FROM retained');
      this.held = { count: (row?.n as number | undefined) ?? 0, bytes: (row?.b as number | undefined) ?? 0 };
    }
    return this.held;
  }

  /** A topic's retained payload went from `before` bytes to `after` (undefined: no message): the tally follows. */
  private changed(before: number | undefined, after: number | undefined): void {
    const held = this.held;
    if (!held) return;
    held.count += (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    held.bytes += (after ?? 0) - (before ?? 0);
  }

  /** Deletes a retained message met past its expiry [MQTT-3.3.2-5 v5]; `size` is its payload's. */
  private deleteExpired(topic: string, size: number, now: number): void {
    this.sql.run('DELETE FROM retained WHERE topic = ? AND expires_at <= ?', topic, now);
    this.changed(size, undefined);
  }
}
