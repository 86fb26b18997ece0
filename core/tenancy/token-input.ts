// What a token may be created or updated with through the API, validated in one place.
import { aclProblem, type AclEntry } from '../acl/acl.js';
import { limitsProblem, type TokenLimits } from './limits.js';

export interface TokenInput {
  name?: string;
  acl?: AclEntry[];
  limits?: TokenLimits;
  /** ms since the epoch, or null for no expiry. */
  expiresAt?: number | null;
  enabled?: boolean;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks and normalises token input (unknown fields are refused, so typos do not pass silently). */
export function checkTokenInput(input: unknown): Checked<TokenInput> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, error: 'body must be a JSON object' };
  const fields = input as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!['name', 'acl', 'limits', 'expiresAt', 'enabled'].includes(key)) return { ok: false, error: `unknown field "${key}"` };
  }
  const out: TokenInput = {};
  if (fields.name !== undefined) {
    if (typeof fields.name !== 'string' || fields.name.length === 0 || fields.name.length > 100) return { ok: false, error: 'name must be a string of 1 to 100 characters' };
    out.name = fields.name;
  }
  if (fields.acl !== undefined) {
    const problem = aclProblem(fields.acl);
    if (problem) return { ok: false, error: problem };
    out.acl = (fields.acl as AclEntry[]).map((entry) => ({ filter: entry.filter, rights: [...new Set(entry.rights)] }));
  }
  if (fields.limits !== undefined) {
    const problem = limitsProblem(fields.limits);
    if (problem) return { ok: false, error: problem };
    out.limits = fields.limits as TokenLimits;
  }
  if (fields.expiresAt !== undefined) {
    if (fields.expiresAt !== null && (!Number.isInteger(fields.expiresAt) || (fields.expiresAt as number) < 0)) {
      return { ok: false, error: 'expiresAt must be null or a time in ms since the epoch' };
    }
    out.expiresAt = fields.expiresAt as number | null;
  }
  if (fields.enabled !== undefined) {
    if (typeof fields.enabled !== 'boolean') return { ok: false, error: 'enabled must be true or false' };
    out.enabled = fields.enabled;
  }
  return { ok: true, value: out };
}
