// Token strings: the MQTT username is `<tenant>.<tokenId>.<secret>`, so the Worker can route to the tenant
// without a global lookup; only a hash of the secret is ever stored.
//
//   acme.k3v9x2m4p8q1.Qm9vZ...   tenant "acme", token id "k3v9x2m4p8q1", secret after the second dot
import type { AclEntry } from '../acl/acl.js';
import type { TokenLimits } from './limits.js';

/** Tenant names: lower-case letters, digits and dashes, 1–32 characters, starting with a letter or digit. */
export const TENANT_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The tenant anonymous clients land in when the deployment allows them (local development does); global. */
export const DEFAULT_TENANT = 'default';
const TOKEN_ID = /^[a-z0-9]{12}$/;
const SECRET = /^[A-Za-z0-9_-]{32,64}$/;

export interface ParsedToken {
  tenant: string;
  tokenId: string;
  secret: string;
}

/** Splits a token string; undefined when it is not shaped like one of ours. */
export function parseToken(token: string): ParsedToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [tenant, tokenId, secret] = parts as [string, string, string];
  if (!TENANT_NAME.test(tenant) || !TOKEN_ID.test(tokenId) || !SECRET.test(secret)) return undefined;
  return { tenant, tokenId, secret };
}

export function formatToken(token: ParsedToken): string {
  return `${token.tenant}.${token.tokenId}.${token.secret}`;
}

/** Length-independent comparison of two hex digests (or any equal-length strings). */
export function constantTimeEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) difference |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return difference === 0;
}

/**
 * What a session knows of the token its client authenticated with: its ACL and limits bound what the
 * session may publish, subscribe and queue. Absent (null) for an anonymous client, which has full access.
 */
export interface ConnectionToken {
  id: string;
  acl: AclEntry[];
  limits: TokenLimits;
  /** The tenant's retained-topic limit, if any (enforced per shard as its share). */
  maxRetained?: number;
}

/**
 * How long a Worker isolate keeps a token (or its absence) after reading it from the token's object: a
 * reconnect storm of one shared token costs that object one read per isolate per second instead of one per
 * CONNECT. A change reaches live connections at once (pushed to their sessions) and, in a second sweep,
 * those admitted meanwhile from a cached copy (durable-objects/tenant-do.ts, TOKEN_SWEEP_AFTER_MS).
 */
export const TOKEN_CACHE_TTL_MS = 1_000;

/**
 * A token's "last used" is kept to the minute: a token used all the time costs one row written a minute in
 * its own object, and the callers (the Worker per isolate, the tenant object for API calls) tell it at most
 * that often too.
 */
export const USE_RESOLUTION_MS = 60_000;
