// TokenDO: one token's own object. A CONNECT with the token is checked against it (through the Worker's
// isolate cache, worker/token-cache.ts), so a tenant's CONNECTs meet no shared object; a token with
// maxConnections also counts its live connections here, exactly, with the reservations the tenant object
// used to hold (core/tenancy/reservations.ts). The tenant object stays the token's owner: it writes every
// change through to here (store) before answering the API. It also keeps when the token was last used (a
// CONNECT or an API call it authenticated), written at most once a minute (USE_RESOLUTION_MS).
import { ConnectReservations } from '../core/tenancy/reservations.js';
import { USE_RESOLUTION_MS } from '../core/tenancy/token.js';
import { sessionName, sessionStub, tenantStub } from './addresses.js';
import { CountedObject } from './counted-object.js';
import type { Env } from './env.js';
import type { TokenInfo } from './token-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS token (id INTEGER PRIMARY KEY CHECK (id = 1), tenant TEXT NOT NULL, token_id TEXT NOT NULL, record TEXT);
CREATE TABLE IF NOT EXISTS connections (client_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);`;
/** How long an admitted CONNECT holds its slot without its session reporting: longer than the CONNECT timeout. */
const RESERVATION_TTL_MS = 30_000;
/** A counted connection older than this is asked whether it is still there before the limit refuses. */
const VERIFY_AFTER_MS = 30_000;


/** What a CONNECT needs of a token; null: no such token (never created, or deleted). */
export type TokenRecord = { secretHash: string; info: TokenInfo } | null;

type Row = Record<string, SqlStorageValue>;

export class TokenDO extends CountedObject {
  private readonly reservations = new ConnectReservations(RESERVATION_TTL_MS);
  /** The stored record, read once per wake; undefined = not read yet. */
  private cached: { record: TokenRecord } | undefined;
  /** When the token was last used as stored, read once per wake; undefined = not read yet. */
  private usedAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
  }

  /** The tenant object wrote the token (null: deleted). */
  async store(tenant: string, tokenId: string, record: TokenRecord): Promise<void> {
    this.invocations.rpc++;
    this.sql.run(
      'INSERT INTO token (id, tenant, token_id, record) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record',
      tenant,
      tokenId,
      JSON.stringify(record),
    );
    this.cached = { record };
    if (record === null) {
      this.sql.run('DELETE FROM connections');
      this.sql.run('DELETE FROM used');
      this.usedAt = null;
    }
  }

  /** The token authenticated a CONNECT or an API call: stored when the last stored use is a minute old. */
  async touch(at: number): Promise<void> {
    this.invocations.rpc++;
    const last = this.lastUse();
    if (last !== null && at - last < USE_RESOLUTION_MS) return;
    this.sql.run('INSERT INTO used (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = MAX(at, excluded.at)', at);
    this.usedAt = Math.max(at, last ?? 0);
  }

  /** When the token was last used (to the minute), ms since the epoch; null = never since it was recorded. */
  async lastUsed(): Promise<number | null> {
    this.invocations.rpc++;
    return this.lastUse();
  }

  /**
   * The token as a CONNECT checks it. A token created before this object existed is copied from the
   * tenant object on first use (its later changes are written through).
   */
  async lookup(tenant: string, tokenId: string): Promise<TokenRecord> {
    this.invocations.rpc++;
    return this.record(tenant, tokenId);
  }

  /**
   * Admits one more connection of a token with maxConnections: live connections other than this client
   * id's own (a take-over replaces it) plus CONNECTs admitted and not yet reported must stay below the limit.
   * At the limit, connections counted long ago are verified with their sessions first, so a lost report
   * cannot lock a device out.
   */
  async admitConnection(tenant: string, tokenId: string, clientId: string): Promise<boolean> {
    this.invocations.rpc++;
    const record = await this.record(tenant, tokenId);
    const limit = record?.info.limits.maxConnections;
    if (limit === undefined) return true;
    const now = Date.now();
    const used = () => {
      const live = (this.sql.one<Row>('SELECT COUNT(*) AS n FROM connections WHERE client_id != ?', clientId)?.n as number) ?? 0;
      const pending = this.reservations.held(now, clientId).filter((r) => !this.isCounted(r.clientId)).length;
      return live + pending;
    };
    if (used() >= limit) {
      await this.dropVanished(tenant, tokenId, now);
      if (used() >= limit) {
        return false;
      }
    }
    this.reservations.reserve(clientId, tokenId, now);
    return true;
  }

  /** A session of this token reports whether its client is connected (only tokens with maxConnections). */
  async connectionPresence(clientId: string, connected: boolean): Promise<void> {
    this.invocations.rpc++;
    this.reservations.release(clientId);
    if (connected) this.sql.run('INSERT INTO connections (client_id, at) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET at = excluded.at', clientId, Date.now());
    else this.sql.run('DELETE FROM connections WHERE client_id = ?', clientId);
  }

  /** Nothing is scheduled any more: an alarm set by an older version (limit-hit forwarding) ends here. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
  }

  private async record(tenant: string, tokenId: string): Promise<TokenRecord> {
    if (this.cached) return this.cached.record;
    const row = this.sql.one<Row>('SELECT record FROM token WHERE id = 1');
    if (row) {
      this.cached = { record: JSON.parse(row.record as string) as TokenRecord };
      return this.cached.record;
    }
    const copied = await tenantStub(this.env, tenant).tokenRecord(tokenId);
    // A store() that ran while the copy was on its way is newer: keep it.
    if (!this.cached) {
      this.sql.run('INSERT OR IGNORE INTO token (id, tenant, token_id, record) VALUES (1, ?, ?, ?)', tenant, tokenId, JSON.stringify(copied));
      this.cached = { record: copied as TokenRecord };
    }
    return this.cached!.record;
  }

  /** Forgets counted connections whose sessions say their client is gone (a report lost on the way). */
  private async dropVanished(tenant: string, tokenId: string, now: number): Promise<void> {
    const old = this.sql.all<Row>('SELECT client_id FROM connections WHERE at < ?', now - VERIFY_AFTER_MS).map((row) => row.client_id as string);
    await Promise.all(
      old.map(async (clientId) => {
        try {
          const described = await sessionStub(this.env, sessionName(tenant, clientId)).describe();
          if (!described?.connected || described.tokenId !== tokenId) this.sql.run('DELETE FROM connections WHERE client_id = ?', clientId);
          else this.sql.run('UPDATE connections SET at = ? WHERE client_id = ?', now, clientId);
        } catch {
          // Unknown: keep counting it (refusing is the safe side of a limit).
        }
      }),
    );
  }

  private lastUse(): number | null {
    if (this.usedAt === undefined) this.usedAt = (this.sql.one<Row>('SELECT at FROM used WHERE id = 1')?.at as number | undefined) ?? null;
    return this.usedAt;
  }

  private isCounted(clientId: string): boolean {
    return this.sql.one<Row>('SELECT 1 AS y FROM connections WHERE client_id = ?', clientId) !== undefined;
  }
}
