// The base every Durable Object class shares: counted SQLite access and its invocation counts, and what the
// object knows of itself from its id: its name and its tenant's data location.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.js';
import { CountedSql, newInvocationCounts } from './invocation-counters.js';
import { objectPlace, tenantOfObjectName, type DataLocation } from '../core/tenancy/data-location.js';
import { tenantLocations } from './addresses.js';

export abstract class CountedObject extends DurableObject<Env> {
  /** What woke this object and what it cost, since it last started (no storage write). */
  protected readonly invocations = newInvocationCounts();
  protected readonly sql: CountedSql;
  /**
   * The name this object was addressed by (addresses.ts builds it: the tenant, then "\0…"), undefined where
   * the platform does not say (alarms set before 2026-03-15). A local emulated jurisdiction's prefix is off.
   */
  protected readonly ownName: string | undefined;
  private readonly ownLocation: DataLocation;

  /** `learnLocation` false: the subclass calls learnOwnLocation() itself once it knows it is its tenant's. */
  constructor(ctx: DurableObjectState, env: Env, schema?: string, learnLocation = true) {
    super(ctx, env);
    const place = objectPlace(...ownIdentity(ctx));
    this.ownName = place.name;
    this.ownLocation = place.location;
    if (learnLocation) this.learnOwnLocation();
    this.sql = new CountedSql(ctx.storage.sql, this.invocations);
    if (schema) this.sql.run(schema);
  }

  /** The tenant this object belongs to (its name's first part), undefined where its name is not known. */
  protected get ownTenant(): string | undefined {
    return this.ownName === undefined ? undefined : tenantOfObjectName(this.ownName);
  }

  /**
   * An object only ever addresses objects of its own tenant, and lives where that tenant lives: its own id
   * tells this isolate the tenant's location, with no lookup (core/tenancy/data-location.ts).
   */
  protected learnOwnLocation(): void {
    if (this.ownName !== undefined) tenantLocations.learn(tenantOfObjectName(this.ownName), this.ownLocation);
  }

  /** Invocation counts since this object last started (RPC for tests and benchmarks; not itself counted). */
  async invocationCounts() {
    return { ...this.invocations };
  }
}

/** Where an object keeps the name and jurisdiction of its own id (storage's key-value side, one row). */
const IDENTITY_KEY = '__edge_mqtt_identity';

interface KeptIdentity {
  name: string;
  jurisdiction?: string;
}

/**
 * The object's id name and jurisdiction. Local workerd, and the platform for alarms set before 2026-03-15, wake
 * an object by its alarm (or a hibernated socket) with an id that carries no name: without it the object
 * would not know its tenant, and could address none of that tenant's objects (a session's will, a rule's
 * retry). So the first time an object sees its name it keeps it, one row for its whole life, and reads it
 * back when the id says nothing. Reading costs one row read per start of an object.
 */
function ownIdentity(ctx: DurableObjectState): [string | undefined, string | undefined] {
  const kept = ctx.storage.kv.get<KeptIdentity>(IDENTITY_KEY);
  const name = ctx.id.name;
  if (name === undefined) return [kept?.name, ctx.id.jurisdiction ?? kept?.jurisdiction];
  if (kept?.name !== name || kept.jurisdiction !== (ctx.id.jurisdiction ?? undefined)) {
    ctx.storage.kv.put(IDENTITY_KEY, { name, ...(ctx.id.jurisdiction ? { jurisdiction: ctx.id.jurisdiction } : {}) } satisfies KeptIdentity);
  }
  return [name, ctx.id.jurisdiction ?? undefined];
}
