// Per-minute counts of one object in its own SQLite: one JSON row per minute (a flush writes one row, however
// many names it counts), kept for HISTORY_MINUTES; older minutes fold into the `counters` totals.
import { HISTORY_MINUTES, mergeCounts, type Counts } from '../../core/tenancy/event-log.js';
import type { CountedSql } from '../invocation-counters.js';

export const MINUTE_COUNTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS minute_counts (minute INTEGER PRIMARY KEY, counts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`;

type Row = Record<string, SqlStorageValue>;

export class MinuteCounts {
  /** Everything counted, once read after a wake: kept up to date by add(), so $SYS rounds re-read nothing. */
  private known: Counts | undefined;

  constructor(private readonly sql: CountedSql) {}

  /** Adds counts to their minutes (read, merged, written back: one row per minute touched). */
  add(byMinute: ReadonlyMap<number, Counts>): void {
    let newest = -Infinity;
    for (const [minute, counts] of byMinute) {
      if (Object.keys(counts).length === 0) continue;
      const row = this.sql.one<Row>('SELECT counts FROM minute_counts WHERE minute = ?', minute);
      const merged = mergeCounts(row ? (JSON.parse(row.counts as string) as Counts) : {}, counts);
      this.sql.run('INSERT INTO minute_counts (minute, counts) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET counts = excluded.counts', minute, JSON.stringify(merged));
      if (this.known) mergeCounts(this.known, counts);
      if (!row) newest = Math.max(newest, minute);
    }
    // A new minute began: minutes past the history fold into the totals (about once a minute at most).
    if (newest > -Infinity) this.foldBefore(newest - HISTORY_MINUTES);
  }

  /** The minutes from `fromMinute` on, oldest first. */
  since(fromMinute: number): Array<{ minute: number; counts: Counts }> {
    return this.sql
      .all<Row>('SELECT minute, counts FROM minute_counts WHERE minute >= ? ORDER BY minute', fromMinute)
      .map((row) => ({ minute: row.minute as number, counts: JSON.parse(row.counts as string) as Counts }));
  }

  /** Everything ever counted: the folded totals plus the minutes kept. */
  totals(): Counts {
    if (!this.known) {
      const totals: Counts = {};
      for (const row of this.sql.all<Row>('SELECT name, value FROM counters')) totals[row.name as string] = row.value as number;
      for (const { counts } of this.since(0)) mergeCounts(totals, counts);
      this.known = totals;
    }
    return { ...this.known };
  }

  private foldBefore(minute: number): void {
    const old = this.sql.all<Row>('SELECT counts FROM minute_counts WHERE minute < ?', minute);
    if (old.length === 0) return;
    const folded: Counts = {};
    for (const row of old) mergeCounts(folded, JSON.parse(row.counts as string) as Counts);
    for (const [name, value] of Object.entries(folded)) {
      this.sql.run('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value', name, value);
    }
    this.sql.run('DELETE FROM minute_counts WHERE minute < ?', minute);
  }
}
