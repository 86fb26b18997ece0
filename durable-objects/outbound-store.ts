// Where a session's outbound QoS 1/2 messages live, and what each costs in rows [DESIGN §4]:
//
//   session that ends with its connection (3.1.1 clean session, 5.0 Session Expiry 0)
//       memory only: 0 rows. It cannot outlive the connection, and the connection cannot outlive this object
//       (a reset drops the sockets), so a row would protect nothing. While any such message is held the
//       adapter keeps the object awake (no hibernation would keep them; see `heldInMemory`).
//   persistent session
//       one row per deliver batch, written once (`commit`, at the end of the step): the batch's QoS 1
//       messages together (up to BATCH_ROW_BYTES), each QoS 2 message alone. A row goes into a free slot (an
//       upsert). Completion writes no row: when a row's last message completes its slot is free, and the
//       next batch overwrites it. Which messages are live is written as one `mark` row once the session is
//       quiet or offline (`flushMark`, the adapter decides when), so a hibernation or restart wakes to
//       exactly the live messages. Only a crash between an acknowledgement and the mark can wake to a
//       message already completed: QoS 1 is then resent (at least once allows it), QoS 2 is resent as PUBREL
//       (its PUBREC state is written at once, `markReleased`), never as a second PUBLISH.
//
//   batch row:  slot (primary key) · meta (JSON: seq, state, packet id, topic, … per message) · payloads
//   mark row:   up_to (messages with seq ≥ it are live) · live (ranges of live seqs below it) · sent_below
//
// Why slots and not seq as the key: rows written is what costs, and DELETE bills each row like an INSERT.
// A slot overwritten by the next batch is one row for the pair. Why no index on seq: an index bills a second
// row per write; the queue's order and each message's slot are in memory here instead (~100 B each).
import type { Properties, QoS } from '../core/codec/packets.js';
import { OutboundState, type OutboundMessage } from '../core/session/state.js';
import { concatBytes } from '../core/codec/bytes.js';
import { fromJson, toJson } from './json.js';
import type { CountedSql } from './invocation-counters.js';

