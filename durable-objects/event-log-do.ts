// EventLogDO: one of a tenant's log shards (core/tenancy/event-log.ts). It keeps the last EVENTS_KEPT events
// reported to it (one row each, written before the sender's call returns) and, per minute, the counts they
// stand for (connects, disconnects, auth failures, kicks, limit hits by name, token changes), each also per
// token: counted in memory and written within a second (stats/counter-buffer.ts), so a storm of connects
// costs one row per event, not two.
import { EVENTS_KEPT, countsOfEvent, type Counts, type EventKind, type LogEvent, type StoredEvent } from '../core/tenancy/event-log.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import { CounterBuffer } from './stats/counter-buffer.js';
import { MINUTE_COUNTS_SCHEMA, MinuteCounts } from './stats/minute-counts.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, client_id TEXT, token_id TEXT, body TEXT NOT NULL);
${MINUTE_COUNTS_SCHEMA}`;
/** Old events are deleted in steps of this many, not one per insert. */
const PRUNE_EVERY = 100;
/** Events one page answers at most. */
export const EVENT_PAGE_MAX = 500;

type Row = Record<string, SqlStorageValue>;

export interface ShardPageQuery {
  /** Only events strictly before (beforeAt, beforeSeq) in (at, seq) order. */
  beforeAt: number;
  beforeSeq: number;
  limit: number;
  clientId?: string;
  tokenId?: string;
  kinds?: EventKind[];
}

export class EventLogDO extends CountedObject {
  private readonly minutes: MinuteCounts;
  private readonly counts: CounterBuffer;
  private lastSeq: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
    this.minutes = new MinuteCounts(this.sql);
    this.counts = new CounterBuffer(this.minutes, this.invocations);
  }

  /** Appends events (in the order given) and counts them in their minutes. */
  async record(events: LogEvent[]): Promise<void> {
    this.invocations.rpc++;
    for (const event of events) {
      const { at, kind, clientId, tokenId, ...body } = event;
      this.lastSeq = this.nextSeq();
      this.sql.run(
        'INSERT INTO events (seq, at, kind, client_id, token_id, body) VALUES (?, ?, ?, ?, ?, ?)',
        this.lastSeq,
        at,
        kind,
        clientId ?? null,
        tokenId ?? null,
        JSON.stringify(body),
      );
      for (const [name, n] of Object.entries(countsOfEvent(event))) this.counts.addKey(name, n, at);
      if (this.lastSeq % PRUNE_EVERY === 0) this.sql.run('DELETE FROM events WHERE seq <= ?', this.lastSeq - EVENTS_KEPT);
    }
  }

  /** Up to `limit` events before the bound, newest first; `more` when older ones match too. */
  async page(shard: number, query: ShardPageQuery): Promise<{ events: StoredEvent[]; more: boolean }> {
    this.invocations.rpc++;
    const where = ['(at < ? OR (at = ? AND seq < ?))'];
    const bindings: Array<string | number> = [query.beforeAt, query.beforeAt, query.beforeSeq];
    if (query.clientId !== undefined) {
      where.push('client_id = ?');
      bindings.push(query.clientId);
    }
    if (query.tokenId !== undefined) {
      where.push('token_id = ?');
      bindings.push(query.tokenId);
    }
    if (query.kinds && query.kinds.length > 0) {
      where.push(`kind IN (${query.kinds.map(() => '?').join(', ')})`);
      bindings.push(...query.kinds);
    }
    const limit = Math.min(Math.max(1, query.limit), EVENT_PAGE_MAX);
    const rows = this.sql.all<Row>(`SELECT seq, at, kind, client_id, token_id, body FROM events WHERE ${where.join(' AND ')} ORDER BY at DESC, seq DESC LIMIT ?`, ...bindings, limit + 1);
    const events = rows.slice(0, limit).map(
      (row): StoredEvent => ({
        ...(JSON.parse(row.body as string) as Omit<LogEvent, 'at' | 'kind' | 'clientId' | 'tokenId'>),
        at: row.at as number,
        kind: row.kind as EventKind,
        ...(row.client_id === null ? {} : { clientId: row.client_id as string }),
        ...(row.token_id === null ? {} : { tokenId: row.token_id as string }),
        shard,
        seq: row.seq as number,
      }),
    );
    return { events, more: rows.length > limit };
  }

  /** Per-minute counts from `fromMinute` on, oldest first. */
  async history(fromMinute: number): Promise<Array<{ minute: number; counts: Counts }>> {
    this.invocations.rpc++;
    this.counts.flush();
    return this.minutes.since(fromMinute);
  }

  /** Everything counted since the shard began. */
  async totals(): Promise<Counts> {
    this.invocations.rpc++;
    this.counts.flush();
    return this.minutes.totals();
  }

  private nextSeq(): number {
    this.lastSeq ??= (this.sql.one<Row>('SELECT MAX(seq) AS seq FROM events')?.seq as number | null) ?? 0;
    return this.lastSeq + 1;
  }
}
