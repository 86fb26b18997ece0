// Request bodies of the admin API: each schema validates requests and is published in openapi.json.
import type { Schema } from './schema.js';
import { TENANT_NAME } from '../../core/tenancy/token.js';
import { JURISDICTIONS } from '../../core/tenancy/data-location.js';
import { isValidTopicName } from '../../core/topic/validate.js';

export const tenantLimitsSchema: Schema = {
  type: 'object',
  description: 'Limits of the whole tenant; absent = none.',
  properties: {
    maxTokens: { type: 'integer', minimum: 1, description: 'tokens the tenant may have' },
    maxSessions: { type: 'integer', minimum: 1, description: 'sessions (connected or offline) the tenant may have' },
    maxRetained: { type: 'integer', minimum: 1, description: 'retained topics; each shard holds at most its share, ceil(maxRetained / SHARD_COUNT)' },
  },
};

export const tenantBodySchema: Schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: TENANT_NAME.source, description: '1-32 characters of a-z, 0-9 and -, starting with a letter or digit' },
    limits: tenantLimitsSchema,
    jurisdiction: {
      type: 'string',
      enum: [...JURISDICTIONS],
      description: 'Durable Object jurisdiction every object of the tenant lives in (data location), fixed at creation; absent = global',
    },
  },
};

export const publishBodySchema: Schema = {
  type: 'object',
  required: ['topic'],
  properties: {
    topic: {
      type: 'string',
      minLength: 1,
      description: 'MQTT topic name (no wildcards, not starting with $)',
      check: (topic: string) => (isValidTopicName(topic) && !topic.startsWith('$') ? undefined : 'must be a valid MQTT topic name without wildcards, not starting with $'),
    },
    payload: { type: 'string', description: 'utf8 text, or base64 when encoding is "base64"' },
    encoding: { type: 'string', enum: ['utf8', 'base64'] },
    qos: { type: 'integer', enum: [0, 1] },
    retain: { type: 'boolean' },
  },
};
