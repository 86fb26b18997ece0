// SQLite schema and queries of a tenant's tokens. Secrets are stored only as SHA-256 hashes.
import type { AclEntry } from '../core/acl/acl.js';
import type { TokenLimits } from '../core/tenancy/limits.js';
import type { CountedSql } from './invocation-counters.js';

export const TOKEN_SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  acl TEXT NOT NULL,
  limits TEXT NOT NULL,
  expires_at INTEGER,
  enabled INTEGER NOT NULL,
  master INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  client_ids TEXT
);
`;

/**
 * The latest expiry a token may have: 2100-01-01T00:00:00Z. A Durable Object alarm cannot be set past
 * 2262 (workerd keeps time as int64 nanoseconds and throws beyond), and the tenant's alarm follows the
 * nearest expiry, so a later one would make every token write fail.
 */
export const MAX_EXPIRES_AT = 4_102_444_800_000;

/** What a token may be created or updated with (the API validates it: worker/api/token-input.ts). */
export interface TokenInput {
  name?: string;
  acl?: AclEntry[];
  limits?: TokenLimits;
  /** ms since the epoch, or null for no expiry. */
  expiresAt?: number | null;
  enabled?: boolean;
  /** Client-id patterns (`*`, `%u`) the token may connect with; empty = any (core/acl/client-id.ts). */
  clientIds?: string[];
}

/** A token as the API shows it: never its secret or hash. */
export interface TokenInfo {
  id: string;
  name: string;
  acl: AclEntry[];
  limits: TokenLimits;
  /** ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
  enabled: boolean;
  /** A master token administers its tenant through the API (and has full MQTT access). */
  master: boolean;
  createdAt: number;
  /** Client-id patterns (`*`, `%u`) the token may connect with; empty = any (core/acl/client-id.ts). */
  clientIds: string[];
}

type Row = Record<string, SqlStorageValue>;

function toInfo(row: Row): TokenInfo {
  return {
    id: row.id as string,
    name: row.name as string,
    acl: JSON.parse(row.acl as string) as AclEntry[],
    limits: JSON.parse(row.limits as string) as TokenLimits,
    expiresAt: (row.expires_at as number | null) ?? null,
    enabled: row.enabled === 1,
    master: row.master === 1,
    createdAt: row.created_at as number,
    // NULL: a token from before client-id binding, or one without patterns.
    clientIds: row.client_ids ? (JSON.parse(row.client_ids as string) as string[]) : [],
  };
}

/** The column as stored: NULL for no patterns. */
function clientIdsColumn(clientIds: readonly string[] | undefined): string | null {
  return clientIds && clientIds.length > 0 ? JSON.stringify(clientIds) : null;
}

export class TokenStore {
  /** Expects TOKEN_SCHEMA to have run; brings a tokens table from before client-id binding up to date. */
  constructor(private readonly sql: CountedSql) {
    this.migrate();
  }

  /** Adds client_ids to a tokens table created before it existed (CREATE TABLE IF NOT EXISTS keeps it). */
  private migrate(): void {
    try {
      this.sql.run('SELECT client_ids FROM tokens LIMIT 0');
    } catch {
      this.sql.run('ALTER TABLE tokens ADD COLUMN client_ids TEXT');
    }
  }

  insert(token: TokenInfo, secretHash: string): void {
    this.sql.run(
      'INSERT INTO tokens (id, name, secret_hash, acl, limits, expires_at, enabled, master, created_at, client_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      token.id,
      token.name,
      secretHash,
      JSON.stringify(token.acl),
      JSON.stringify(token.limits),
      token.expiresAt,
      token.enabled ? 1 : 0,
      token.master ? 1 : 0,
      token.createdAt,
      clientIdsColumn(token.clientIds),
    );
  }

  update(token: TokenInfo): void {
    this.sql.run(
      'UPDATE tokens SET name = ?, acl = ?, limits = ?, expires_at = ?, enabled = ?, client_ids = ? WHERE id = ?',
      token.name,
      JSON.stringify(token.acl),
      JSON.stringify(token.limits),
      token.expiresAt,
      token.enabled ? 1 : 0,
      clientIdsColumn(token.clientIds),
      token.id,
    );
  }

  /** A new secret (rotation): only its hash changes; false when there is no such token. */
  setSecretHash(id: string, secretHash: string): boolean {
    if (!this.get(id)) return false;
    this.sql.run('UPDATE tokens SET secret_hash = ? WHERE id = ?', secretHash, id);
    return true;
  }

  get(id: string): { info: TokenInfo; secretHash: string } | undefined {
    const row = this.sql.one<Row>('SELECT * FROM tokens WHERE id = ?', id);
    return row ? { info: toInfo(row), secretHash: row.secret_hash as string } : undefined;
  }

  list(): TokenInfo[] {
    return this.sql.all<Row>('SELECT * FROM tokens ORDER BY created_at').map(toInfo);
  }

  delete(id: string): boolean {
    const before = this.count();
    this.sql.run('DELETE FROM tokens WHERE id = ?', id);
    return this.count() < before;
  }

  count(): number {
    return (this.sql.one<Row>('SELECT COUNT(*) AS n FROM tokens')?.n as number) ?? 0;
  }

  /**
   * The earliest expiry still in the future among enabled tokens (drives the tenant's alarm). Expiries past
   * MAX_EXPIRES_AT (stored before the API bounded them) are left out: no alarm can be set for them.
   */
  nextExpiry(now: number): number | undefined {
    const row = this.sql.one<Row>('SELECT MIN(expires_at) AS t FROM tokens WHERE enabled = 1 AND expires_at > ? AND expires_at <= ?', now, MAX_EXPIRES_AT);
    return (row?.t as number | null) ?? undefined;
  }

  /** Enabled tokens whose expiry passed after `since` and by `now`. */
  expiredBetween(since: number, now: number): TokenInfo[] {
    return this.sql.all<Row>('SELECT * FROM tokens WHERE expires_at > ? AND expires_at <= ?', since, now).map(toInfo);
  }
}
