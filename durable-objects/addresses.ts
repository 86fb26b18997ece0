// How every Durable Object is named: a tenant prefix keeps tenants apart by construction.
import type { Env } from './env.js';

export { sessionName } from '../core/routing/message.js';

export function sessionStub(env: Env, name: string) {
  return env.SESSION.get(env.SESSION.idFromName(name));
}

export function shardStub(env: Env, tenant: string, index: number) {
  return env.SHARD.get(env.SHARD.idFromName(`${tenant}\u0000shard\u0000${index}`));
}

/** The tenant object that lists all tenants: not a valid tenant name (those start with a letter or digit). */
export const REGISTRY_NAME = '_registry';

export function tenantStub(env: Env, tenant: string) {
  return env.TENANT.get(env.TENANT.idFromName(tenant));
}
