// Who may use a tenant's API routes: the deployment admin, or a master token of that very tenant.
import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { TENANT_NAME, constantTimeEqual, parseToken } from '../../core/tenancy/token.js';
import { tenantStub } from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';
import type { TokenInfo } from '../../durable-objects/token-store.js';
import { brokerConfig } from '../../durable-objects/config.js';
import { DEFAULT_TENANT } from '../authenticate.js';
import { cachedTenantExists } from '../token-cache.js';
import { knowTenantLocation } from '../tenant-location.js';

export type ApiVariables = { tenant: string; caller: 'admin' | 'master' | 'token'; token?: TokenInfo; maxRetained?: number };

export function jsonError(status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503, error: string, headers?: Record<string, string>): HTTPException {
  return new HTTPException(status, { res: Response.json({ error }, { status, ...(headers ? { headers } : {}) }) });
}

function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** True when the bearer is the deployment's admin secret (compared in constant time). */
export function isAdmin(env: Env, header: string | undefined): boolean {
  const bearer = bearerOf(header);
  return bearer !== undefined && env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN !== '' && constantTimeEqual(bearer, env.ADMIN_TOKEN);
}

/**
 * Admits only the deployment admin (ADMIN_TOKEN). No bearer, or one that is neither the admin secret nor a
 * valid token: 401. A valid tenant token (a master one too) authenticates fine but is not allowed here: 403.
 */
export const requireAdmin: MiddlewareHandler<{ Bindings: Env; Variables: ApiVariables }> = async (c, next) => {
  if (!c.env.ADMIN_TOKEN) throw jsonError(503, 'ADMIN_TOKEN is not configured (wrangler secret put ADMIN_TOKEN)');
  const header = c.req.header('Authorization');
  if (isAdmin(c.env, header)) return next();
  const bearer = bearerOf(header);
  const parsed = bearer ? parseToken(bearer) : undefined;
  if (parsed && (await knowTenantLocation(c.env, parsed.tenant)) && (await tenantStub(c.env, parsed.tenant).authenticate(parsed.tokenId, parsed.secret)).ok) {
    throw jsonError(403, 'only the deployment admin (ADMIN_TOKEN) may use this route, not a tenant token');
  }
  throw jsonError(401, 'missing or invalid bearer token');
};

/** Provisioned, or the anonymous clients' tenant where anonymous clients may connect (used or not yet). */
async function tenantKnown(env: Env, tenant: string): Promise<boolean> {
  if (tenant === DEFAULT_TENANT && brokerConfig(env).allowAnonymous) return true;
  if (!(await knowTenantLocation(env, tenant))) return false;
  return cachedTenantExists(env, tenant);
}

/**
 * Admits the admin (for a tenant that exists: else 404) or any valid token of the `:tenant` in the path (other
 * tenants' tokens get 403) and
 * records who called: routes other than publish then require a master token.
 */
export const requireTenantToken: MiddlewareHandler<{ Bindings: Env; Variables: ApiVariables }> = async (c, next) => {
  const tenant = c.req.param('tenant') ?? '';
  if (!TENANT_NAME.test(tenant)) throw jsonError(400, 'tenant must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit');
  c.set('tenant', tenant);
  const header = c.req.header('Authorization');
  if (isAdmin(c.env, header)) {
    // A token's tenant exists (its token says so); the admin names any tenant, so it is checked here: a
    // token created for a tenant that does not exist would connect into a tenant nobody provisioned.
    if (!(await tenantKnown(c.env, tenant))) throw jsonError(404, `no tenant "${tenant}"`);
    c.set('caller', 'admin');
    return next();
  }
  const bearer = bearerOf(header);
  const parsed = bearer ? parseToken(bearer) : undefined;
  if (!parsed) throw jsonError(401, 'missing or invalid bearer token');
  if (parsed.tenant !== tenant) throw jsonError(403, 'this token belongs to another tenant');
  if (!(await knowTenantLocation(c.env, tenant))) throw jsonError(401, 'token unknown');
  const result = await tenantStub(c.env, tenant).authenticate(parsed.tokenId, parsed.secret);
  if (!result.ok) throw jsonError(401, `token ${result.reason}`);
  c.set('caller', result.token.master ? 'master' : 'token');
  c.set('token', result.token as TokenInfo);
  if (result.tenantLimits.maxRetained !== undefined) c.set('maxRetained', result.tenantLimits.maxRetained);
  return next();
};
