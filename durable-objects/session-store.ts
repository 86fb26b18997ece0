// SQLite schema and queries of one MQTT session; everything unbounded lives here, not in memory.
import type { Properties, QoS, Will } from '../core/codec/packets.js';
import { fromJson, toJson } from './json.js';
import type { CountedSql } from './invocation-counters.js';

/** The session row: who the session belongs to and which connection currently owns it. */
export interface SessionRecord {
  tenant: string;
  clientId: string;
  protocolVersion: number;
  /** Seconds the session outlives its connection: 0 ends it with the connection, NEVER_EXPIRES keeps it. */
  sessionExpiryInterval: number;
  /** Id of the WebSocket that owns the session, null while offline. */
  connectionId: string | null;
  will: Will | null;
  /** While offline: when the session expires (ms since the epoch); null = never or online. */
  expiresAt: number | null;
  /** A delayed will waiting to be published at this time (5.0 Will Delay Interval); null = none. */
  willAt: number | null;
  /** The token's bound on queued messages (applies while offline); null = the deployment's. */
  maxQueued: number | null;
}

/** A subscription as the session keeps it (the shard keeps its own copy for matching). */
export interface StoredSubscription {
  qos: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  subscriptionIdentifier?: number;
}

/** An outbound QoS 1/2 message: queued (not yet sent), sent awaiting PUBACK/PUBREC, or awaiting PUBCOMP. */
export interface OutboundMessage {
  seq: number;
  packetId: number | null;
  state: OutboundState;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: Properties;
  /** Absolute expiry (5.0 Message Expiry Interval), ms since the epoch. */
  expiresAt?: number;
}

