// What a Worker isolate remembers between CONNECTs: tokens read from their own objects and the tenants'
// connect limits (TOKEN_CACHE_TTL_MS, LIMITS_TTL_MS). A reconnect storm of 5,000 clients sharing one token then
// costs the token's object about one read per isolate per second, not one per CONNECT; concurrent
// CONNECTs that miss together share one read.
import { TOKEN_CACHE_TTL_MS, USE_RESOLUTION_MS } from '../core/tenancy/token.js';
import { tenantStub, tokenStub } from '../durable-objects/addresses.js';
import type { Env } from '../durable-objects/env.js';
import type { TokenRecord } from '../durable-objects/token-do.js';

/** Entries kept at most; past it, expired ones are dropped first, then the oldest. */
const MAX_ENTRIES = 10_000;
/**
 * A tenant's limits change rarely and never revoke anything: kept 10 s, so that a long reconnect storm costs
 * the tenant object one read per isolate per 10 s (an API change is seen at once by the isolate that made it).
 */
const LIMITS_TTL_MS = 10_000;

export interface ConnectLimits {
  exists: boolean;
  maxSessions?: number;
  maxRetained?: number;
}

class TtlCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; until: number }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, now: number, read: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (this.entries.size >= MAX_ENTRIES) this.evict(now);
    const value = read();
    this.entries.set(key, { value, until: now + this.ttlMs });
    // A failed read is not remembered: the next CONNECT tries again.
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  private evict(now: number): void {
    for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key);
    // Maps iterate in insertion order: the first keys are the oldest.
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break;
      this.entries.delete(key);
    }
  }
}

const tokens = new TtlCache<TokenRecord>(TOKEN_CACHE_TTL_MS);
const limits = new TtlCache<ConnectLimits>(LIMITS_TTL_MS);

/** The token as its own object has it (null: no such token), at most TOKEN_CACHE_TTL_MS old. */
export function cachedToken(env: Env, tenant: string, tokenId: string): Promise<TokenRecord> {
  return tokens.get(`${tenant}\u0000${tokenId}`, Date.now(), () => tokenStub(env, tenant, tokenId).lookup(tenant, tokenId) as Promise<TokenRecord>);
}

/** The tenant's session and retained limits, at most LIMITS_TTL_MS old. */
export function cachedConnectLimits(env: Env, tenant: string): Promise<ConnectLimits> {
  return limits.get(tenant, Date.now(), () => tenantStub(env, tenant).connectLimits());
}

/**
 * True when the tenant exists (provisioned through the API, or "default" once anonymous clients used it).
 * A "yes" is kept as the limits are; a "no" is not: any isolate may create the tenant the next moment.
 */
export async function cachedTenantExists(env: Env, tenant: string): Promise<boolean> {
  if ((await cachedConnectLimits(env, tenant)).exists) return true;
  limits.forget(tenant);
  return false;
}

/**
 * This isolate changed the token or the tenant's limits through the API: it forgets its copy at once. Other
 * isolates keep theirs for at most TOKEN_CACHE_TTL_MS; the tenant's second sweep covers what they admit.
 */
export function forgetCachedToken(tenant: string, tokenId: string): void {
  tokens.forget(`${tenant}\u0000${tokenId}`);
}

export function forgetCachedLimits(tenant: string): void {
  limits.forget(tenant);
}

/** When this isolate last told a token's object it was used, by `tenant\0tokenId` (bounded like the caches). */
const usesNoted = new Map<string, number>();

/**
 * A CONNECT authenticated with the token: its object records "last used", told at most once a minute per
 * isolate and token, off the CONNACK's path (a lost note only makes "last used" a minute older).
 */
export function noteTokenUse(env: Env, tenant: string, tokenId: string): void {
  const key = `${tenant}\u0000${tokenId}`;
  const now = Date.now();
  const last = usesNoted.get(key);
  if (last !== undefined && now - last < USE_RESOLUTION_MS) return;
  usesNoted.delete(key);
  if (usesNoted.size >= MAX_ENTRIES) usesNoted.delete(usesNoted.keys().next().value!);
  usesNoted.set(key, now);
  tokenStub(env, tenant, tokenId)
    .touch(now)
    .catch((error: unknown) => console.warn('token use not recorded', String(error)));
}
