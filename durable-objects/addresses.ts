// How every Durable Object is named: a tenant prefix keeps tenants apart by construction.
import type { Env } from './env.js';

export { sessionName } from '../core/routing/message.js';

/** Object ids by namespace and name, most recent last: idFromName hashes the name on every call. */
const ids = new WeakMap<object, Map<string, DurableObjectId>>();
const IDS_KEPT = 10_000;

/** The object named `name` in `namespace`, its id computed once per isolate (ids are plain values). */
function named<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>, name: string): DurableObjectStub<T> {
  let known = ids.get(namespace);
  if (!known) {
    known = new Map();
    ids.set(namespace, known);
  }
  let id = known.get(name);
  if (id === undefined) {
    id = namespace.idFromName(name);
    known.set(name, id);
    if (known.size > IDS_KEPT) known.delete(known.keys().next().value!);
  }
  return namespace.get(id);
}

export function sessionStub(env: Env, name: string) {
  return named(env.SESSION, name);
}

const SHARD_INFIX = '\u0000shard\u0000';

export function shardStub(env: Env, tenant: string, index: number) {
  return named(env.SHARD, `${tenant}${SHARD_INFIX}${index}`);
}

/** The tenant of a topic shard's object name (shardStub's); undefined for any other name. */
export function shardTenant(name: string | undefined): string | undefined {
  const at = name?.lastIndexOf(SHARD_INFIX) ?? -1;
  return at > 0 && /^\d+$/.test(name!.slice(at + SHARD_INFIX.length)) ? name!.slice(0, at) : undefined;
}

/** Wildcard home `home` of a tenant (core/routing/wildcard-homes.ts). */
export function wildcardStub(env: Env, tenant: string, home: number) {
  return named(env.WILDCARD, `${tenant}\u0000wildcard\u0000${home}`);
}

/** The tenant object that lists all tenants: not a valid tenant name (those start with a letter or digit). */
export const REGISTRY_NAME = '_registry';

export function tenantStub(env: Env, tenant: string) {
  return named(env.TENANT, tenant);
}

/** A token's own object: what a CONNECT with it checks, and its connections when it limits them. */
export function tokenStub(env: Env, tenant: string, tokenId: string) {
  return named(env.TOKEN, `${tenant}\u0000token\u0000${tokenId}`);
}

/** One of a tenant's presence buckets (core/tenancy/presence.ts). */
export function presenceStub(env: Env, tenant: string, bucket: number) {
  return named(env.PRESENCE, `${tenant}\u0000presence\u0000${bucket}`);
}

/** Combiner `slot` of a tenant's shard `index` (core/routing/hot-topics.ts): a publisher always uses the same slot. */
export function combinerStub(env: Env, tenant: string, index: number, slot: number) {
  return named(env.COMBINER, `${tenant}\u0000shard\u0000${index}\u0000combiner\u0000${slot}`);
}

/** Log shard `shard` of a tenant's event log (core/tenancy/event-log.ts). */
export function logStub(env: Env, tenant: string, shard: number) {
  return named(env.EVENT_LOG, `${tenant}\u0000log\u0000${shard}`);
}

/** The object that holds and runs all of a tenant's bridges to other brokers. */
export function bridgesStub(env: Env, tenant: string) {
  return named(env.BRIDGES, `${tenant}\u0000bridges`);
}

/** The object that holds and runs all of a tenant's rules (messages out to webhooks and queues). */
export function rulesStub(env: Env, tenant: string) {
  return named(env.RULES, `${tenant}\u0000rules`);
}
