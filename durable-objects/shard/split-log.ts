// The split log: while a split copies, each change to a row of the moving half, to send to the child in order.
import { movesInSplit, topicMovesInSplit } from '../../core/routing/shard-layout.js';
import type { CountedSql } from '../invocation-counters.js';
import type { PlacementStore } from './placement.js';
import type { Row } from './schema.js';

/** 's': a subscriptions row [filter, session] changed; 'r': a retained row [topic]. */
export type SplitChange = 's' | 'r';

export class SplitLog {
  constructor(
    private readonly sql: CountedSql,
    private readonly placement: PlacementStore,
  ) {}

  /** While a split copies, a change to a row of the moving half is logged, and sent to the child in order. */
  record(kind: SplitChange, a: string, b = ''): void {
    const place = this.placement.get();
    const split = place.split;
    if (!split) return;
    const moves = kind === 's' ? movesInSplit(a, place.depth, split.child) : topicMovesInSplit(a, place.depth, split.child);
    if (moves) this.sql.run('INSERT INTO split_log (kind, a, b) VALUES (?, ?, ?)', kind, a, b);
  }

  /** The oldest `limit` entries, in order. */
  oldest(limit: number): Row[] {
    return this.sql.all<Row>('SELECT seq, kind, a, b FROM split_log ORDER BY seq LIMIT ?', limit);
  }

  isEmpty(): boolean {
    return !this.sql.one<Row>('SELECT seq FROM split_log LIMIT 1');
  }

  /** Drops the entries sent, up to and including `seq`. */
  dropUpTo(seq: number): void {
    this.sql.run('DELETE FROM split_log WHERE seq <= ?', seq);
  }

  clear(): void {
    this.sql.run('DELETE FROM split_log');
  }
}
