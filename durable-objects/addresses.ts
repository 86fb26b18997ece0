// How every Durable Object is named and where it lives: a tenant prefix keeps tenants apart by construction,
// and the tenant's data location (core/tenancy/data-location.ts) picks the namespace: every object of a
// tenant created in a jurisdiction is addressed through `namespace.jurisdiction(j)`, so it lives there.
import type { Env } from './env.js';
import { DEFAULT_TENANT } from '../core/tenancy/token.js';
import { emulatedName, isDeploymentName, LocationBook, tenantOfObjectName, type DataLocation } from '../core/tenancy/data-location.js';

export { sessionName } from '../core/routing/message.js';

/** A tenant not found anywhere is asked about again after this long (it may be created meanwhile). */
const LOCATION_MISS_TTL_MS = 2_000;

/**
 * Where each tenant's objects live, as far as this isolate knows: from the directory (worker/tenant-location.ts),
 * the registry's list, or a Durable Object's own id (CountedObject). Facts never change: kept for good.
 */
export const tenantLocations = new LocationBook(LOCATION_MISS_TTL_MS);
tenantLocations.learn(DEFAULT_TENANT, null);

/** The tenant's data location; throws when this isolate does not know it (never guesses global). */
export function locationOf(tenant: string): DataLocation {
  const location = tenantLocations.get(tenant);
  if (location === undefined) throw new Error(`data location of tenant "${tenant}" is not known here: look it up (knowTenantLocation) before addressing its objects`);
  return location;
}

/** Object ids by namespace and located name, most recent last: idFromName hashes the name on every call. */
const ids = new WeakMap<object, Map<string, DurableObjectId>>();
const IDS_KEPT = 10_000;
/** Jurisdiction-restricted namespaces by binding (one subnamespace object per jurisdiction). */
const restricted = new WeakMap<object, Map<string, object>>();

function inJurisdiction<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>, jurisdiction: DurableObjectJurisdiction): DurableObjectNamespace<T> {
  let byJurisdiction = restricted.get(namespace);
  if (!byJurisdiction) restricted.set(namespace, (byJurisdiction = new Map()));
  let sub = byJurisdiction.get(jurisdiction) as DurableObjectNamespace<T> | undefined;
  if (!sub) {
    try {
      sub = namespace.jurisdiction(jurisdiction);
    } catch (error) {
      throw new Error(`Durable Object jurisdiction "${jurisdiction}" is not available here (${String(error)}); local workerd has none: set EMULATE_JURISDICTIONS=true for local development`);
    }
    byJurisdiction.set(jurisdiction, sub);
  }
  return sub;
}

/**
 * The object `name` of `tenant` in `namespace`, in the tenant's data location: THE way to address an object
 * (new object kinds add a one-line stub function below that calls it). `name` must be the tenant or start
 * with the tenant and "\0", so an object can tell its tenant from its own name. Throws for a tenant whose
 * location this isolate has not learnt.
 */
export function tenantObject<T extends Rpc.DurableObjectBranded | undefined>(env: Env, namespace: DurableObjectNamespace<T>, tenant: string, name: string): DurableObjectStub<T> {
  if (tenantOfObjectName(name) !== tenant) throw new Error(`object name ${JSON.stringify(name)} does not belong to tenant "${tenant}"`);
  const location = locationOf(tenant);
  const emulated = location !== null && env.EMULATE_JURISDICTIONS === 'true' ? location : undefined;
  const target = location === null || emulated ? namespace : inJurisdiction(namespace, location);
  const located = emulated ? emulatedName(emulated, name) : name;
  // Emulated names carry their jurisdiction; real ones are keyed by it (one name, one id per jurisdiction).
  const key = emulated ? located : `${location ?? ''}\u0000${name}`;
  let known = ids.get(namespace);
  if (!known) {
    known = new Map();
    ids.set(namespace, known);
  }
  let id = known.get(key);
  if (id === undefined) {
    id = target.idFromName(located);
    known.set(key, id);
    if (known.size > IDS_KEPT) known.delete(known.keys().next().value!);
  }
  return target.get(id);
}

/** The session object `name` (sessionName(tenant, clientId)): its tenant is the name's first part. */
export function sessionStub(env: Env, name: string) {
  return tenantObject(env, env.SESSION, tenantOfObjectName(name), name);
}

const SHARD_INFIX = '\u0000shard\u0000';

