// How every Durable Object is named: a tenant prefix keeps tenants apart by construction.
import type { Env } from './env.js';

export { sessionName } from '../core/routing/message.js';

export function sessionStub(env: Env, name: string) {
  return env.SESSION.get(env.SESSION.idFromName(name));
}

const SHARD_INFIX = '\u0000shard\u0000';

export function shardStub(env: Env, tenant: string, index: number) {
  return env.SHARD.get(env.SHARD.idFromName(`${tenant}${SHARD_INFIX}${index}`));
}

/** The tenant of a topic shard's object name (shardStub's); undefined for any other name. */
export function shardTenant(name: string | undefined): string | undefined {
  const at = name?.lastIndexOf(SHARD_INFIX) ?? -1;
  return at > 0 && /^\d+$/.test(name!.slice(at + SHARD_INFIX.length)) ? name!.slice(0, at) : undefined;
}

/** Wildcard home `home` of a tenant (core/routing/wildcard-homes.ts). */
export function wildcardStub(env: Env, tenant: string, home: number) {
  return env.WILDCARD.get(env.WILDCARD.idFromName(`${tenant}\u0000wildcard\u0000${home}`));
}

/** The tenant object that lists all tenants: not a valid tenant name (those start with a letter or digit). */
export const REGISTRY_NAME = '_registry';

export function tenantStub(env: Env, tenant: string) {
  return env.TENANT.get(env.TENANT.idFromName(tenant));
}

/** A token's own object: what a CONNECT with it checks, and its connections when it limits them. */
export function tokenStub(env: Env, tenant: string, tokenId: string) {
  return env.TOKEN.get(env.TOKEN.idFromName(`${tenant}\u0000token\u0000${tokenId}`));
}

/** One of a tenant's presence buckets (core/tenancy/presence.ts). */
export function presenceStub(env: Env, tenant: string, bucket: number) {
  return env.PRESENCE.get(env.PRESENCE.idFromName(`${tenant}\u0000presence\u0000${bucket}`));
}

/** Combiner `slot` of a tenant's shard `index` (core/routing/hot-topics.ts): a publisher always uses the same slot. */
export function combinerStub(env: Env, tenant: string, index: number, slot: number) {
  return env.COMBINER.get(env.COMBINER.idFromName(`${tenant}\u0000shard\u0000${index}\u0000combiner\u0000${slot}`));
}
