// What a token may be created or updated with through the API: one schema validates it and documents it.
import { isValidTopicFilter } from '../../core/topic/validate.js';
import type { TokenInput } from '../../durable-objects/token-store.js';
import { validate, type Schema } from './schema.js';

const positive = (description: string): Schema => ({ type: 'integer', minimum: 1, description });

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
        isValidTopicFilter(filter.replaceAll('%c', 'c').replaceAll('%u', 'u')) ? undefined : 'must be a valid MQTT topic filter (with optional %c / %u)',
    },
    rights: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string', enum: ['pub', 'sub'] }, description: 'pub, sub or both' },
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
    name: { type: 'string', minLength: 1, maxLength: 100 },
    acl: { type: 'array', items: aclEntrySchema, maxItems: 200 },
    limits: tokenLimitsSchema,
    expiresAt: { type: 'integer', minimum: 0, nullable: true, description: 'expiry in ms since the epoch; null = never' },
    enabled: { type: 'boolean' },
  },
};

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks token input against the schema and normalises it (duplicate rights folded). */
export function checkTokenInput(input: unknown): Checked<TokenInput> {
  const problem = validate(tokenInputSchema, input);
  if (problem) return { ok: false, error: problem };
  const value = { ...(input as TokenInput) };
  if (value.acl) value.acl = value.acl.map((entry) => ({ filter: entry.filter, rights: [...new Set(entry.rights)] }));
  return { ok: true, value };
}
