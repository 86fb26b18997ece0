// A Worker learns where a tenant's objects live before it addresses any of them: from the tenant's directory
// entry (a global object, one per tenant), once per isolate and tenant; a tenant found nowhere is asked about
// again after a moment (core/tenancy/data-location.ts LocationBook).
import { directoryStub, tenantLocations } from '../durable-objects/addresses.js';
import type { Env } from '../durable-objects/env.js';

/**
 * True once this isolate knows where the tenant lives (addresses.ts may then address its objects); false
 * when no such tenant exists. Costs a call only the first time per isolate and tenant.
 */
export async function knowTenantLocation(env: Env, tenant: string): Promise<boolean> {
  const location = await tenantLocations.lookup(tenant, Date.now(), async () => (await directoryStub(env, tenant).tenantLocation(tenant))?.jurisdiction);
  return location !== undefined;
}
