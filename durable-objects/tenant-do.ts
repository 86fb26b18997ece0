// TenantDO: per-tenant facts no single session or shard owns: tokens and ACLs, live sessions, $SYS.
import { brokerConfig } from './config.js';
import type { Env } from './env.js';
import { BROKER_VERSION } from './version.js';
import { grantLease, leaseChunk } from '../core/tenancy/presence.js';
import { TOKEN_CACHE_TTL_MS, USE_RESOLUTION_MS, constantTimeEqual, formatToken } from '../core/tenancy/token.js';
import type { TokenUpdate } from '../core/session/token-change.js';
import { legacyTenantStub, presenceStub, registryStub, shardStub, tokenStub } from './addresses.js';
import { storedLocation, type DataLocation } from '../core/tenancy/data-location.js';
import { hashSecret, newSecret, newTokenId } from './secrets.js';
import { TOKEN_SCHEMA, TokenStore, type TokenInfo, type TokenInput } from './token-store.js';
import type { TokenRecord } from './token-do.js';
import { ShardRouter, shardIndexes } from './shard-router.js';
import { sysMessages, type BrokerStatistics } from './sys-topics.js';
import { CountedObject } from './counted-object.js';
import { RateBucket } from '../core/tenancy/limits.js';
import type { LogEvent } from '../core/tenancy/event-log.js';
import { sendEvents } from './event-sender.js';
import { tenantTotals } from './stats/tenant-history.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenant (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL, limits TEXT);
CREATE TABLE IF NOT EXISTS registry (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, jurisdiction TEXT);
CREATE TABLE IF NOT EXISTS directory (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, jurisdiction TEXT);
CREATE TABLE IF NOT EXISTS session_leases (bucket INTEGER PRIMARY KEY, leased INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
${TOKEN_SCHEMA}`;
/**
 * A token change is carried to its sessions at once and again after this long: a CONNECT admitted from a
 * Worker's cached copy of the token (at most TOKEN_CACHE_TTL_MS old) reports its session within it.
 */
const TOKEN_SWEEP_AFTER_MS = TOKEN_CACHE_TTL_MS + 2_000;
/** Calls a fan-out to the presence buckets keeps in flight at once. */
const BUCKET_CONCURRENCY = 32;
/**
 * At its session limit a tenant asks its buckets for unused slots at most this often: refused clients that
 * retry every second must not turn each retry into a call to every bucket.
 */
const RECLAIM_EVERY_MS = 2_000;
/** How often $SYS topics are republished while anyone receives them (mosquitto's sys_interval is 10 s). */
const DEFAULT_SYS_INTERVAL_MS = 10_000;

type Row = Record<string, SqlStorageValue>;

export type AuthenticateResult = { ok: true; token: TokenInfo; tenantLimits: TenantLimits } | { ok: false; reason: 'unknown' | 'disabled' | 'expired' };

/** Limits of a whole tenant; absent = none. */
export interface TenantLimits {
  maxTokens?: number;
  maxSessions?: number;
  /** Retained topics; each of the SHARD_COUNT shards holds at most ceil(maxRetained / SHARD_COUNT). */
  maxRetained?: number;
}

export class TenantDO extends CountedObject {
  private readonly tokens: TokenStore;
  /** When spare session slots were last reclaimed from the buckets (memory: a restart may reclaim at once). */
  private reclaimedAt = 0;
  /** When an API call's use of each token was last passed to its object (memory; at most once a minute). */
  private readonly usesNoted = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    // Learns its tenant's location only once it is that tenant's object: the directory may wake the global
    // object of a name whose tenant lives in a jurisdiction (legacyTenantStub), and that one must teach nothing.
    super(ctx, env, SCHEMA, false);
    this.tokens = new TokenStore(this.sql);
    this.migrate();
    if (this.tenantRow()) this.learnOwnLocation();
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

  async registerTenant(name: string, location: DataLocation = null): Promise<void> {
    this.invocations.rpc++;
    this.sql.run('INSERT OR IGNORE INTO registry (name, created_at, jurisdiction) VALUES (?, ?, ?)', name, Date.now(), location);
  }

  /** True when the registry lists the tenant (created through the API, in any location). */
  async registered(name: string): Promise<boolean> {
    this.invocations.rpc++;
    return this.sql.one<Row>('SELECT 1 AS found FROM registry WHERE name = ?', name) !== undefined;
  }

  /** The tenants, each with where its objects live (tenants listed before data locations existed: global). */
  async listTenants(): Promise<Array<{ name: string; createdAt: number; jurisdiction: DataLocation }>> {
    this.invocations.rpc++;
    return this.sql
      .all<Row>('SELECT name, created_at, jurisdiction FROM registry ORDER BY name')
      .map((row) => ({ name: row.name as string, createdAt: row.created_at as number, jurisdiction: storedLocation(row.jurisdiction) }));
  }

  // ── A directory entry (one instance per tenant, directoryStub: global) ────────────────────────────

  /**
   * Where the tenant's objects live; undefined when there is no such tenant. A tenant created before data
   * locations existed has no entry but a global tenant object: it is global, and the entry is written then.
   * (Asking that object may leave an empty one behind for a name nobody created: it holds nothing.)
   */
  async tenantLocation(tenant: string): Promise<{ jurisdiction: DataLocation } | undefined> {
    this.invocations.rpc++;
    let location = this.directoryRow();
    if (location === undefined && (await legacyTenantStub(this.env, tenant).tenantExists())) location = this.settle(tenant, null);
    return location === undefined ? undefined : { jurisdiction: location };
  }

  /**
   * Fixes the tenant's location before any of its objects is made (POST /tenants): the first claim wins and
   * stays (tenants are not deleted, so a name never moves). A name the registry lists from before data
   * locations is global. Answers the location the name has when it is another.
   */
  async claimLocation(tenant: string, location: DataLocation): Promise<{ ok: true } | { ok: false; jurisdiction: DataLocation }> {
    this.invocations.rpc++;
    let known = this.directoryRow();
    if (known === undefined && (await registryStub(this.env).registered(tenant))) known = this.settle(tenant, null);
    known ??= this.settle(tenant, location);
    return known === location ? { ok: true } : { ok: false, jurisdiction: known };
  }

  /** Writes the entry unless a call that overlapped this one's await wrote it first; answers what it holds. */
  private settle(tenant: string, location: DataLocation): DataLocation {
    this.sql.run('INSERT OR IGNORE INTO directory (id, name, jurisdiction) VALUES (1, ?, ?)', tenant, location);
    return this.directoryRow()!;
  }

  private directoryRow(): DataLocation | undefined {
    const row = this.sql.one<Row>('SELECT jurisdiction FROM directory WHERE id = 1');
    return row ? storedLocation(row.jurisdiction) : undefined;
  }

  /** The registry's jurisdiction column came with data locations; older registries get it here. */
  private migrate(): void {
    try {
      this.sql.run('SELECT jurisdiction FROM registry LIMIT 0');
    } catch {
      this.sql.run('ALTER TABLE registry ADD COLUMN jurisdiction TEXT');
    }
  }

  /** Creates a token; the returned string holds the secret and is shown this once. */
  async createToken(tenant: string, input: TokenInput): Promise<{ ok: true; token: string; info: TokenInfo } | { ok: false; error: string }> {
    this.invocations.rpc++;
    const maxTokens = this.limits().maxTokens;
    if (maxTokens !== undefined && this.tokens.count() >= maxTokens) {
      await this.log({ at: Date.now(), kind: 'limit', limit: 'tokens', message: `token not created: the tenant's limit of ${maxTokens} tokens is reached` });
      return { ok: false, error: `the tenant's limit of ${maxTokens} tokens is reached` };
    }
    const created = await this.createTokenNow(tenant, input, false);
    await this.log({ at: Date.now(), kind: 'token', tokenId: created.info.id, message: `token "${created.info.name}" created` });
    return { ok: true, ...created };
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
    await this.writeThrough(updated.id);
    await this.log({ at: Date.now(), kind: 'token', tokenId: id, message: `token "${updated.name}" changed: ${Object.keys(definedFields(input)).join(', ') || 'nothing'}` });
    await this.notifySessions(updated.id, updated);
    await this.scheduleAlarm();
    return updated;
  }

  /**
   * A new secret for a token; the returned string holds it and is shown this once. The old secret stops
   * working at once here (API calls) and in the token's own object (CONNECTs; a Worker isolate's cached copy
   * lives at most TOKEN_CACHE_TTL_MS more). Live connections keep running: they authenticated when they
   * connected, and the token's rights did not change (so its sessions hear nothing); their next CONNECT
   * needs the new secret. Undefined when there is no such token.
   */
  async rotateSecret(tenant: string, id: string): Promise<{ token: string; info: TokenInfo } | undefined> {
    this.invocations.rpc++;
    const stored = this.tokens.get(id);
    if (!stored) return undefined;
    const secret = newSecret();
    this.tokens.setSecretHash(id, await hashSecret(secret));
    await this.writeThrough(id);
    await this.log({ at: Date.now(), kind: 'token', tokenId: id, message: `token "${stored.info.name}" secret rotated (the old secret no longer connects)` });
    return { token: formatToken({ tenant, tokenId: id, secret }), info: stored.info };
  }

  /** Deletes a token: its connections close and its sessions end. */
  async deleteToken(id: string): Promise<boolean> {
    this.invocations.rpc++;
    const name = this.tokens.get(id)?.info.name;
    const deleted = this.tokens.delete(id);
    if (deleted) {
      await this.writeThrough(id);
      await this.log({ at: Date.now(), kind: 'token', tokenId: id, message: `token "${name ?? id}" deleted` });
      await this.notifySessions(id, null);
    }
    return deleted;
  }

  /**
   * Checks a token presented as an API bearer; the secret is compared by hash. (An MQTT CONNECT checks its
   * token in the Worker against the token's own object: worker/authenticate.ts.)
   */
  async authenticate(tokenId: string, secret: string): Promise<AuthenticateResult> {
    this.invocations.rpc++;
    const stored = this.tokens.get(tokenId);
    const presented = await hashSecret(secret);
    // Compared in constant time; an unknown id still costs the hash so timing says nothing.
    if (!stored || !constantTimeEqual(presented, stored.secretHash)) return { ok: false, reason: 'unknown' };
    const token = stored.info;
    if (!token.enabled) return { ok: false, reason: 'disabled' };
    if (token.expiresAt !== null && token.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    this.noteUse(tokenId);
    return { ok: true, token, tenantLimits: this.limits() };
  }

  /** An API call authenticated with the token: its object records "last used" (told at most once a minute). */
  private noteUse(tokenId: string): void {
    const tenant = this.tenantRow()?.name;
    const now = Date.now();
    const last = this.usesNoted.get(tokenId);
    if (!tenant || (last !== undefined && now - last < USE_RESOLUTION_MS)) return;
    if (this.usesNoted.size >= 1024) this.usesNoted.clear();
    this.usesNoted.set(tokenId, now);
    this.ctx.waitUntil(tokenStub(this.env, tenant, tokenId).touch(now).catch((error: unknown) => console.warn('token use not recorded', String(error))));
  }

  /** What the admin's tenant list shows of a tenant: its limits and how many tokens it has. */
  async summary(): Promise<{ exists: boolean; createdAt: number | null; limits: TenantLimits; tokens: number }> {
    this.invocations.rpc++;
    const row = this.tenantRow();
    return { exists: row !== undefined, createdAt: row?.createdAt ?? null, limits: this.limits(), tokens: this.tokens.count() };
  }

  /** A token as its own object keeps it (durable-objects/token-do.ts): copied once for tokens older than it. */
  async tokenRecord(tokenId: string): Promise<TokenRecord> {
    this.invocations.rpc++;
    const stored = this.tokens.get(tokenId);
    return stored ? { secretHash: stored.secretHash, info: stored.info } : null;
  }

  /** What a CONNECT needs of the tenant (the Worker caches it for TOKEN_CACHE_TTL_MS). */
  async connectLimits(): Promise<{ exists: boolean; maxSessions?: number; maxRetained?: number }> {
    this.invocations.rpc++;
    const { maxSessions, maxRetained } = this.limits();
    return { exists: this.tenantRow() !== undefined, ...(maxSessions === undefined ? {} : { maxSessions }), ...(maxRetained === undefined ? {} : { maxRetained }) };
  }

  /**
   * A presence bucket needs `want` more session slots (core/tenancy/presence.ts): granted from what
   * maxSessions leaves after every bucket's lease. When nothing is left, the other buckets are asked for
   * the slots they hold unused first, so the limit refuses only when that many sessions really exist.
   */
  async leaseSessions(tenant: string, bucket: number, want: number): Promise<{ granted: number; tight: boolean }> {
    this.invocations.rpc++;
    this.remember(tenant);
    const { maxSessions } = this.limits();
    if (maxSessions === undefined) return { granted: want, tight: false };
    const leased = () => (this.sql.one<Row>('SELECT COALESCE(SUM(leased), 0) AS n FROM session_leases')?.n as number) ?? 0;
    if (grantLease(maxSessions, leased(), want) < want) await this.reclaimSpareSlots(tenant, bucket);
    const granted = grantLease(maxSessions, leased(), want);
    this.sql.run('INSERT INTO session_leases (bucket, leased) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE SET leased = leased + excluded.leased', bucket, granted);
    // Tight: what is left would not give every bucket one more chunk; buckets then return freed slots at once.
    return { granted, tight: maxSessions - leased() < brokerConfig(this.env).presenceBuckets * leaseChunk(maxSessions, brokerConfig(this.env).presenceBuckets) };
  }

  /** A tight bucket gives back slots its ended sessions freed. */
  async returnSessions(bucket: number, slots: number): Promise<void> {
    this.invocations.rpc++;
    this.sql.run('UPDATE session_leases SET leased = MAX(0, leased - ?) WHERE bucket = ?', slots, bucket);
  }

  private async reclaimSpareSlots(tenant: string, except: number): Promise<void> {
    const now = Date.now();
    if (now - this.reclaimedAt < RECLAIM_EVERY_MS) return;
    this.reclaimedAt = now;
    const holders = this.sql.all<Row>('SELECT bucket FROM session_leases WHERE leased > 0 AND bucket != ?', except).map((row) => row.bucket as number);
    await inBatches(holders, BUCKET_CONCURRENCY, async (holder) => {
      const returned = await presenceStub(this.env, tenant, holder).returnSpare();
      if (returned > 0) this.sql.run('UPDATE session_leases SET leased = MAX(0, leased - ?) WHERE bucket = ?', returned, holder);
    });
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
    await this.writeThrough(info.id);
    await this.scheduleAlarm();
    return { token: formatToken({ tenant, tokenId: info.id, secret }), info };
  }

  /** The token's own object gets the token as stored now (null: deleted) before the API answers. */
  private async writeThrough(tokenId: string): Promise<void> {
    const tenant = this.tenantRow()?.name;
    if (!tenant) return;
    const stored = this.tokens.get(tokenId);
    await tokenStub(this.env, tenant, tokenId).store(tenant, tokenId, stored ? { secretHash: stored.secretHash, info: stored.info } : null);
  }

  /**
   * Tells every session of a token, connected or offline, what changed (null: the token is gone): each
   * presence bucket tells its own sessions in bounded batches (presence-do.ts), and a second sweep after
   * TOKEN_SWEEP_AFTER_MS reaches a client admitted meanwhile from a Worker's cached copy of the token.
   */
  private async notifySessions(tokenId: string, token: TokenUpdate | null, sweepAgain = true): Promise<void> {
    const tenant = this.tenantRow()?.name;
    if (!tenant) return;
    const buckets = Array.from({ length: brokerConfig(this.env).presenceBuckets }, (_, index) => index);
    await inBatches(buckets, BUCKET_CONCURRENCY, async (bucket) => {
      try {
        await presenceStub(this.env, tenant, bucket).notifyToken(tenant, bucket, tokenId, token);
      } catch (error) {
        console.error('token change fan-out failed', { tenant, bucket, error: String(error) });
      }
    });
    if (sweepAgain) {
      this.setTimer(`sweep:${tokenId}`, Date.now() + TOKEN_SWEEP_AFTER_MS);
      await this.scheduleAlarm();
    }
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
    await this.log({ at: now, kind: 'limit', limit: 'http_publish_rate', tokenId, message: `HTTP publish refused (429): this token may publish ${rate} messages per second` });
    return { ok: false, retryAfterMs: Math.ceil(1000 / rate) };
  }

  // ── Sessions and $SYS ────────────────────────────────────────────────────────────────────────────

  /** The tenant's presence buckets' counts. */
  private async presenceCounts(tenant: string): Promise<{ connected: number; sessions: number }> {
    const total = { connected: 0, sessions: 0 };
    const buckets = Array.from({ length: brokerConfig(this.env).presenceBuckets }, (_, index) => index);
    await inBatches(buckets, BUCKET_CONCURRENCY, async (bucket) => {
      const counts = await presenceStub(this.env, tenant, bucket).counts();
      total.connected += counts.connected;
      total.sessions += counts.sessions;
    });
    return total;
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
    const [presence, totals] = tenant ? await Promise.all([this.presenceCounts(tenant.name), tenantTotals(this.env, tenant.name)]) : [{ connected: 0, sessions: 0 }, {}];
    // Every limit hit is an entry of the event log, counted there by name (core/tenancy/event-log.ts).
    const limitHits: Record<string, number> = {};
    for (const [key, count] of Object.entries(totals)) if (key.startsWith('limit:') && !key.includes('@')) limitHits[key.slice('limit:'.length)] = count;
    const clientsConnected = presence.connected;
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
    const shards = await Promise.all((await shardIndexes(this.env, tenant.name)).map((index) => shardStub(this.env, tenant.name, index).statistics()));
    shards.forEach((shard, index) => {
      stats.messagesReceived += shard.messagesReceived;
      stats.messagesSent += shard.messagesSent;
      stats.retained += shard.retained;
      // The statistics call itself is one of the requests counted.
      stats.shardRequests += shard.invocations.rpc + shard.invocations.alarm + shard.invocations.fetch + shard.invocations.webSocketMessage / 20;
      stats.shardRowsWritten += shard.invocations.rowsWritten;
      stats.shardRowsRead += shard.invocations.rowsRead;
      // Every shard holds every wildcard subscription (in memory, from the wildcard homes): count it once.
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
    for (const row of this.sql.all<Row>("SELECT name FROM timers WHERE name LIKE 'sweep:%' AND at <= ?", now)) {
      const tokenId = (row.name as string).slice('sweep:'.length);
      this.setTimer(row.name as string, undefined);
      await this.notifySessions(tokenId, this.tokens.get(tokenId)?.info ?? null, false);
    }
    const sysAt = this.timer('sys');
    if (sysAt !== undefined && sysAt <= now) await this.publishSys();
    await this.scheduleAlarm();
  }

  private async scheduleAlarm(): Promise<void> {
    const sweep = this.sql.one<Row>("SELECT MIN(at) AS at FROM timers WHERE name LIKE 'sweep:%'")?.at as number | null | undefined;
    const times = [this.timer('sys'), this.tokens.nextExpiry(Date.now()), sweep ?? undefined].filter((t): t is number => t !== undefined);
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

  /** An entry for the tenant's event log, written before the API answers. */
  private async log(event: LogEvent): Promise<void> {
    const tenant = this.tenantRow()?.name;
    if (tenant) await sendEvents(this.env, [{ tenant, event }]);
  }

  /** Called on the paths only a correctly located caller reaches (provisioning, tokens, sessions, $SYS). */
  private remember(tenant: string): void {
    this.sql.run('INSERT OR IGNORE INTO tenant (id, name, created_at) VALUES (1, ?, ?)', tenant, Date.now());
    this.learnOwnLocation();
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


/** Runs `task` over `items`, at most `concurrency` at a time (a fan-out to many objects stays bounded). */
async function inBatches<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += concurrency) await Promise.all(items.slice(i, i + concurrency).map(task));
}

/** The fields a caller set (the API validated them: worker/api/token-input.ts); absent ones change nothing. */
function definedFields(input: TokenInput): TokenInput {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as TokenInput;
}
