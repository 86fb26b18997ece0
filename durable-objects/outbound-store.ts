// Where a session's outbound QoS 1/2 messages live, and what each costs in rows [DESIGN §4]:
//
//   session that ends with its connection (3.1.1 clean session, 5.0 Session Expiry 0)
//       memory only: 0 rows. It cannot outlive the connection, and the connection cannot outlive this object
//       (a reset drops the sockets), so a row would protect nothing. While any such message is held the
//       adapter keeps the object awake (no hibernation would keep them; see `heldInMemory`).
//   persistent session
//       one row per message, written once: an upsert into a free slot. Completion writes no row: the
//       slot is free in memory, and the next message overwrites it. Which rows are live is written as one
//       `mark` row once the session is quiet (`flushMark`, debounced by the adapter), so a hibernation
//       wakes to exactly the live messages. Only a crash between an acknowledgement and the mark can wake
//       to a message already completed: QoS 1 is then resent (at least once allows it), QoS 2 is resent as
//       PUBREL (its PUBREC state is written at once, `markReleased`), never as a second PUBLISH.
//
//   slot row:  slot (primary key) · seq · state · packet_id · the message
//   mark row:  up_to (rows with seq ≥ it are live) · live (ranges of live seqs below it) · sent_below
//
// Why slots and not seq as the key: rows written is what costs, and DELETE bills each row like an INSERT.
// A slot overwritten by the next message is one row for the pair. Why no index on seq: an index bills a
// second row per write; the queue's order and each message's slot are in memory here instead (~100 B each).
import type { Properties, QoS } from '../core/codec/packets.js';
import { OutboundState, type OutboundMessage } from '../core/session/state.js';
import { fromJson, toJson } from './json.js';
import type { CountedSql } from './invocation-counters.js';

