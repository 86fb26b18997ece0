// SQLite schema and queries of one MQTT session; everything unbounded lives here, not in memory. The session
// state machine (core/session) decides; this applies its `persist` ops and loads its state on wake.
import type { QoS, Will } from '../core/codec/packets.js';
import { assertNever } from '../core/codec/packets.js';
import type { StoreOp } from '../core/session/effects.js';
import { SessionQueue } from '../core/session/queue.js';
import { emptySession, type OutboundMessage, type ReplayPlan, type SessionRecord, type StoredSession } from '../core/session/state.js';
import type { SubscriptionOptions } from '../core/routing/subscription.js';
import type { ConnectionToken } from '../core/tenancy/token.js';
import { fromJson, toJson } from './json.js';
import type { CountedSql } from './invocation-counters.js';
import { OUTBOUND_SCHEMA, OutboundStore } from './outbound-store.js';

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
  -- unused since the token (with its maxQueued) is stored whole; kept for tables made before
  max_queued INTEGER,
  -- the token of the owning connection (id, ACL, limits) as JSON: not in the socket attachment, which is small
  token TEXT
);
CREATE TABLE IF NOT EXISTS subscriptions (
  filter TEXT PRIMARY KEY,
  qos INTEGER NOT NULL,
  options TEXT
);
CREATE TABLE IF NOT EXISTS inbound_qos2 (
  packet_id INTEGER PRIMARY KEY,
  -- NULL: routed everywhere (PUBREC may leave); otherwise stored before routing, the message's key
  route_key TEXT
);
CREATE TABLE IF NOT EXISTS inbound_aliases (
  alias INTEGER PRIMARY KEY,
  topic TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retained_replays (
  -- a connection's retained replay still to read (core/session/retained-replay.ts): so that a hibernation
  -- cuts it short no more. Not the socket attachment: its cursors hold topics of up to 64 KiB per shard.
  connection_id TEXT PRIMARY KEY,
  -- the pending plans in SUBSCRIBE order, as JSON: filter, granted QoS, subscription identifier, cursors
  plans TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

type Row = Record<string, SqlStorageValue>;

/** The largest retained replay row written: a 2 MB row less room for the key. */
const MAXIMUM_REPLAY_ROW = 1_900_000;

/**
 * Tables made by an earlier release get a newer column (SQLite has no ADD COLUMN IF NOT EXISTS). The probe
 * reads no row, so a new session object pays nothing for it: every new client id is a new object.
 */
function addColumnIfMissing(sql: CountedSql, table: string, column: string): void {
  try {
    sql.run(`SELECT ${column.split(' ')[0]} FROM ${table} LIMIT 0`);
  } catch {
    sql.run(`ALTER TABLE ${table} ADD COLUMN ${column}`);
  }
}

/** The session table alone: all a clean session's CONNECT writes (SessionStore.tables). */
const SESSION_TABLE = SCHEMA.slice(0, SCHEMA.indexOf('CREATE TABLE IF NOT EXISTS subscriptions'));
/** The ops that need no table but the session's: a clean start and the session row. */
const SESSION_ROW_OPS: ReadonlySet<StoreOp['op']> = new Set(['deleteAll', 'clearInboundAliases', 'writeSession']);

/** Whether the database has `table`; the probe reads no row (sqlite_master would read them all). */
function hasTable(sql: CountedSql, table: string): boolean {
  try {
    sql.run(`SELECT 1 FROM ${table} LIMIT 0`);
    return true;
  } catch (error) {
    if (/no such table/.test(String(error))) return false;
    throw error;
  }
}

/** Typed access to a session object's SQLite database. All calls are synchronous. */
export class SessionStore {
  /** Outbound QoS 1/2 messages: rows for a persistent session, memory for one that ends with its connection. */
  readonly outbound: OutboundStore;
  /**
   * The tables this database has. Every new client id is a new object, and a clean session's CONNECT writes
   * only its session row: the other tables (11 b-trees with their keys, their pages committed, and cached
   * while the object lives) are made by the first op that needs them. 'none': nothing was ever stored.
   */
  private tables: 'none' | 'session' | 'all' = 'none';

  constructor(private readonly sql: CountedSql) {
    // Its tables are made here (createTables) with the others.
    this.outbound = new OutboundStore(sql, false);
    if (!hasTable(sql, 'session')) return;
    // Earlier releases made every table at once: the session table alone is this one's, with every column.
    if (!hasTable(sql, 'subscriptions')) {
      this.tables = 'session';
      return;
    }
    this.createTables();
    addColumnIfMissing(sql, 'session', 'token TEXT');
    addColumnIfMissing(sql, 'inbound_qos2', 'route_key TEXT');
  }

  private createTables(): void {
    this.sql.run(SCHEMA + OUTBOUND_SCHEMA);
    this.tables = 'all';
  }

  /**
   * Applies `ops` if they need the session table at most (then returns true); otherwise creates every table
   * first, for apply(). A table that does not exist has no row to delete, and the outbound store holds
   * nothing before its first op.
   */
  private appliedWithoutTables(ops: readonly StoreOp[]): boolean {
    if (!ops.every((op) => SESSION_ROW_OPS.has(op.op))) {
      this.createTables();
      return false;
    }
    for (const op of ops) {
      if (op.op === 'writeSession') {
        if (this.tables === 'none') this.sql.run(SESSION_TABLE);
        this.tables = 'session';
        this.writeSession(op.record);
      } else if (op.op === 'deleteAll' && this.tables === 'session') {
        this.sql.run('DELETE FROM session');
      }
    }
    return true;
  }

  /** The session as stored, for the state machine (the queue's rows stay here: only their sizes are loaded). */
  load(): StoredSession {
    if (this.tables === 'none') return emptySession();
    const record = this.readSession();
    this.outbound.volatile = record !== undefined && record.sessionExpiryInterval === 0;
    if (!record) return emptySession();
    // The session row is all there is: nothing subscribed, stored, received or aliased.
    if (this.tables === 'session') return { ...emptySession(), record };
    const outbound = this.outbound.load();
    const inflight = new Map<number, OutboundMessage>();
    // The keys of the QoS 2 messages held, from the rows read anyway: a copy routed here again after a
    // publisher's crash is not stored twice.
    const exactlyOnceKeys = new Set<string>();
    let lastPacketId = 0;
    for (const message of outbound.inflight) {
      inflight.set(message.packetId!, message);
      lastPacketId = message.packetId!;
      if (message.exactlyOnceKey !== undefined) exactlyOnceKeys.add(message.exactlyOnceKey);
    }
    for (const { key } of outbound.queued) if (key !== null) exactlyOnceKeys.add(key);
    return {
      record,
      subscriptions: this.readSubscriptions(),
      inflight,
      queue: new SessionQueue(outbound.queued.map(({ size }) => size)),
      ...this.readInboundQos2(),
      exactlyOnceKeys,
      inboundAliases: this.readInboundAliases(),
      nextSeq: outbound.maxSeq + 1,
      lastPacketId,
    };
  }

  /** Applies the state machine's changes, in order. */
  apply(ops: readonly StoreOp[]): void {
    if (this.tables !== 'all' && this.appliedWithoutTables(ops)) return;
    for (const op of ops) {
      switch (op.op) {
        case 'writeSession':
          this.writeSession(op.record);
          break;
        case 'deleteAll':
          this.sql.run('DELETE FROM session; DELETE FROM subscriptions; DELETE FROM inbound_qos2; DELETE FROM inbound_aliases; DELETE FROM retained_replays;');
          this.outbound.clear();
          break;
        case 'putSubscription':
          this.putSubscription(op.filter, op.options);
          break;
        case 'deleteSubscription':
          this.sql.run('DELETE FROM subscriptions WHERE filter = ?', op.filter);
          break;
        case 'insertOutbound':
          this.outbound.insert(op.message);
          break;
        case 'markSent':
          this.outbound.markSent(op.seq, op.packetId);
          break;
        case 'markReleased':
          this.outbound.markReleased(op.seq);
          break;
        case 'deleteOutbound':
          this.outbound.complete(op.seq);
          break;
        case 'dropOldestQueued':
          this.outbound.dropOldestQueued(op.count);
          break;
        case 'addPendingQos2':
        case 'addInboundQos2':
          // route_key NULL: routed everywhere; a key: stored before routing.
          this.sql.run(
            'INSERT INTO inbound_qos2 (packet_id, route_key) VALUES (?, ?) ON CONFLICT (packet_id) DO UPDATE SET route_key = excluded.route_key',
            op.packetId,
            op.op === 'addPendingQos2' ? op.key : null,
          );
          break;
        case 'deleteInboundQos2':
          this.sql.run('DELETE FROM inbound_qos2 WHERE packet_id = ?', op.packetId);
          break;
        case 'putInboundAlias':
          this.sql.run('INSERT INTO inbound_aliases (alias, topic) VALUES (?, ?) ON CONFLICT (alias) DO UPDATE SET topic = excluded.topic', op.alias, op.topic);
          break;
        case 'clearInboundAliases':
          this.sql.run('DELETE FROM inbound_aliases');
          break;
        case 'saveReplay':
          this.saveReplay(op.connectionId, op.replay);
          break;
        case 'count':
          this.sql.run('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value', op.counter, op.n);
          break;
        default:
          assertNever(op);
      }
    }
    // The step's new outbound messages, as few rows as their batch allows.
    this.outbound.commit();
  }

  /** The oldest queued messages after `afterSeq`, to be sent now. */
  readQueued(limit: number, afterSeq: number): OutboundMessage[] {
    return this.outbound.readQueued(limit, afterSeq);
  }

  /**
   * The stored retained replays of the connections still open here (their ids), by connection id. The rows
   * of connections that are gone (lost in a reset without a close event) are deleted: nothing resumes them.
   */
  loadReplays(open: ReadonlySet<string>): Map<string, ReplayPlan[]> {
    const replays = new Map<string, ReplayPlan[]>();
    if (this.tables !== 'all') return replays;
    for (const row of this.sql.all<Row>('SELECT connection_id, plans FROM retained_replays')) {
      const connectionId = row.connection_id as string;
      if (open.has(connectionId)) replays.set(connectionId, JSON.parse(row.plans as string) as ReplayPlan[]);
      else this.sql.run('DELETE FROM retained_replays WHERE connection_id = ?', connectionId);
    }
    return replays;
  }

  private saveReplay(connectionId: string, plans: ReplayPlan[] | null): void {
    const json = plans === null ? null : JSON.stringify(plans);
    // A row holds at most 2 MB. Cursors that would not fit (topics of up to 64 KiB, per shard and filter)
    // stay in memory only: such a replay goes on while the object is awake, and a hibernation cuts it short.
    const bytes = json === null ? 0 : new TextEncoder().encode(json).length;
    if (json === null || bytes > MAXIMUM_REPLAY_ROW) {
      if (json !== null) console.warn('retained replay too large to store: kept in memory only', { connectionId, bytes });
      this.sql.run('DELETE FROM retained_replays WHERE connection_id = ?', connectionId);
      return;
    }
    this.sql.run('INSERT INTO retained_replays (connection_id, plans) VALUES (?, ?) ON CONFLICT (connection_id) DO UPDATE SET plans = excluded.plans', connectionId, json);
  }

  private readSession(): SessionRecord | undefined {
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
      token: row.token ? (JSON.parse(row.token as string) as ConnectionToken) : null,
    };
  }

  private writeSession(record: SessionRecord): void {
    // Messages for a session that ends with its connection stay in memory (outbound-store.ts).
    this.outbound.volatile = record.sessionExpiryInterval === 0;
    this.sql.run(
      `INSERT INTO session (id, tenant, client_id, protocol_version, session_expiry, connection_id, will, expires_at, will_at, token)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id,
         protocol_version = excluded.protocol_version, session_expiry = excluded.session_expiry,
         connection_id = excluded.connection_id, will = excluded.will, expires_at = excluded.expires_at,
         will_at = excluded.will_at, token = excluded.token`,
      record.tenant,
      record.clientId,
      record.protocolVersion,
      record.sessionExpiryInterval,
      record.connectionId,
      record.will ? toJson(record.will) : null,
      record.expiresAt,
      record.willAt,
      record.token ? JSON.stringify(record.token) : null,
    );
  }

  private readSubscriptions(): Map<string, SubscriptionOptions> {
    const map = new Map<string, SubscriptionOptions>();
    for (const row of this.sql.all<Row>('SELECT filter, qos, options FROM subscriptions')) {
      const options = row.options ? (JSON.parse(row.options as string) as Omit<SubscriptionOptions, 'qos'>) : {};
      map.set(row.filter as string, { ...options, qos: row.qos as QoS });
    }
    return map;
  }

  private putSubscription(filter: string, subscription: SubscriptionOptions): void {
    const { qos, ...options } = subscription;
    this.sql.run(
      'INSERT INTO subscriptions (filter, qos, options) VALUES (?, ?, ?) ON CONFLICT (filter) DO UPDATE SET qos = excluded.qos, options = excluded.options',
      filter,
      qos,
      Object.keys(options).length > 0 ? JSON.stringify(options) : null,
    );
  }

  /** QoS 2 ids routed (until PUBREL) and those stored before a routing that was never confirmed. */
  private readInboundQos2(): Pick<StoredSession, 'inboundQos2' | 'pendingQos2'> {
    const inboundQos2 = new Set<number>();
    const pendingQos2 = new Map<number, string>();
    for (const row of this.sql.all<Row>('SELECT packet_id, route_key FROM inbound_qos2')) {
      if (row.route_key === null) inboundQos2.add(row.packet_id as number);
      else pendingQos2.set(row.packet_id as number, row.route_key as string);
    }
    return { inboundQos2, pendingQos2 };
  }

  /** What this session counted (limits hit, messages dropped), for the operator: name → total. */
  readCounters(): Record<string, number> {
    if (this.tables !== 'all') return {};
    return Object.fromEntries(this.sql.all<Row>('SELECT name, value FROM counters').map((row) => [row.name as string, row.value as number]));
  }

  private readInboundAliases(): Map<number, string> {
    const aliases = new Map<number, string>();
    for (const row of this.sql.all<Row>('SELECT alias, topic FROM inbound_aliases')) aliases.set(row.alias as number, row.topic as string);
    return aliases;
  }
}
