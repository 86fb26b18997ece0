// The shard's message counters (received, sent): kept in memory, written to SQLite at most every 10 s.
import type { CountedSql } from '../invocation-counters.js';
import type { Row } from './schema.js';

/** Counters reach SQLite at most this often: no row write per message. */
const COUNTER_FLUSH_MS = 10_000;

export class MessageCounters {
  private counters: { received: number; sent: number } | undefined;
  /** Starts at construction so that the first publish after a wake writes nothing. */
  private flushedAt = Date.now();

  constructor(private readonly sql: CountedSql) {}

  /** The totals since the shard was created (read from SQLite at first use after a wake). */
  totals(): { received: number; sent: number } {
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

  count(received: number, sent: number): void {
    const counters = this.totals();
    counters.received += received;
    counters.sent += sent;
    const now = Date.now();
    if (now - this.flushedAt >= COUNTER_FLUSH_MS) this.flush(now);
  }

  flush(now: number): void {
    const counters = this.totals();
    this.flushedAt = now;
    const upsert = 'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value';
    this.sql.run(upsert, 'received', counters.received);
    this.sql.run(upsert, 'sent', counters.sent);
  }
}
