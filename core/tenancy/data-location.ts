// Where a tenant's Durable Objects live: a platform jurisdiction, fixed when the tenant is created, or global.
//
//   tenant "acme" created with jurisdiction "eu"
//     every object named "acme" or "acme\0…" (session, shards, tokens, …) ─▶ SESSION.jurisdiction("eu") …
//   tenant "beta" created without one, "default", tenants older than this feature ─▶ global namespaces
//   "_registry", "_directory\0acme" (the deployment's own objects)              ─▶ always global
//
// A location never changes once a tenant exists (tenants are not deleted), so an isolate may remember it
// for its whole life; not knowing it is an error, never a reason to fall back to global.

/** The platform's jurisdictions (DurableObjectJurisdiction in @cloudflare/workers-types). */
export const JURISDICTIONS = ['eu', 'fedramp', 'fedramp-high'] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];
/** A tenant's data location: its jurisdiction, or null for global (no jurisdiction). */
export type DataLocation = Jurisdiction | null;

export function isJurisdiction(value: unknown): value is Jurisdiction {
  return typeof value === 'string' && (JURISDICTIONS as readonly string[]).includes(value);
}

/**
 * A location as stored (NULL = global). A value this release does not know is an error, not global: data
 * must never be looked for in the wrong place.
 */
export function storedLocation(value: unknown): DataLocation {
  if (value === null || value === undefined) return null;
  if (isJurisdiction(value)) return value;
  throw new Error(`stored data location ${JSON.stringify(value)} is not one this release knows (${JURISDICTIONS.join(', ')})`);
}

/** A location as the API and dashboard show it. */
export function describeLocation(location: DataLocation): string {
  return location ?? 'global';
}

/**
 * The tenant an object name belongs to: the name up to its first NUL (every name addresses.ts builds starts
 * with its tenant, then "\0"). Names whose tenant part starts with "_" are the deployment's own objects.
 */
export function tenantOfObjectName(name: string): string {
  const at = name.indexOf('\u0000');
  return at < 0 ? name : name.slice(0, at);
}

/** True for the deployment's own objects ("_registry", directory entries): global by definition. */
export function isDeploymentName(tenant: string): boolean {
  return tenant.startsWith('_');
}

// Local workerd implements no jurisdictions (namespace.jurisdiction() throws "not implemented in workerd"):
// EMULATE_JURISDICTIONS=true keeps such objects apart in the global namespace by a name prefix instead.
const EMULATED = /^@([a-z-]+)\/(.*)$/s;

/** The global-namespace name standing for `name` in jurisdiction `jurisdiction` when jurisdictions are emulated. */
export function emulatedName(jurisdiction: Jurisdiction, name: string): string {
  return `@${jurisdiction}/${name}`;
}

/** An object's own name and location from its id's name (emulated prefix stripped) and its id's jurisdiction. */
export function objectPlace(idName: string | undefined, idJurisdiction: string | undefined): { name?: string; location: DataLocation } {
  const emulated = idName === undefined ? null : EMULATED.exec(idName);
  if (emulated && isJurisdiction(emulated[1])) return { name: emulated[2]!, location: emulated[1] };
  const location = storedLocation(idJurisdiction);
  return idName === undefined ? { location } : { name: idName, location };
}

/**
 * An isolate's book of tenant locations. What it knows it knows for good (a location never changes); a
 * tenant found nowhere is remembered as missing for `missTtlMs` only (it may be created any moment), and
 * lookups of one tenant that overlap share one read.
 */
export class LocationBook {
  /**
   * Never evicted: an object learns its own tenant's location once, when constructed, and evicting it would
   * strand the object. One short entry per tenant the isolate serves (100,000 tenants: a few MB).
   */
  private readonly known = new Map<string, DataLocation>();
  private readonly missing = new Map<string, number>();
  private readonly reading = new Map<string, Promise<DataLocation | undefined>>();

  constructor(
    private readonly missTtlMs: number,
    private readonly maxMissing = 10_000,
  ) {}

  /** The tenant's location, or undefined when this isolate has not learnt it. */
  get(tenant: string): DataLocation | undefined {
    if (isDeploymentName(tenant)) return null;
    return this.known.get(tenant);
  }

  /** Records a fact; a different location for a tenant already known is a bug somewhere, and says so. */
  learn(tenant: string, location: DataLocation): void {
    if (isDeploymentName(tenant)) return;
    const before = this.known.get(tenant);
    if (before !== undefined && before !== location) {
      throw new Error(`tenant "${tenant}" is known to live in ${describeLocation(before)}, not ${describeLocation(location)}`);
    }
    this.known.set(tenant, location);
    this.missing.delete(tenant);
  }

  /**
   * The tenant's location, from memory or else from `read` (undefined: no such tenant). A failed read is not
   * remembered; a miss is, briefly.
   */
  async lookup(tenant: string, now: number, read: () => Promise<DataLocation | undefined>): Promise<DataLocation | undefined> {
    const known = this.get(tenant);
    if (known !== undefined) return known;
    const missUntil = this.missing.get(tenant);
    if (missUntil !== undefined && missUntil > now) return undefined;
    let pending = this.reading.get(tenant);
    if (!pending) {
      pending = read().finally(() => this.reading.delete(tenant));
      this.reading.set(tenant, pending);
    }
    const location = await pending;
    if (location === undefined) this.remember(tenant, now);
    else this.learn(tenant, location);
    return location;
  }

  private remember(tenant: string, now: number): void {
    this.missing.delete(tenant);
    if (this.missing.size >= this.maxMissing) this.missing.delete(this.missing.keys().next().value!);
    this.missing.set(tenant, now + this.missTtlMs);
  }
}
