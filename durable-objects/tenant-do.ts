// TenantDO: per-tenant facts no single session or shard owns: tokens and ACLs, live sessions, $SYS.
import { brokerConfig } from './config.js';
import type { Env } from './env.js';
import { BROKER_VERSION } from './version.js';
import type { PresenceState } from '../core/session/effects.js';
import { clientIdAllowed } from '../core/acl/client-id.js';
import { ConnectReservations } from '../core/tenancy/reservations.js';
import { constantTimeEqual, formatToken } from '../core/tenancy/token.js';
import { sessionName, sessionStub, shardStub } from './addresses.js';
import { hashSecret, newSecret, newTokenId } from './secrets.js';
import { TOKEN_SCHEMA, TokenStore, type TokenInfo, type TokenInput } from './token-store.js';
import { ShardRouter } from './shard-router.js';
import { sysMessages, type BrokerStatistics } from './sys-topics.js';
import { CountedObject } from './counted-object.js';
import { RateBucket } from '../core/tenancy/limits.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL, limits TEXT);
CREATE TABLE IF NOT EXISTS limit_hits (name TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS registry (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, connected INTEGER NOT NULL, connected_at INTEGER NOT NULL, token_id TEXT);
CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
${TOKEN_SCHEMA}`;
/** How long an admitted CONNECT holds its slot without its session reporting: longer than the CONNECT timeout. */
const RESERVATION_TTL_MS = 30_000;
/** How often $SYS topics are republished while anyone receives them (mosquitto's sys_interval is 10 s). */
const DEFAULT_SYS_INTERVAL_MS = 10_000;

type Row = Record<string, SqlStorageValue>;

export type AuthenticateResult =
  | { ok: true; token: TokenInfo; tenantLimits: TenantLimits }
  | { ok: false; reason: 'unknown' | 'disabled' | 'expired' | 'client-id' | 'connection-limit' | 'session-limit' };

/** Limits of a whole tenant; absent = none. */
export interface TenantLimits {
  maxTokens?: number;
  maxSessions?: number;
  /** Retained topics; each of the SHARD_COUNT shards holds at most ceil(maxRetained / SHARD_COUNT). */
  maxRetained?: number;
}

export class TenantDO extends CountedObject {
  private readonly tokens: TokenStore;
  /** Connection slots of admitted CONNECTs whose sessions have not reported yet (memory only). */
  private readonly reservations = new ConnectReservations(RESERVATION_TTL_MS);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, SCHEMA);
    this.tokens = new TokenStore(this.sql);
  }

  // ── Tokens ───────────────────────────────────────────────────────────────────────────────────────

  /** Creates the tenant (idempotent) and, when it has no tokens yet, its first master token. */
  async provision(tenant: string, limits: TenantLimits = {}): Promise<{ created: boolean; masterToken?: string }> {
    this.invocations.rpc++;
    this.remember(tenant);
    if (this.tokens.count() > 0) return { created: false };
    this.setLimits(limits);
    const { token } = await this.createTokenNow(tenant, { name: 'master', acl: [{ filter: '#', rights: ['pub', 'sub'] }] }, true);
    return { created: true, masterToken: token };
  }

  // ── The registry (one instance, REGISTRY_NAME, lists the tenants for the admin) ────────────────

  async registerTenant(name: string): Promise<void> {
    this.invocations.rpc++;
    this.sql.run('INSERT OR IGNORE INTO registry (name, created_at) VALUES (?, ?)', name, Date.now());
  }

  async listTenants(): Promise<Array<{ name: string; createdAt: number }>> {
    this.invocations.rpc++;
    return this.sql.all<Row>('SELECT name, created_at FROM registry ORDER BY name').map((row) => ({ name: row.name as string, createdAt: row.created_at as number }));
  }

  /** Creates a token; the returned string holds the secret and is shown this once. */
  async createToken(tenant: string, input: TokenInput): Promise<{ ok: true; token: string; info: TokenInfo } | { ok: false; error: string }> {
    this.invocations.rpc++;
    const maxTokens = this.limits().maxTokens;
    if (maxTokens !== undefined && this.tokens.count() >= maxTokens) {
      this.countLimitHit('tokens');
      return { ok: false, error: `the tenant's limit of ${maxTokens} tokens is reached` };
    }
    return { ok: true, ...(await this.createTokenNow(tenant, input, false)) };
  }

  /** The tenant's limits (tokens, sessions); the admin changes them. */
  async getLimits(): Promise<TenantLimits> {
    this.invocations.rpc++;
    return this.limits();
  }

  async updateLimits(limits: TenantLimits): Promise<TenantLimits> {
    this.invocations.rpc++;
    this.setLimits(limits);
    return limits;
  }

  async listTokens(): Promise<TokenInfo[]> {
    this.invocations.rpc++;
    return this.tokens.list();
  }

  async getToken(id: string): Promise<TokenInfo | undefined> {
    this.invocations.rpc++;
    return this.tokens.get(id)?.info;
  }

  /**
   * Changes a token; its sessions, connected or offline, see the change at once: revoked, they end; narrowed,
   * their subscriptions are re-checked.
   */
  async updateToken(id: string, input: TokenInput): Promise<TokenInfo | undefined> {
    this.invocations.rpc++;
    const current = this.tokens.get(id)?.info;
    if (!current) return undefined;
    const updated = { ...current, ...definedFields(input) };
    this.tokens.update(updated);
    await this.notifySessions(updated.id, updated);
    await this.scheduleAlarm();
    return updated;
  }

  /** Deletes a token: its connections close and its sessions end. */
  async deleteToken(id: string): Promise<boolean> {
    this.invocations.rpc++;
    const deleted = this.tokens.delete(id);
    if (deleted) await this.notifySessions(id, null);
    return deleted;
  }

  /**
   * Checks a token presented as an MQTT username or API bearer; the secret is compared by hash. For an MQTT
   * CONNECT it also checks the client id against the token's allowed ones and the connection and session
   * limits, and reserves the connection's slot before answering (see core/tenancy/reservations.ts).
   */
  async authenticate(tokenId: string, secret: string, forMqtt = true, clientId?: string, clientIdAssigned = false): Promise<AuthenticateResult> {
    this.invocations.rpc++;
    const stored = this.tokens.get(tokenId);
    const presented = await hashSecret(secret);
    // Compared in constant time; an unknown id still costs the hash so timing says nothing.
    if (!stored || !constantTimeEqual(presented, stored.secretHash)) return { ok: false, reason: 'unknown' };
    const token = stored.info;
    if (!token.enabled) return { ok: false, reason: 'disabled' };
    if (token.expiresAt !== null && token.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    // Read once: it answers the session limit and goes back with the token (one row read per CONNECT).
    const tenantLimits = this.limits();
    if (!forMqtt || clientId === undefined) return { ok: true, token, tenantLimits };
    // A client id the server assigned is new and random: it cannot be another device's.
    if (!clientIdAssigned && !clientIdAllowed(token.clientIds, clientId, token.id)) {
      this.countLimitHit('client-id');
      return { ok: false, reason: 'client-id' };
    }
    const now = Date.now();
    const reserved = this.reservations.held(now, clientId);
    if (token.limits.maxConnections !== undefined) {
      // Live connections of the token, other than this client id's own (a take-over replaces it), plus
      // CONNECTs of the token admitted but not yet reported.
      const live = (this.sql.one<Row>('SELECT COUNT(*) AS n FROM sessions WHERE connected = 1 AND token_id = ? AND client_id != ?', tokenId, clientId)?.n as number) ?? 0;
      const pending = reserved.filter((r) => r.tokenId === tokenId && !this.isConnected(r.clientId)).length;
      if (live + pending >= token.limits.maxConnections) {
        this.countLimitHit('connections');
        return { ok: false, reason: 'connection-limit' };
      }
    }
    const { maxSessions } = tenantLimits;
    if (maxSessions !== undefined && !this.isKnown(clientId)) {
      const count = (this.sql.one<Row>('SELECT COUNT(*) AS n FROM sessions')?.n as number) ?? 0;
      const pending = reserved.filter((r) => !this.isKnown(r.clientId)).length;
      if (count + pending >= maxSessions) {
        this.countLimitHit('sessions');
        return { ok: false, reason: 'session-limit' };
      }
    }
    this.reservations.reserve(clientId, tokenId, now);
    return { ok: true, token, tenantLimits };
  }

  /** True when the tenant has a session (connected or kept offline) for this client id. */
  private isKnown(clientId: string): boolean {
    return this.sql.one<Row>('SELECT 1 AS y FROM sessions WHERE client_id = ?', clientId) !== undefined;
  }

  private isConnected(clientId: string): boolean {
    return this.sql.one<Row>('SELECT 1 AS y FROM sessions WHERE client_id = ? AND connected = 1', clientId) !== undefined;
  }

  private async createTokenNow(tenant: string, input: TokenInput, master: boolean): Promise<{ token: string; info: TokenInfo }> {
    this.remember(tenant);
    const fields = definedFields(input);
    const info: TokenInfo = {
      id: newTokenId(),
      name: fields.name ?? 'token',
      acl: fields.acl ?? [],
      clientIds: fields.clientIds ?? [],
      limits: fields.limits ?? {},
      expiresAt: fields.expiresAt ?? null,
      enabled: fields.enabled ?? true,
      master,
      createdAt: Date.now(),
    };
    const secret = newSecret();
    this.tokens.insert(info, await hashSecret(secret));
    await this.scheduleAlarm();
    return { token: formatToken({ tenant, tokenId: info.id, secret }), info };
  }

  /** Tells every session of a token, connected or offline, what changed (null: the token is gone). */
  private async notifySessions(tokenId: string, token: TokenInfo | null): Promise<void> {
    const tenant = this.tenantRow()?.name;
    if (!tenant) return;
    // Offline persistent sessions too: they keep subscriptions and a queue under the token's rights.
    const sessions = this.sql.all<Row>('SELECT client_id FROM sessions WHERE token_id = ?', tokenId);
    await Promise.all(
      sessions.map(async (row) => {
        try {
          await sessionStub(this.env, sessionName(tenant, row.client_id as string)).tokenChanged(tokenId, token);
        } catch (error) {
          console.error('token change notification failed', { tenant, clientId: row.client_id, error: String(error) });
        }
      }),
    );
  }

  // ── For the HTTP API (worker/api): tenant existence, HTTP publish rate ─────────────────────────────

  /** HTTP publish buckets by token id, in memory: a rate needs no durability (an eviction refills them). */
  private readonly httpPublishBuckets = new Map<string, { rate: number; bucket: RateBucket; usedAt: number }>();

  /** True when the tenant exists: provisioned through the API, or (the "default" tenant) used by clients. */
  async tenantExists(): Promise<boolean> {
    this.invocations.rpc++;
    return this.tenantRow() !== undefined;
  }

  /**
   * Takes one HTTP publish of a token from its publishRate: the token bucket MQTT keeps per connection
   * (core RateBucket, one second of burst), here per token id. This object is the one place every Worker
   * isolate's publishes of the tenant meet. Refused: counted, with how long until one is allowed again (at
   * most the time one publish takes to refill).
   */
  async takePublishAllowance(tokenId: string, rate: number): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    this.invocations.rpc++;
    const now = Date.now();
    // A bucket idle for a second is full again, as good as a new one: forget those when the map grows.
    if (this.httpPublishBuckets.size >= 1024) {
      for (const [id, entry] of this.httpPublishBuckets) if (now - entry.usedAt >= 1000) this.httpPublishBuckets.delete(id);
    }
    let entry = this.httpPublishBuckets.get(tokenId);
    if (!entry || entry.rate !== rate) {
      entry = { rate, bucket: new RateBucket(rate, now), usedAt: now };
      this.httpPublishBuckets.set(tokenId, entry);
    }
    entry.usedAt = now;
    if (entry.bucket.take(now)) return { ok: true };
    this.countLimitHit('http-publish-rate');
    return { ok: false, retryAfterMs: Math.ceil(1000 / rate) };
  }

  // ── Sessions and $SYS ────────────────────────────────────────────────────────────────────────────

  /**
   * A session reports its state: connected, offline (a persistent session kept for its client) or ended.
   * Feeds clients/connected, token connection limits, revocation and the sessions API.
   */
  async sessionPresence(tenant: string, clientId: string, state: PresenceState, tokenId?: string): Promise<void> {
    this.invocations.rpc++;
    this.remember(tenant);
    // The session's own report now counts it (connected or not): its CONNECT's reservation is done.
    this.reservations.release(clientId);
    if (state === 'ended') {
      this.sql.run('DELETE FROM sessions WHERE client_id = ?', clientId);
      return;
    }
    const connected = state === 'connected' ? 1 : 0;
    this.sql.run(
      `INSERT INTO sessions (client_id, connected, connected_at, token_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET connected = excluded.connected,
         connected_at = CASE WHEN excluded.connected = 1 THEN excluded.connected_at ELSE sessions.connected_at END,
         token_id = COALESCE(excluded.token_id, sessions.token_id)`,
      clientId,
      connected,
      Date.now(),
      tokenId ?? null,
    );
  }

  /** The tenant's sessions (connected and offline persistent ones), most recently connected first. */
  async listSessions(limit = 500): Promise<Array<{ clientId: string; connected: boolean; connectedAt: number; tokenId: string | null }>> {
    this.invocations.rpc++;
    return this.sql
      .all<Row>('SELECT * FROM sessions ORDER BY connected_at DESC LIMIT ?', limit)
      .map((row) => ({
        clientId: row.client_id as string,
        connected: row.connected === 1,
        connectedAt: row.connected_at as number,
        tokenId: (row.token_id as string | null) ?? null,
      }));
  }

  /** Someone subscribed to $SYS: publish now and keep publishing while anyone receives them. */
  async wantSys(tenant: string): Promise<void> {
    this.invocations.rpc++;
    this.remember(tenant);
    if (this.timer('sys') === undefined) {
      this.setTimer('sys', Date.now());
      await this.scheduleAlarm();
    }
  }

  async statistics(): Promise<BrokerStatistics & { limitHits: Record<string, number> }> {
    const tenant = this.tenantRow();
    const clientsConnected = (this.sql.one<Row>('SELECT COUNT(*) AS n FROM sessions WHERE connected = 1')?.n as number) ?? 0;
    const limitHits = Object.fromEntries(this.sql.all<Row>('SELECT name, count FROM limit_hits').map((row) => [row.name as string, row.count as number]));
    const stats: BrokerStatistics & { limitHits: Record<string, number> } = {
      limitHits,
      version: BROKER_VERSION,
      uptimeSeconds: tenant ? Math.floor((Date.now() - tenant.createdAt) / 1000) : 0,
      clientsConnected,
      messagesReceived: 0,
      messagesSent: 0,
      subscriptions: 0,
      retained: 0,
      shardRequests: 0,
      shardRowsWritten: 0,
      shardRowsRead: 0,
    };
    if (!tenant) return stats;
    const shardCount = brokerConfig(this.env).shardCount;
    const shards = await Promise.all(
      Array.from({ length: shardCount }, (_, index) => shardStub(this.env, tenant.name, index).statistics()),
    );
    shards.forEach((shard, index) => {
      stats.messagesReceived += shard.messagesReceived;
      stats.messagesSent += shard.messagesSent;
      stats.retained += shard.retained;
      if (shard.retainedRefused > 0) limitHits.retained = (limitHits.retained ?? 0) + shard.retainedRefused;
      // The statistics call itself is one of the requests counted.
      stats.shardRequests += shard.invocations.rpc + shard.invocations.alarm + shard.invocations.fetch + shard.invocations.webSocketMessage / 20;
      stats.shardRowsWritten += shard.invocations.rowsWritten;
      stats.shardRowsRead += shard.invocations.rowsRead;
      // A wildcard subscription is replicated to every shard: count it once.
      stats.subscriptions += shard.exactSubscriptions + (index === 0 ? shard.wildcardSubscriptions : 0);
    });
    return stats;
  }

  /** One alarm multiplexes the tenant's timers: token expiries and the $SYS round. */
  override async alarm(): Promise<void> {
    this.invocations.alarm++;
    const now = Date.now();
    const checkedAt = this.timer('expiry-checked') ?? 0;
    for (const token of this.tokens.expiredBetween(checkedAt, now)) await this.notifySessions(token.id, token);
    this.setTimer('expiry-checked', now);
    const sysAt = this.timer('sys');
    if (sysAt !== undefined && sysAt <= now) await this.publishSys();
    await this.scheduleAlarm();
  }

  private async scheduleAlarm(): Promise<void> {
    const times = [this.timer('sys'), this.tokens.nextExpiry(Date.now())].filter((t): t is number => t !== undefined);
    if (times.length === 0) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.min(...times));
  }

  private timer(name: string): number | undefined {
    return (this.sql.one<Row>('SELECT at FROM timers WHERE name = ?', name)?.at as number | undefined) ?? undefined;
  }

  private setTimer(name: string, at: number | undefined): void {
    if (at === undefined) this.sql.run('DELETE FROM timers WHERE name = ?', name);
    else this.sql.run('INSERT INTO timers (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at', name, at);
  }

  /** Publishes the $SYS topics (retained); keeps the round going only while it reaches someone. */
  private async publishSys(): Promise<void> {
    const tenant = this.tenantRow();
    if (!tenant) return;
    const stats = await this.statistics();
    const router = new ShardRouter(this.env, tenant.name, brokerConfig(this.env).shardCount);
    const encoder = new TextEncoder();
    const reached = await Promise.all(
      sysMessages(stats).map(([topic, value]) => router.publishCounted({ topic, payload: encoder.encode(value), qos: 0, retain: true })),
    );
    this.setTimer('sys', reached.some((count) => count > 0) ? Date.now() + sysIntervalMs(this.env) : undefined);
  }

  private limits(): TenantLimits {
    const row = this.sql.one<Row>('SELECT limits FROM tenant WHERE id = 1');
    return row?.limits ? (JSON.parse(row.limits as string) as TenantLimits) : {};
  }

  private setLimits(limits: TenantLimits): void {
    this.sql.run('UPDATE tenant SET limits = ? WHERE id = 1', JSON.stringify(limits));
  }

  /** Limits hit are counted (shown in the tenant's statistics). */
  private countLimitHit(name: string): void {
    this.sql.run('INSERT INTO limit_hits (name, count) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET count = count + 1', name);
  }

  private remember(tenant: string): void {
    this.sql.run('INSERT OR IGNORE INTO tenant (id, name, created_at) VALUES (1, ?, ?)', tenant, Date.now());
  }

  private tenantRow(): { name: string; createdAt: number } | undefined {
    const row = this.sql.one<Row>('SELECT name, created_at FROM tenant WHERE id = 1');
    return row ? { name: row.name as string, createdAt: row.created_at as number } : undefined;
  }
}

function sysIntervalMs(env: Env): number {
  const seconds = Number(env.SYS_INTERVAL);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_SYS_INTERVAL_MS;
}


/** The fields a caller set (the API validated them: worker/api/token-input.ts); absent ones change nothing. */
function definedFields(input: TokenInput): TokenInput {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as TokenInput;
}