export const OUTBOUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbound_rows (
  slot INTEGER PRIMARY KEY,
  -- the messages of one batch as JSON, in seq order: seq, state (0 queued, 1 published, 2 released; a QoS 1
  -- message drained from the queue stays 0: the mark's sent_below says it went out), packet id, topic, QoS,
  -- retain, properties, expiry, exactly-once key, payload length
  meta TEXT NOT NULL,
  -- their payloads, concatenated in meta's order
  payloads BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  up_to INTEGER NOT NULL,
  live TEXT NOT NULL,
  sent_below INTEGER NOT NULL
);
`;

/** Payload and topic bytes of QoS 1 messages one batch row holds: well under a row's 2 MB. */
const BATCH_ROW_BYTES = 1_000_000;

/** Bound parameters per statement: Durable Object SQLite allows 100. */
const MAX_BINDINGS = 100;

type Row = Record<string, SqlStorageValue>;

/**
 * One outbound message: the row holding it (`slot`), or the message itself while it has none: memory only
 * (`volatile`), or written at the end of the step (`commit`).
 */
interface Entry {
  seq: number;
  qos: QoS;
  state: OutboundState;
  slot: number | undefined;
  message: OutboundMessage | undefined;
  volatile: boolean;
}

/** One message in a batch row's meta. */
interface StoredMeta {
  s: number;
  st: OutboundState;
  p: number | null;
  t: string;
  q: QoS;
  r: 0 | 1;
  /** properties, binary-safe JSON (json.ts) */
  pr?: string;
  e?: number;
  k?: string;
  /** payload bytes */
  n: number;
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
  /** Durable messages not yet in a row: written together by `commit` at the end of the step. */
  private pending: Entry[] = [];
  /** Live messages per slot: a slot is free when its count reaches 0. */
  private readonly slotLive = new Map<number, number>();
  private freeSlots: number[] = [];
  private nextSlot = 0;
  /** Every seq below this that is live was sent (drains go in seq order, direct sends only on an empty queue). */
  private sentBelow = 0;
  private highestSeq = 0;
  private memoryEntries = 0;
  private dirty = false;

  /** `createTables` false: the caller makes OUTBOUND_SCHEMA's tables before the first op that needs them. */
  constructor(
    private readonly sql: CountedSql,
    createTables = true,
  ) {
    if (createTables) sql.run(OUTBOUND_SCHEMA);
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
    // Only a stored session can have rows of an earlier release: a new object skips the probe (a failing
    // statement, measurable in a connect storm).
    this.migrateSeqTable();
    const mark = this.sql.one<Row>('SELECT up_to, live, sent_below FROM outbound_mark WHERE id = 1');
    const upTo = (mark?.up_to as number | undefined) ?? 0;
    const live = new LiveRanges(mark ? (JSON.parse(mark.live as string) as Array<[number, number]>) : []);
    this.sentBelow = (mark?.sent_below as number | undefined) ?? 0;
    this.highestSeq = Math.max(0, upTo - 1);
    const found: Array<{ slot: number; meta: StoredMeta }> = [];
    for (const row of this.sql.all<Row>('SELECT slot, meta FROM outbound_rows')) {
      const slot = row.slot as number;
      this.nextSlot = Math.max(this.nextSlot, slot + 1);
      let count = 0;
      for (const meta of JSON.parse(row.meta as string) as StoredMeta[]) {
        this.highestSeq = Math.max(this.highestSeq, meta.s);
        if (meta.s < upTo && !live.has(meta.s)) continue;
        found.push({ slot, meta });
        count++;
      }
      if (count > 0) this.slotLive.set(slot, count);
      else this.freeSlots.push(slot);
    }
    found.sort((x, y) => x.meta.s - y.meta.s);
    const inflight: OutboundMessage[] = [];
    const queued: LoadedOutbound['queued'] = [];
    const sentMetas: Array<{ slot: number; meta: StoredMeta; state: OutboundState }> = [];
    for (const { slot, meta } of found) {
      // A QoS 1 message drained from the queue kept state 0 in its row: the mark says it went out.
      const state = meta.st > 0 ? meta.st : meta.s < this.sentBelow ? OutboundState.Published : OutboundState.Queued;
      const entry: Entry = { seq: meta.s, qos: meta.q, state, slot, message: undefined, volatile: false };
      if (state === OutboundState.Queued) {
        this.queued.push(entry);
        queued.push({ size: meta.n, key: meta.k ?? null });
      } else {
        this.sent.set(meta.s, entry);
        sentMetas.push({ slot, meta, state });
      }
    }
    const sentMessages = this.readMessages(sentMetas.map(({ slot }) => slot));
    for (const { meta, state } of sentMetas) {
      const message = sentMessages.get(meta.s);
      if (message) inflight.push({ ...message, state });
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
    const entry: Entry = { seq: message.seq, qos: message.qos, state: message.state, slot: undefined, message: { ...message }, volatile: this.volatile };
    if (this.volatile) this.memoryEntries++;
    else this.pending.push(entry);
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
      this.rewriteAlone(entry, { st: OutboundState.Published, p: packetId });
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
    else this.rewriteAlone(entry, { st: OutboundState.Released });
  }

  /** Completed, expired or refused: no row written (its slot is free once its row holds no live message). */
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
    this.sql.run('DELETE FROM outbound_rows; DELETE FROM outbound_mark;');
    this.reset();
  }

  /**
   * Writes the step's new durable messages: its QoS 1 messages in as few rows as BATCH_ROW_BYTES allows,
   * each QoS 2 message alone (its state changes rewrite its row). One row write per row.
   */
  commit(): void {
    if (this.pending.length === 0) return;
    const batches: Entry[][] = [];
    let batch: Entry[] = [];
    let bytes = 0;
    for (const entry of this.pending) {
      if (entry.message === undefined) continue; // completed or dropped within the step: never written
      if (entry.qos === 2) {
        batches.push([entry]);
        continue;
      }
      const size = entry.message.payload.length + entry.message.topic.length;
      if (batch.length > 0 && bytes + size > BATCH_ROW_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
    this.pending = [];
    for (const entries of batches) {
      const slot = this.freeSlots.pop() ?? this.nextSlot++;
      this.writeRow(slot, entries.map((entry) => entry.message!));
      this.slotLive.set(slot, entries.length);
      for (const entry of entries) {
        entry.slot = slot;
        entry.message = undefined;
      }
    }
  }

  /** The oldest queued messages after `afterSeq`, to be sent now. */
  readQueued(limit: number, afterSeq: number): OutboundMessage[] {
    const picked: Entry[] = [];
    for (const entry of this.queued) {
      if (picked.length >= limit) break;
      if (entry.seq > afterSeq) picked.push(entry);
    }
    const fromRows = this.readMessages(picked.filter((entry) => entry.message === undefined).map((entry) => entry.slot!));
    return picked
      .map((entry) => entry.message ?? fromRows.get(entry.seq))
      .filter((message): message is OutboundMessage => message !== undefined)
      .map((message) => ({ ...message, state: OutboundState.Queued, packetId: null }));
  }

  /** Writes which messages are live: one row, once the session is quiet (the adapter decides when). */
  flushMark(): void {
    if (!this.dirty) return;
    const seqs: number[] = [];
    for (const entry of this.sent.values()) if (!entry.volatile) seqs.push(entry.seq);
    for (const entry of this.queued) if (!entry.volatile) seqs.push(entry.seq);
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
    if (entry.volatile) {
      this.memoryEntries--;
      return;
    }
    if (entry.slot === undefined) {
      entry.message = undefined; // still pending: commit skips it
      return;
    }
    const left = (this.slotLive.get(entry.slot) ?? 1) - 1;
    if (left > 0) this.slotLive.set(entry.slot, left);
    else {
      this.slotLive.delete(entry.slot);
      this.freeSlots.push(entry.slot);
    }
    this.dirty = true;
  }

  private reset(): void {
    this.queued.clear();
    this.sent.clear();
    this.pending = [];
    this.slotLive.clear();
    this.freeSlots = [];
    this.nextSlot = 0;
    this.sentBelow = 0;
    this.highestSeq = 0;
    this.memoryEntries = 0;
    this.dirty = false;
  }

  private writeRow(slot: number, messages: readonly OutboundMessage[]): void {
    const meta: StoredMeta[] = messages.map((message) => ({
      s: message.seq,
      st: message.state,
      p: message.packetId,
      t: message.topic,
      q: message.qos,
      r: message.retain ? 1 : 0,
      ...(message.properties ? { pr: toJson(message.properties) } : {}),
      ...(message.expiresAt !== undefined ? { e: message.expiresAt } : {}),
      ...(message.exactlyOnceKey !== undefined ? { k: message.exactlyOnceKey } : {}),
      n: message.payload.length,
    }));
    this.sql.run(
      'INSERT INTO outbound_rows (slot, meta, payloads) VALUES (?, ?, ?) ON CONFLICT (slot) DO UPDATE SET meta = excluded.meta, payloads = excluded.payloads',
      slot,
      JSON.stringify(meta),
      concatBytes(messages.map((message) => message.payload)),
    );
  }

  /** A QoS 2 message's row (it is alone in it) with its state changed. */
  private rewriteAlone(entry: Entry, change: Pick<StoredMeta, 'st'> & Partial<Pick<StoredMeta, 'p'>>): void {
    const row = this.sql.one<Row>('SELECT meta FROM outbound_rows WHERE slot = ?', entry.slot!);
    if (!row) return;
    const meta = (JSON.parse(row.meta as string) as StoredMeta[]).map((m) => (m.s === entry.seq ? { ...m, ...change } : m));
    this.sql.run('UPDATE outbound_rows SET meta = ? WHERE slot = ?', JSON.stringify(meta), entry.slot!);
  }

  /** The messages of these slots' rows, by seq (each row read once). */
  private readMessages(slots: readonly number[]): Map<number, OutboundMessage> {
    const messages = new Map<number, OutboundMessage>();
    const unique = [...new Set(slots)];
    for (let i = 0; i < unique.length; i += MAX_BINDINGS) {
      const chunk = unique.slice(i, i + MAX_BINDINGS);
      const rows = this.sql.all<Row>(`SELECT meta, payloads FROM outbound_rows WHERE slot IN (${chunk.map(() => '?').join(',')})`, ...chunk);
      for (const row of rows) for (const message of decodeRow(row)) messages.set(message.seq, message);
    }
    return messages;
  }

  /**
   * Sessions stored by an earlier release kept outbound rows keyed by seq (table `outbound`): each moves into
   * a row of its own once, and the old table goes. Probing a missing table costs no row.
   */
  private migrateSeqTable(): void {
    let rows: Row[];
    try {
      rows = this.sql.all<Row>('SELECT * FROM outbound ORDER BY seq');
    } catch {
      return;
    }
    let slot = (this.sql.one<Row>('SELECT MAX(slot) AS s FROM outbound_rows')?.s as number | null) ?? -1;
    for (const row of rows) this.writeRow(++slot, [fromSeqRow(row)]);
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

/** The messages of one batch row. */
function decodeRow(row: Row): OutboundMessage[] {
  const payloads = new Uint8Array(row.payloads as ArrayBuffer);
  let offset = 0;
  return (JSON.parse(row.meta as string) as StoredMeta[]).map((meta) => {
    const message: OutboundMessage = {
      seq: meta.s,
      packetId: meta.p,
      state: meta.st,
      topic: meta.t,
      payload: payloads.slice(offset, offset + meta.n),
      qos: meta.q,
      retain: meta.r === 1,
    };
    offset += meta.n;
    if (meta.pr !== undefined) message.properties = fromJson<Properties>(meta.pr);
    if (meta.e !== undefined) message.expiresAt = meta.e;
    if (meta.k !== undefined) message.exactlyOnceKey = meta.k;
    return message;
  });
}

/** A row of the earlier `outbound` table (one message, keyed by seq). */
function fromSeqRow(row: Row): OutboundMessage {
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