export const OUTBOUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbound_slots (
  slot INTEGER PRIMARY KEY,
  -- storage order: queue and resend order; assigned by the session, monotonic
  seq INTEGER NOT NULL,
  packet_id INTEGER,
  -- 0 queued, 1 published, 2 released; a QoS 1 message drained from the queue stays 0 here (the mark's
  -- sent_below says it went out), a QoS 2 one is written 1 with its packet id
  state INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER,
  -- a QoS 2 message's exactly-once key (core/routing/message.ts); NULL otherwise
  exactly_once_key TEXT
);
CREATE TABLE IF NOT EXISTS outbound_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  up_to INTEGER NOT NULL,
  live TEXT NOT NULL,
  sent_below INTEGER NOT NULL
);
`;

/** Bound parameters per statement: Durable Object SQLite allows 100. */
const MAX_BINDINGS = 100;

type Row = Record<string, SqlStorageValue>;

/** One outbound message: its row's slot (persistent) or the message itself (memory only). */
interface Entry {
  seq: number;
  qos: QoS;
  state: OutboundState;
  slot: number | undefined;
  message: OutboundMessage | undefined;
}

/** What a session object wakes to (SessionStore.load). */
export interface LoadedOutbound {
  /** Sent and not completed, in seq order, each with its packet id. */
  inflight: OutboundMessage[];
  /** Queued, in seq order: payload size and exactly-once key. */
  queued: Array<{ size: number; key: string | null }>;
  /** The highest seq stored or marked (0 when none). */
  maxSeq: number;
}

/** A FIFO of entries: shift is O(1) (the queue may hold 100,000). */
class EntryQueue {
  private items: Entry[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(entry: Entry): void {
    this.items.push(entry);
  }

  at(i: number): Entry | undefined {
    return this.items[this.head + i];
  }

  shift(): Entry | undefined {
    const entry = this.items[this.head];
    if (entry === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as Entry;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** Removes the entry with this seq (the head, almost always). */
  remove(seq: number): Entry | undefined {
    if (this.at(0)?.seq === seq) return this.shift();
    for (let i = this.head; i < this.items.length; i++) {
      if (this.items[i]!.seq === seq) return this.items.splice(i, 1)[0];
    }
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<Entry> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class OutboundStore {
  /** New messages are kept in memory only (the session ends with its connection). */
  volatile = false;
  private readonly queued = new EntryQueue();
  private readonly sent = new Map<number, Entry>();
  private freeSlots: number[] = [];
  private nextSlot = 0;
  /** Every seq below this that is live was sent (drains go in seq order, direct sends only on an empty queue). */
  private sentBelow = 0;
  private highestSeq = 0;
  private memoryEntries = 0;
  private dirty = false;

  constructor(private readonly sql: CountedSql) {
    sql.run(OUTBOUND_SCHEMA);
    this.migrateSeqTable();
  }

  /** Messages held in memory only: the object must not hibernate while there are any. */
  get heldInMemory(): number {
    return this.memoryEntries;
  }

  /** Completions, drops or drains not yet in the mark row. */
  get markDirty(): boolean {
    return this.dirty;
  }

  /** Reads the live messages and rebuilds the index (the object woke). */
  load(): LoadedOutbound {
    this.reset();
    const mark = this.sql.one<Row>('SELECT up_to, live, sent_below FROM outbound_mark WHERE id = 1');
    const upTo = (mark?.up_to as number | undefined) ?? 0;
    const live = new LiveRanges(mark ? (JSON.parse(mark.live as string) as Array<[number, number]>) : []);
    this.sentBelow = (mark?.sent_below as number | undefined) ?? 0;
    this.highestSeq = Math.max(0, upTo - 1);
    const rows = this.sql
      .all<Row>('SELECT slot, seq, state, packet_id, qos, length(payload) AS size, exactly_once_key AS key FROM outbound_slots ORDER BY seq')
      .filter((row) => {
        const slot = row.slot as number;
        this.nextSlot = Math.max(this.nextSlot, slot + 1);
        const seq = row.seq as number;
        this.highestSeq = Math.max(this.highestSeq, seq);
        const isLive = seq >= upTo || live.has(seq);
        if (!isLive) this.freeSlots.push(slot);
        return isLive;
      });
    const inflight: OutboundMessage[] = [];
    const queued: LoadedOutbound['queued'] = [];
    for (const row of rows) {
      const seq = row.seq as number;
      // A QoS 1 message drained from the queue kept state 0 in its row: the mark says it went out.
      const state = ((row.state as number) > 0 ? row.state : seq < this.sentBelow ? OutboundState.Published : OutboundState.Queued) as OutboundState;
      const entry: Entry = { seq, qos: row.qos as QoS, state, slot: row.slot as number, message: undefined };
      if (state === OutboundState.Queued) {
        this.queued.push(entry);
        queued.push({ size: row.size as number, key: (row.key as string | null) ?? null });
      } else {
        this.sent.set(seq, entry);
        const message = this.readSlots([entry.slot!])[0]!;
        inflight.push({ ...message, state, packetId: (row.packet_id as number | null) ?? null });
      }
    }
    // A drained QoS 1 message's packet id was never written: it gets a free one for its resend.
    const used = new Set(inflight.map((m) => m.packetId).filter((id): id is number => id !== null));
    let candidate = 0;
    for (const message of inflight) {
      if (message.packetId !== null) continue;
      do candidate++;
      while (used.has(candidate));
      message.packetId = candidate;
    }
    return { inflight, queued, maxSeq: this.highestSeq };
  }

  insert(message: OutboundMessage): void {
    const entry: Entry = { seq: message.seq, qos: message.qos, state: message.state, slot: undefined, message: undefined };
    if (this.volatile) {
      entry.message = { ...message };
      this.memoryEntries++;
    } else {
      entry.slot = this.freeSlots.pop() ?? this.nextSlot++;
      this.writeSlot(entry.slot, message);
    }
    this.highestSeq = Math.max(this.highestSeq, message.seq);
    if (message.state === OutboundState.Queued) this.queued.push(entry);
    else this.markOut(entry);
  }

  /** A queued message entered the window with this packet id. */
  markSent(seq: number, packetId: number): void {
    const entry = this.queued.remove(seq);
    if (!entry) return;
    entry.state = OutboundState.Published;
    this.markOut(entry);
    if (entry.message) {
      entry.message.state = OutboundState.Published;
      entry.message.packetId = packetId;
    } else if (entry.qos === 2) {
      // QoS 2 keeps its packet id exact: a resend after a crash must not look like a new message.
      this.sql.run('UPDATE outbound_slots SET state = 1, packet_id = ? WHERE slot = ?', packetId, entry.slot!);
    } else {
      this.dirty = true;
    }
  }

  /** PUBREC: never PUBLISH again [MQTT-4.3.3-1], written at once. */
  markReleased(seq: number): void {
    const entry = this.sent.get(seq);
    if (!entry) return;
    entry.state = OutboundState.Released;
    if (entry.message) entry.message.state = OutboundState.Released;
    else this.sql.run('UPDATE outbound_slots SET state = 2 WHERE slot = ?', entry.slot!);
  }

  /** Completed, expired or refused: the slot is free (no row written). */
  complete(seq: number): void {
    const entry = this.sent.get(seq) ?? this.queued.remove(seq);
    if (!entry) return;
    this.sent.delete(seq);
    this.release(entry);
  }

  /** The queue's bounds dropped its `count` oldest messages. */
  dropOldestQueued(count: number): void {
    for (let i = 0; i < count; i++) {
      const entry = this.queued.shift();
      if (!entry) return;
      this.release(entry);
    }
  }

  /** The session ended: every row and the mark go. */
  clear(): void {
    this.sql.run('DELETE FROM outbound_slots; DELETE FROM outbound_mark;');
    this.reset();
  }

  /** The oldest queued messages after `afterSeq`, to be sent now. */
  readQueued(limit: number, afterSeq: number): OutboundMessage[] {
    const picked: Entry[] = [];
    for (const entry of this.queued) {
      if (picked.length >= limit) break;
      if (entry.seq > afterSeq) picked.push(entry);
    }
    const slots = picked.filter((entry) => entry.message === undefined).map((entry) => entry.slot!);
    const fromRows = new Map(this.readSlots(slots).map((message) => [message.seq, message]));
    return picked
      .map((entry) => entry.message ?? fromRows.get(entry.seq))
      .filter((message): message is OutboundMessage => message !== undefined)
      .map((message) => ({ ...message, state: OutboundState.Queued, packetId: null }));
  }

  /** Writes which rows are live: one row, once the session is quiet (the adapter decides when). */
  flushMark(): void {
    if (!this.dirty) return;
    const seqs: number[] = [];
    for (const entry of this.sent.values()) if (entry.slot !== undefined) seqs.push(entry.seq);
    for (const entry of this.queued) if (entry.slot !== undefined) seqs.push(entry.seq);
    seqs.sort((a, b) => a - b);
    this.sql.run(
      'INSERT INTO outbound_mark (id, up_to, live, sent_below) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET up_to = excluded.up_to, live = excluded.live, sent_below = excluded.sent_below',
      this.highestSeq + 1,
      JSON.stringify(toRanges(seqs)),
      this.sentBelow,
    );
    this.dirty = false;
  }

  private markOut(entry: Entry): void {
    this.sent.set(entry.seq, entry);
    this.sentBelow = Math.max(this.sentBelow, entry.seq + 1);
  }

  private release(entry: Entry): void {
    if (entry.message) {
      this.memoryEntries--;
      return;
    }
    this.freeSlots.push(entry.slot!);
    this.dirty = true;
  }

  private reset(): void {
    this.queued.clear();
    this.sent.clear();
    this.freeSlots = [];
    this.nextSlot = 0;
    this.sentBelow = 0;
    this.highestSeq = 0;
    this.memoryEntries = 0;
    this.dirty = false;
  }

  private writeSlot(slot: number, message: OutboundMessage): void {
    this.sql.run(
      `INSERT INTO outbound_slots (slot, seq, packet_id, state, topic, payload, qos, retain, properties, expires_at, exactly_once_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET seq = excluded.seq, packet_id = excluded.packet_id, state = excluded.state,
         topic = excluded.topic, payload = excluded.payload, qos = excluded.qos, retain = excluded.retain,
         properties = excluded.properties, expires_at = excluded.expires_at, exactly_once_key = excluded.exactly_once_key`,
      slot,
      message.seq,
      message.packetId,
      message.state,
      message.topic,
      message.payload,
      message.qos,
      message.retain ? 1 : 0,
      message.properties ? toJson(message.properties) : null,
      message.expiresAt ?? null,
      message.exactlyOnceKey ?? null,
    );
  }

  private readSlots(slots: readonly number[]): OutboundMessage[] {
    const messages: OutboundMessage[] = [];
    for (let i = 0; i < slots.length; i += MAX_BINDINGS) {
      const chunk = slots.slice(i, i + MAX_BINDINGS);
      const rows = this.sql.all<Row>(`SELECT * FROM outbound_slots WHERE slot IN (${chunk.map(() => '?').join(',')})`, ...chunk);
      messages.push(...rows.map(toOutbound));
    }
    return messages;
  }

  /**
   * Sessions stored by an earlier release kept outbound rows keyed by seq (table `outbound`): they move into
   * slots once, and the old table goes. Probing a missing table costs no row.
   */
  private migrateSeqTable(): void {
    let rows: Row[];
    try {
      rows = this.sql.all<Row>('SELECT * FROM outbound ORDER BY seq');
    } catch {
      return;
    }
    let slot = (this.sql.one<Row>('SELECT MAX(slot) AS s FROM outbound_slots')?.s as number | null) ?? -1;
    for (const row of rows) this.writeSlot(++slot, toOutbound(row));
    this.sql.run('DROP TABLE outbound');
  }
}

/** Sorted seqs as inclusive ranges: a queue of 100,000 is one pair. */
function toRanges(seqs: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = ranges[ranges.length - 1];
    if (last && seq === last[1] + 1) last[1] = seq;
    else ranges.push([seq, seq]);
  }
  return ranges;
}

/** Membership in sorted inclusive ranges. */
class LiveRanges {
  constructor(private readonly ranges: ReadonlyArray<readonly [number, number]>) {}

  has(seq: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [start, end] = this.ranges[mid]!;
      if (seq < start) hi = mid - 1;
      else if (seq > end) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

function toOutbound(row: Row): OutboundMessage {
  const message: OutboundMessage = {
    seq: row.seq as number,
    packetId: (row.packet_id as number | null) ?? null,
    state: row.state as OutboundState,
    topic: row.topic as string,
    payload: new Uint8Array(row.payload as ArrayBuffer),
    qos: row.qos as QoS,
    retain: row.retain === 1,
  };
  if (row.properties) message.properties = fromJson<Properties>(row.properties as string);
  if (row.expires_at !== null && row.expires_at !== undefined) message.expiresAt = row.expires_at as number;
  if (typeof row.exactly_once_key === 'string') message.exactlyOnceKey = row.exactly_once_key;
  return message;
}