/** The object name of a tenant's topic shard `index`. */
export function shardName(tenant: string, index: number): string {
  return `${tenant}${SHARD_INFIX}${index}`;
}

export function shardStub(env: Env, tenant: string, index: number) {
  return tenantObject(env, env.SHARD, tenant, shardName(tenant, index));
}

/** The tenant of a topic shard's object name (shardStub's); undefined for any other name. */
export function shardTenant(name: string | undefined): string | undefined {
  const at = name?.lastIndexOf(SHARD_INFIX) ?? -1;
  return at > 0 && /^\d+$/.test(name!.slice(at + SHARD_INFIX.length)) ? name!.slice(0, at) : undefined;
}

/** Wildcard home `home` of a tenant (core/routing/wildcard-homes.ts). */
export function wildcardStub(env: Env, tenant: string, home: number) {
  return tenantObject(env, env.WILDCARD, tenant, `${tenant}\u0000wildcard\u0000${home}`);
}

/** The tenant object that lists all tenants: not a valid tenant name (those start with a letter or digit). */
export const REGISTRY_NAME = '_registry';

/** A tenant's object; REGISTRY_NAME is the registry (global, as every name starting with "_"). */
export function tenantStub(env: Env, tenant: string) {
  return tenantObject(env, env.TENANT, tenant, tenant);
}

/** The registry: every tenant created through the API, with its location (global, as every name starting "_"). */
export function registryStub(env: Env) {
  return tenantStub(env, REGISTRY_NAME);
}

/**
 * A tenant's directory entry: a TenantDO in the global namespace, named "_directory\0<tenant>", that says where
 * the tenant's objects live. Global whatever the tenant's location, so that a Worker can find it first; one
 * per tenant, so that no single object meets every cold isolate of every tenant.
 */
export function directoryStub(env: Env, tenant: string) {
  if (isDeploymentName(tenant)) throw new Error(`"${tenant}" is not a tenant`);
  const name = `_directory\u0000${tenant}`;
  return tenantObject(env, env.TENANT, tenantOfObjectName(name), name);
}

/**
 * The global tenant object named `tenant`, whatever the tenant's location: only the directory reads it, to
 * tell a tenant created before data locations existed (global by definition) from an unknown one.
 */
export function legacyTenantStub(env: Env, tenant: string) {
  return env.TENANT.get(env.TENANT.idFromName(tenant));
}

/** A token's own object: what a CONNECT with it checks, and its connections when it limits them. */
export function tokenStub(env: Env, tenant: string, tokenId: string) {
  return tenantObject(env, env.TOKEN, tenant, `${tenant}\u0000token\u0000${tokenId}`);
}

/** One of a tenant's presence buckets (core/tenancy/presence.ts). */
export function presenceStub(env: Env, tenant: string, bucket: number) {
  return tenantObject(env, env.PRESENCE, tenant, `${tenant}\u0000presence\u0000${bucket}`);
}

/** Combiner `slot` of a tenant's shard `index` (core/routing/hot-topics.ts): a publisher always uses the same slot. */
export function combinerStub(env: Env, tenant: string, index: number, slot: number) {
  return tenantObject(env, env.COMBINER, tenant, `${tenant}\u0000shard\u0000${index}\u0000combiner\u0000${slot}`);
}

/** Log shard `shard` of a tenant's event log (core/tenancy/event-log.ts). */
export function logStub(env: Env, tenant: string, shard: number) {
  return tenantObject(env, env.EVENT_LOG, tenant, `${tenant}\u0000log\u0000${shard}`);
}

/**
 * The relay serving chunk `slot` of the shard named `owner` (shardStub's name): the same subscribers
 * (fanoutSlot) go through the same relay, and its per-session outboxes keep their order. Relays live with
 * their tenant.
 */
export function fanoutStub(env: Env, owner: string, slot: number) {
  return tenantObject(env, env.FANOUT, tenantOfObjectName(owner), `${owner}\u0000fanout\u0000${slot}`);
}

/** The object that holds and runs all of a tenant's bridges to other brokers. */
export function bridgesStub(env: Env, tenant: string) {
  return tenantObject(env, env.BRIDGES, tenant, `${tenant}\u0000bridges`);
}

/** The object that holds and runs all of a tenant's rules (messages out to webhooks and queues). */
export function rulesStub(env: Env, tenant: string) {
  return tenantObject(env, env.RULES, tenant, `${tenant}\u0000rules`);
}