/** Queued (not yet sent), Published (awaiting PUBACK/PUBREC), Released (PUBREL sent, awaiting PUBCOMP). */
export const OutboundState = { Queued: 0, Published: 1, Released: 2 } as const;
export type OutboundState = (typeof OutboundState)[keyof typeof OutboundState];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tenant TEXT NOT NULL,
  client_id TEXT NOT NULL,
  protocol_version INTEGER NOT NULL,
  session_expiry INTEGER NOT NULL,
  connection_id TEXT,
  will TEXT,
  expires_at INTEGER,
  will_at INTEGER,
  max_queued INTEGER
);
CREATE TABLE IF NOT EXISTS subscriptions (
  filter TEXT PRIMARY KEY,
  qos INTEGER NOT NULL,
  options TEXT
);
CREATE TABLE IF NOT EXISTS outbound (
  -- Assigned by the session (monotonic while it is awake, from MAX(seq) + 1 on wake). Not AUTOINCREMENT:
  -- that writes sqlite_sequence on every insert (a billed row); not a bare rowid either: SQLite reuses the
  -- highest rowid once it is deleted, which would put a new row behind the drain cursor.
  seq INTEGER PRIMARY KEY,
  packet_id INTEGER,
  state INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS inbound_qos2 (
  packet_id INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS inbound_aliases (
  alias INTEGER PRIMARY KEY,
  topic TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

type Row = Record<string, SqlStorageValue>;

/** Typed access to a session object's SQLite database. All calls are synchronous. */
export class SessionStore {
  constructor(private readonly sql: CountedSql) {
    sql.run(SCHEMA);
  }

  readSession(): SessionRecord | undefined {
    const row = this.sql.one<Row>('SELECT * FROM session WHERE id = 1');
    if (!row) return undefined;
    return {
      tenant: row.tenant as string,
      clientId: row.client_id as string,
      protocolVersion: row.protocol_version as number,
      sessionExpiryInterval: row.session_expiry as number,
      connectionId: (row.connection_id as string | null) ?? null,
      will: row.will ? fromJson<Will>(row.will as string) : null,
      expiresAt: (row.expires_at as number | null) ?? null,
      willAt: (row.will_at as number | null) ?? null,
      maxQueued: (row.max_queued as number | null) ?? null,
    };
  }

  writeSession(record: SessionRecord): void {
    this.sql.run(
      `INSERT INTO session (id, tenant, client_id, protocol_version, session_expiry, connection_id, will, expires_at, will_at, max_queued)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id,
         protocol_version = excluded.protocol_version, session_expiry = excluded.session_expiry,
         connection_id = excluded.connection_id, will = excluded.will, expires_at = excluded.expires_at,
         will_at = excluded.will_at, max_queued = excluded.max_queued`,
      record.tenant,
      record.clientId,
      record.protocolVersion,
      record.sessionExpiryInterval,
      record.connectionId,
      record.will ? toJson(record.will) : null,
      record.expiresAt,
      record.willAt,
      record.maxQueued,
    );
  }

  /** Forget everything: a clean session ends with its connection [MQTT-3.1.2-6]. */
  deleteAll(): void {
    this.sql.run('DELETE FROM session; DELETE FROM subscriptions; DELETE FROM outbound; DELETE FROM inbound_qos2; DELETE FROM inbound_aliases;');
  }

  readSubscriptions(): Map<string, StoredSubscription> {
    const map = new Map<string, StoredSubscription>();
    for (const row of this.sql.all<Row>('SELECT filter, qos, options FROM subscriptions')) {
      const options = row.options ? (JSON.parse(row.options as string) as Omit<StoredSubscription, 'qos'>) : {};
      map.set(row.filter as string, { ...options, qos: row.qos as QoS });
    }
    return map;
  }

  putSubscription(filter: string, subscription: StoredSubscription): void {
    const { qos, ...options } = subscription;
    this.sql.run(
      'INSERT INTO subscriptions (filter, qos, options) VALUES (?, ?, ?) ON CONFLICT (filter) DO UPDATE SET qos = excluded.qos, options = excluded.options',
      filter,
      qos,
      Object.keys(options).length > 0 ? JSON.stringify(options) : null,
    );
  }

  deleteSubscription(filter: string): void {
    this.sql.run('DELETE FROM subscriptions WHERE filter = ?', filter);
  }

  /** Messages sent and not yet completed, in the order they were first sent. */
  readInflight(): OutboundMessage[] {
    return this.sql.all<Row>('SELECT * FROM outbound WHERE state > 0 ORDER BY seq').map(toOutbound);
  }

  countQueued(): number {
    return (this.sql.one<Row>('SELECT COUNT(*) AS n FROM outbound WHERE state = 0')?.n as number) ?? 0;
  }

  /**
   * The oldest queued messages after `afterSeq`, to be sent now. Queued rows only ever get larger rowids than
   * the ones drained before them, so seeking past the last drained one skips the inflight rows instead of
   * reading them each time (an index on state would cost billed row writes on every insert instead).
   */
  readQueued(limit: number, afterSeq = 0): OutboundMessage[] {
    return this.sql.all<Row>('SELECT * FROM outbound WHERE seq > ? AND state = 0 ORDER BY seq LIMIT ?', afterSeq, limit).map(toOutbound);
  }

  /** The highest sequence number stored (0 when none): new rows continue after it. */
  maxSeq(): number {
    return (this.sql.one<Row>('SELECT MAX(seq) AS s FROM outbound')?.s as number | null) ?? 0;
  }

  /** Store an outbound message under the given sequence number. */
  insertOutbound(seq: number, message: Omit<OutboundMessage, 'seq'>): void {
    this.sql.run(
        'INSERT INTO outbound (seq, packet_id, state, topic, payload, qos, retain, properties, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        seq,
        message.packetId,
        message.state,
        message.topic,
        message.payload,
        message.qos,
        message.retain ? 1 : 0,
        message.properties ? toJson(message.properties) : null,
        message.expiresAt ?? null,
      );
  }

  markSent(seq: number, packetId: number): void {
    this.sql.run('UPDATE outbound SET state = 1, packet_id = ? WHERE seq = ?', packetId, seq);
  }

  markReleased(seq: number): void {
    this.sql.run('UPDATE outbound SET state = 2 WHERE seq = ?', seq);
  }

  deleteOutbound(seq: number): void {
    this.sql.run('DELETE FROM outbound WHERE seq = ?', seq);
  }

  /** Drop the `count` oldest queued messages (the queue's bound). */
  dropOldestQueued(count: number): void {
    this.sql.run('DELETE FROM outbound WHERE seq IN (SELECT seq FROM outbound WHERE state = 0 ORDER BY seq LIMIT ?)', count);
  }

  readInboundQos2(): Set<number> {
    const ids = new Set<number>();
    for (const row of this.sql.all<Row>('SELECT packet_id FROM inbound_qos2')) ids.add(row.packet_id as number);
    return ids;
  }

  addInboundQos2(packetId: number): void {
    this.sql.run('INSERT OR IGNORE INTO inbound_qos2 (packet_id) VALUES (?)', packetId);
  }

  deleteInboundQos2(packetId: number): void {
    this.sql.run('DELETE FROM inbound_qos2 WHERE packet_id = ?', packetId);
  }

  readInboundAliases(): Map<number, string> {
    const aliases = new Map<number, string>();
    for (const row of this.sql.all<Row>('SELECT alias, topic FROM inbound_aliases')) aliases.set(row.alias as number, row.topic as string);
    return aliases;
  }

  putInboundAlias(alias: number, topic: string): void {
    this.sql.run('INSERT INTO inbound_aliases (alias, topic) VALUES (?, ?) ON CONFLICT (alias) DO UPDATE SET topic = excluded.topic', alias, topic);
  }

  /** Topic aliases live as long as their connection [MQTT-3.3.2-7 v5]. */
  clearInboundAliases(): void {
    this.sql.run('DELETE FROM inbound_aliases');
  }

  addCounter(name: string, delta: number): void {
    this.sql.run('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value', name, delta);
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
  return message;
}
