// What a token may be created or updated with through the API: one schema validates it and documents it.
import { isValidTopicFilter } from '../../core/topic/validate.js';
import { MAX_EXPIRES_AT, type TokenInput } from '../../durable-objects/token-store.js';
import { validate, type Schema } from './schema.js';

const positive = (description: string): Schema => ({ type: 'integer', minimum: 1, description });

/**
 * A JSON string may hold a lone surrogate ("\ud800"), which has no UTF-8 form: storage would silently turn it
 * into U+FFFD, so the token read back differs from the one answered. Refused instead (with `u`, a
 * surrogate pair is one code point and does not match).
 */
export const wellFormed = (value: string): string | undefined => (/\p{Surrogate}/u.test(value) ? 'must be well-formed Unicode (no lone surrogate)' : undefined);

export const aclEntrySchema: Schema = {
  type: 'object',
  required: ['filter', 'rights'],
  description: 'A topic filter (with %c = client id and %u = token id placeholders) and the rights it grants.',
  properties: {
    filter: {
      type: 'string',
      minLength: 1,
      maxLength: 65535,
      description: 'MQTT topic filter, e.g. devices/%c/#',
      check: (filter: string) =>
        isValidTopicFilter(filter.replace(/%([cu])/g, '$1')) ? undefined : 'must be a valid MQTT topic filter (with optional %c / %u)',
    },
    rights: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', enum: ['pub', 'sub'] }, description: 'pub, sub or both' },
    access: {
      type: 'string',
      enum: ['allow', 'deny'],
      description: 'allow (default) or deny; entries are evaluated in order and the first whose rights and filter match decides',
    },
  },
};

export const tokenLimitsSchema: Schema = {
  type: 'object',
  description: 'Per-token limits; absent = only the deployment limits apply.',
  properties: {
    maxConnections: positive('concurrent MQTT connections with this token'),
    publishRate: positive('PUBLISH packets per second per connection'),
    maxMessageSize: positive('largest payload in bytes'),
    maxSubscriptions: positive('subscriptions per session'),
    maxQueued: positive('messages queued per offline session'),
  },
};

export const tokenInputSchema: Schema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, check: wellFormed },
    acl: { type: 'array', items: aclEntrySchema, maxItems: 200, description: 'ordered: the first matching entry decides; none matches = denied' },
    limits: tokenLimitsSchema,
    expiresAt: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_EXPIRES_AT,
      nullable: true,
      description: `expiry in ms since the epoch, at most ${MAX_EXPIRES_AT} (2100-01-01); null = never`,
    },
    enabled: { type: 'boolean' },
    clientIds: {
      type: 'array',
      maxItems: 50,
      items: { type: 'string', minLength: 1, maxLength: 256, check: wellFormed },
      description: 'client ids this token may connect with: * matches any run of characters, %u is the token id; empty or absent = any',
    },
  },
};

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks token input against the schema and normalises it (duplicate rights folded). */
export function checkTokenInput(input: unknown): Checked<TokenInput> {
  const problem = validate(tokenInputSchema, input);
  if (problem) return { ok: false, error: problem };
  const value = { ...(input as TokenInput) };
  if (value.acl) value.acl = value.acl.map((entry) => ({ filter: entry.filter, rights: [...new Set(entry.rights)], ...(entry.access ? { access: entry.access } : {}) }));
  return { ok: true, value };
}
