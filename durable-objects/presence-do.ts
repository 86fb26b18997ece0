// PresenceDO: one bucket of a tenant's session presence (core/tenancy/presence.ts): which of its client ids
// have a session, connected or kept offline, with which token. It answers the sessions API a page at a time,
// counts for statistics, carries a token change to its sessions in bounded batches, and admits new sessions
// against the tenant's maxSessions from slots leased from the tenant object. A report also carries what the
// sessions page shows without waking the session (protocol version, keepalive, expiry): same row, no extra write.
import { bucketHasRoom, leaseChunk } from '../core/tenancy/presence.js';
import { ConnectReservations } from '../core/tenancy/reservations.js';
import type { PresenceDetails, PresenceState } from '../core/session/effects.js';
import type { TokenUpdate } from '../core/session/token-change.js';
import { sessionName, sessionStub, tenantStub } from './addresses.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tenant TEXT NOT NULL, bucket INTEGER NOT NULL, leased INTEGER NOT NULL DEFAULT 0, tight INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, connected INTEGER NOT NULL, connected_at INTEGER NOT NULL, token_id TEXT,
  protocol_version INTEGER, keep_alive INTEGER, expiry_interval INTEGER, expires_at INTEGER);
CREATE INDEX IF NOT EXISTS sessions_by_token ON sessions (token_id);
CREATE TABLE IF NOT EXISTS notifications (token_id TEXT PRIMARY KEY, token TEXT, after TEXT NOT NULL);`;
const RESERVATION_TTL_MS = 30_000;
/** Sessions told of a token change at once, and per invocation (the rest continue from the alarm). */
const NOTIFY_CONCURRENCY = 50;
const NOTIFY_PER_INVOCATION = 1000;

export interface PresenceEntry {
  clientId: string;
  connected: boolean;
  connectedAt: number;
  tokenId: string | null;
  /** 4 (3.1.1) or 5; null for a session reported before presence carried it. */
  protocolVersion: number | null;
  /** Seconds the Worker enforces (0 = none); null when unknown. */
  keepAlive: number | null;
  /** Session Expiry Interval, seconds (0xFFFFFFFF = never; 3.1.1 clean session 0, persistent never). */
  sessionExpiryInterval: number | null;
  /** An offline session's end, ms since the epoch; null while connected, for never, or unknown. */
  expiresAt: number | null;
}

/** What a session reports of itself beyond its state (durable-objects/presence-report.ts). */
type Row = Record<string, SqlStorageValue>;

export class PresenceDO extends CountedObject {
  private readonly reservations = new ConnectReservations(RESERVATION_TTL_MS);
  /** The bucket row is written (remember): once per instance, not once per report. */
  private remembered = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
    this.migrate();
  }

  /** Adds the columns of PresenceDetails to a sessions table created before them. */
  private migrate(): void {
    try {
      this.sql.run('SELECT protocol_version FROM sessions LIMIT 0');
    } catch {
      for (const column of ['protocol_version', 'keep_alive', 'expiry_interval', 'expires_at']) this.sql.run(`ALTER TABLE sessions ADD COLUMN ${column} INTEGER`);
    }
  }

  /**
   * A session reports its state: connected, offline (kept for its client) or ended, with its details.
   * Answers whether the client id was listed before (an ended report of an unlisted one changes nothing).
   */
  async report(tenant: string, bucket: number, clientId: string, state: PresenceState, tokenId?: string, details: PresenceDetails = {}): Promise<boolean> {
    this.invocations.rpc++;
    this.remember(tenant, bucket);
    this.reservations.release(clientId);
    const listed = this.isKnown(clientId);
    if (state === 'ended') {
      if (listed) this.sql.run('DELETE FROM sessions WHERE client_id = ?', clientId);
      // The tenant is at its session limit: the freed slot goes back at once, so another bucket can use it.
      if (this.isTight()) await this.giveBackSpare(tenant, bucket);
      return listed;
    }
    // Details a report leaves out keep their stored value; expiresAt is always stated (null while connected).
    this.sql.run(
      `INSERT INTO sessions (client_id, connected, connected_at, token_id, protocol_version, keep_alive, expiry_interval, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET connected = excluded.connected,
         connected_at = CASE WHEN excluded.connected = 1 THEN excluded.connected_at ELSE sessions.connected_at END,
         token_id = COALESCE(excluded.token_id, sessions.token_id),
         protocol_version = COALESCE(excluded.protocol_version, sessions.protocol_version),
         keep_alive = COALESCE(excluded.keep_alive, sessions.keep_alive),
         expiry_interval = COALESCE(excluded.expiry_interval, sessions.expiry_interval),
         expires_at = excluded.expires_at`,
      clientId,
      state === 'connected' ? 1 : 0,
      Date.now(),
      tokenId ?? null,
      details.protocolVersion ?? null,
      details.keepAlive ?? null,
      details.sessionExpiryInterval ?? null,
      state === 'connected' ? null : (details.expiresAt ?? null),
    );
    return listed;
  }

  /**
   * A CONNECT of a tenant with maxSessions: a client id with a session here is no new session; a new one
   * takes a slot of this bucket's lease, asking the tenant object for more when none is left. Admitted, the
   * slot is reserved until the session reports (or 30 s pass).
   */
  async admitSession(tenant: string, bucket: number, buckets: number, clientId: string, maxSessions: number): Promise<boolean> {
    this.invocations.rpc++;
    this.remember(tenant, bucket);
    if (this.isKnown(clientId)) return true;
    const now = Date.now();
    const room = () => bucketHasRoom(this.leased(), this.stored(), this.pendingNew(now, clientId));
    if (!room()) {
      // The slots this CONNECT lacks, and a chunk more so that the next new sessions need no call.
      const lacking = Math.max(1, this.stored() + this.pendingNew(now, clientId) + 1 - this.leased());
      const lease = await tenantStub(this.env, tenant).leaseSessions(tenant, bucket, lacking + leaseChunk(maxSessions, buckets) - 1);
      this.sql.run('UPDATE bucket SET leased = leased + ? WHERE id = 1', lease.granted);
      this.setTight(lease.tight);
      if (!room()) {
        return false;
      }
    }
    this.reservations.reserve(clientId, null, now);
    return true;
  }

  /**
   * The tenant ran out of slots: give back the ones this bucket holds unused, and from now on every slot a
   * session frees, until a lease finds the tenant with room again.
   */
  async returnSpare(): Promise<number> {
    this.invocations.rpc++;
    this.setTight(true);
    return this.takeSpare();
  }

  private takeSpare(): number {
    const spare = Math.max(0, this.leased() - this.stored() - this.pendingNew(Date.now()));
    if (spare > 0) this.sql.run('UPDATE bucket SET leased = leased - ? WHERE id = 1', spare);
    return spare;
  }

  private async giveBackSpare(tenant: string, bucket: number): Promise<void> {
    const spare = this.takeSpare();
    if (spare === 0) return;
    try {
      await tenantStub(this.env, tenant).returnSessions(bucket, spare);
    } catch (error) {
      // Not returned: this bucket keeps them (the tenant's next reclaim asks again).
      this.sql.run('UPDATE bucket SET leased = leased + ? WHERE id = 1', spare);
      console.error('session slots not returned', String(error));
    }
  }

  private isTight(): boolean {
    return this.sql.one<Row>('SELECT tight FROM bucket WHERE id = 1')?.tight === 1;
  }

  private setTight(tight: boolean): void {
    this.sql.run('UPDATE bucket SET tight = ? WHERE id = 1', tight ? 1 : 0);
  }

  /**
   * Sessions after `after` (client id order), at most `limit`: a page of the sessions API, no session woken.
   * With `search`, only client ids containing it (case-sensitive, as client ids are): the scan reads this
   * bucket's rows past `after` until the page is full, and rows read are the cheap ones.
   */
  async page(after: string, limit: number, search = ''): Promise<PresenceEntry[]> {
    this.invocations.rpc++;
    if (search === '') return this.sql.all<Row>('SELECT * FROM sessions WHERE client_id > ? ORDER BY client_id LIMIT ?', after, limit).map(entryOf);
    return this.sql.all<Row>('SELECT * FROM sessions WHERE client_id > ? AND instr(client_id, ?) > 0 ORDER BY client_id LIMIT ?', after, search, limit).map(entryOf);
  }

  /** This bucket's share of the tenant's statistics. */
  async counts(): Promise<{ sessions: number; connected: number }> {
    this.invocations.rpc++;
    const row = this.sql.one<Row>('SELECT COUNT(*) AS n, COALESCE(SUM(connected), 0) AS c FROM sessions');
    return { sessions: (row?.n as number) ?? 0, connected: (row?.c as number) ?? 0 };
  }

  /**
   * A token changed or was removed (null): every session of it here hears of it, NOTIFY_CONCURRENCY at a
   * time and at most NOTIFY_PER_INVOCATION per invocation; the rest continue from the alarm, from a cursor
   * kept in SQLite, so a fleet-wide change never becomes one unbounded burst.
   */
  async notifyToken(tenant: string, bucket: number, tokenId: string, token: TokenUpdate | null): Promise<void> {
    this.invocations.rpc++;
    this.remember(tenant, bucket);
    this.sql.run(
      'INSERT INTO notifications (token_id, token, after) VALUES (?, ?, ?) ON CONFLICT (token_id) DO UPDATE SET token = excluded.token, after = excluded.after',
      tokenId,
      JSON.stringify(token),
      '',
    );
    await this.notifyRound();
  }

  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    await this.notifyRound();
  }

  private async notifyRound(): Promise<void> {
    const tenant = this.sql.one<Row>('SELECT tenant FROM bucket WHERE id = 1')?.tenant as string | undefined;
    if (!tenant) return;
    let budget = NOTIFY_PER_INVOCATION;
    for (const job of this.sql.all<Row>('SELECT token_id, token, after FROM notifications')) {
      const tokenId = job.token_id as string;
      const token = JSON.parse(job.token as string) as TokenUpdate | null;
      let after = job.after as string;
      while (budget > 0) {
        const batch = this.sql
          .all<Row>('SELECT client_id FROM sessions WHERE token_id = ? AND client_id > ? ORDER BY client_id LIMIT ?', tokenId, after, Math.min(NOTIFY_CONCURRENCY, budget))
          .map((row) => row.client_id as string);
        if (batch.length === 0) break;
        await Promise.all(
          batch.map(async (clientId) => {
            try {
              await sessionStub(this.env, sessionName(tenant, clientId)).tokenChanged(tokenId, token);
            } catch (error) {
              console.error('token change notification failed', { tenant, clientId, error: String(error) });
            }
          }),
        );
        budget -= batch.length;
        after = batch[batch.length - 1]!;
        this.sql.run('UPDATE notifications SET after = ? WHERE token_id = ?', after, tokenId);
      }
      if (budget <= 0) break;
      // A newer change of the same token may have replaced this job while it ran: only a finished one goes.
      this.sql.run('DELETE FROM notifications WHERE token_id = ? AND after = ?', tokenId, after);
    }
    const left = this.sql.one<Row>('SELECT 1 AS y FROM notifications LIMIT 1');
    if (left) await this.ctx.storage.setAlarm(Date.now());
  }

  private remember(tenant: string, bucket: number): void {
    if (this.remembered) return;
    this.sql.run('INSERT OR IGNORE INTO bucket (id, tenant, bucket, leased) VALUES (1, ?, ?, 0)', tenant, bucket);
    this.remembered = true;
  }

  private leased(): number {
    return (this.sql.one<Row>('SELECT leased FROM bucket WHERE id = 1')?.leased as number | undefined) ?? 0;
  }

  private stored(): number {
    return (this.sql.one<Row>('SELECT COUNT(*) AS n FROM sessions')?.n as number) ?? 0;
  }

  /** Admitted CONNECTs of client ids without a session here yet (other than `except`). */
  private pendingNew(now: number, except?: string): number {
    return this.reservations.held(now, except).filter((r) => !this.isKnown(r.clientId)).length;
  }

  private isKnown(clientId: string): boolean {
    return this.sql.one<Row>('SELECT 1 AS y FROM sessions WHERE client_id = ?', clientId) !== undefined;
  }
}

function entryOf(row: Row): PresenceEntry {
  return {
    clientId: row.client_id as string,
    connected: row.connected === 1,
    connectedAt: row.connected_at as number,
    tokenId: (row.token_id as string | null) ?? null,
    protocolVersion: (row.protocol_version as number | null) ?? null,
    keepAlive: (row.keep_alive as number | null) ?? null,
    sessionExpiryInterval: (row.expiry_interval as number | null) ?? null,
    expiresAt: (row.expires_at as number | null) ?? null,
  };
}
