// The shard's message counters: messages and payload bytes in (per publisher token too) and out, per minute,
// with the shard's own requests and rows (durable-objects/stats/counter-buffer.ts: written within a second,
// never lost to an idle eviction).
import type { Counts } from '../../core/tenancy/event-log.js';
import type { RoutedMessage } from '../../core/routing/message.js';
import type { CountedSql, InvocationCounts } from '../invocation-counters.js';
import { CounterBuffer } from '../stats/counter-buffer.js';
import { MINUTE_COUNTS_SCHEMA, MinuteCounts } from '../stats/minute-counts.js';

export class MessageCounters {
  private readonly minutes: MinuteCounts;
  private readonly buffer: CounterBuffer;

  constructor(sql: CountedSql, invocations: InvocationCounts) {
    sql.run(MINUTE_COUNTS_SCHEMA);
    // Totals of shards from before per-minute counts, under their new names (no row changes once done).
    sql.run("UPDATE counters SET name = 'messages_in' WHERE name = 'received'");
    sql.run("UPDATE counters SET name = 'messages_out' WHERE name = 'sent'");
    this.minutes = new MinuteCounts(sql);
    this.buffer = new CounterBuffer(this.minutes, invocations);
  }

  /** Messages a publish brought (expired ones included: they were received) and the copies it made. */
  published(messages: readonly RoutedMessage[], copies: number, bytesOut: number): void {
    for (const message of messages) {
      this.buffer.add('messages_in', 1, message.tokenId);
      this.buffer.add('bytes_in', message.payload.length, message.tokenId);
    }
    this.buffer.add('messages_out', copies);
    this.buffer.add('bytes_out', bytesOut);
  }

  /** One more copy (a shared subscription's redelivery to another member). */
  sent(bytes: number): void {
    this.buffer.add('messages_out', 1);
    this.buffer.add('bytes_out', bytes);
  }

  /** Totals since the shard was created, everything pending written first. */
  totals(): { received: number; sent: number } {
    this.buffer.flush();
    const totals = this.minutes.totals();
    return { received: totals.messages_in ?? 0, sent: totals.messages_out ?? 0 };
  }

  /** The minutes from `fromMinute` on, everything pending written first. */
  since(fromMinute: number): Array<{ minute: number; counts: Counts }> {
    this.buffer.flush();
    return this.minutes.since(fromMinute);
  }
}
