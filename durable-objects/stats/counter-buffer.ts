// Counts an object makes on its hot path (a shard's messages and bytes), held in memory and written to its
// MinuteCounts within FLUSH_AFTER_MS of the first unwritten count: one row per second of activity at most,
// none per message, and nothing left in memory when the object goes idle, so an eviction or hibernation after
// a quiet second loses nothing (issue 13: counters written every 10 s on activity were lost when idle
// objects were evicted). Only a kill of the runtime within that second loses the counts of it.
import { addCount, minuteOf, type Counts } from '../../core/tenancy/event-log.js';
import type { InvocationCounts } from '../invocation-counters.js';
import type { MinuteCounts } from './minute-counts.js';

/** How long counts may wait in memory before they are written. */
export const FLUSH_AFTER_MS = 1_000;

export class CounterBuffer {
  private pending = new Map<number, Counts>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The object's own requests and rows at the last flush: each flush adds what they grew by. */
  private costAtFlush: { requests: number; rowsRead: number; rowsWritten: number };

  constructor(
    private readonly store: MinuteCounts,
    private readonly invocations: InvocationCounts,
  ) {
    this.costAtFlush = costOf(invocations);
  }

  /** Counts `n` for the tenant's `name` and, for a known token, the token's. */
  add(name: string, n: number, tokenId?: string, at = Date.now()): void {
    if (n === 0) return;
    addCount(this.minute(at), name, n, tokenId);
    this.armFlush();
  }

  /** Counts `n` under a key as it is (`name` or `name@tokenId`: core/tenancy/event-log.ts countsOfEvent). */
  addKey(key: string, n: number, at = Date.now()): void {
    if (n === 0) return;
    const counts = this.minute(at);
    counts[key] = (counts[key] ?? 0) + n;
    this.armFlush();
  }

  private minute(at: number): Counts {
    const minute = minuteOf(at);
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = {}));
    return counts;
  }

  private armFlush(): void {
    this.timer ??= setTimeout(() => this.flush(), FLUSH_AFTER_MS);
  }

  /** Writes what is pending, with the object's requests and rows since the last flush. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const cost = costOf(this.invocations);
    const now = minuteOf(Date.now());
    let current = this.pending.get(now);
    if (!current) this.pending.set(now, (current = {}));
    addCount(current, 'do_requests', cost.requests - this.costAtFlush.requests);
    addCount(current, 'do_rows_read', cost.rowsRead - this.costAtFlush.rowsRead);
    addCount(current, 'do_rows_written', cost.rowsWritten - this.costAtFlush.rowsWritten);
    const pending = this.pending;
    this.pending = new Map();
    this.store.add(pending);
    // This flush's own row is counted by the next one.
    this.costAtFlush = cost;
  }
}

/** Billed requests of an object: RPC calls, alarms, fetches, and WebSocket messages at 20:1. */
export function costOf(invocations: InvocationCounts): { requests: number; rowsRead: number; rowsWritten: number } {
  return {
    requests: invocations.rpc + invocations.alarm + invocations.fetch + Math.floor(invocations.webSocketMessage / 20),
    rowsRead: invocations.rowsRead,
    rowsWritten: invocations.rowsWritten,
  };
}
