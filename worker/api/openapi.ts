// The OpenAPI 3.1 document of /api/v1, built from the same schemas that validate requests.
import { BROKER_VERSION } from '../../durable-objects/version.js';
import { toJsonSchema } from './schema.js';
import { tokenInputSchema } from './token-input.js';
import { aclTestBodySchema } from './acl-routes.js';
import { publishBodySchema, tenantBodySchema, tenantLimitsSchema } from './schemas.js';

const error = { description: 'bad input or access', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const query = (name: string, schema: Record<string, unknown>, description: string) => ({ name, in: 'query', required: false, schema, description });

export function openApiDocument(): Record<string, unknown> {
  const tenant = [{ name: 'tenant', in: 'path', required: true, schema: { type: 'string' } }];
  return {
    openapi: '3.1.0',
    info: { title: 'edge-mqtt-broker admin API', version: BROKER_VERSION },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or a token of the tenant in the path' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
        TenantInput: toJsonSchema(tenantBodySchema),
        TokenInput: toJsonSchema(tokenInputSchema),
        AclTestInput: toJsonSchema(aclTestBodySchema),
        PublishInput: toJsonSchema(publishBodySchema),
        TenantLimits: toJsonSchema(tenantLimitsSchema),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/tenants': {
        get: { summary: 'List tenants (admin; a tenant token gets 403)', responses: { 200: { description: 'tenants' }, 401: error, 403: error } },
        post: { summary: 'Create a tenant (admin); answers its first master token once. "default" (anonymous clients) is reserved', requestBody: { content: json('TenantInput') }, responses: { 201: { description: 'created' }, 400: error, 401: error, 403: error, 409: error } },
      },
      '/api/v1/tenants/{tenant}/tokens': {
        parameters: tenant,
        get: { summary: 'List tokens (never their secrets)', responses: { 200: { description: 'tokens' }, 401: error, 403: error } },
        post: { summary: 'Create a token; the token string is answered once', requestBody: { content: json('TokenInput') }, responses: { 201: { description: 'created' }, 400: error } },
      },
      '/api/v1/tenants/{tenant}/tokens/{id}': {
        parameters: [...tenant, idParam('id')],
        get: { summary: 'Read a token', responses: { 200: { description: 'token' }, 404: error } },
        patch: { summary: 'Change ACL, limits, expiry or enabled; live connections follow at once', requestBody: { content: json('TokenInput') }, responses: { 200: { description: 'token' }, 400: error, 404: error } },
        delete: { summary: 'Delete a token and close its connections', responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/acl/test': {
        parameters: tenant,
        post: {
          summary: 'Test a token\'s ACL (master): { allowed, entry (index of the deciding entry or null), reason, clientIdAllowed (null without clientId) }',
          requestBody: { content: json('AclTestInput') },
          responses: { 200: { description: 'the decision' }, 400: error, 403: error, 404: error },
        },
      },
      '/api/v1/tenants/{tenant}/sessions': { parameters: tenant, get: { summary: 'Sessions with subscriptions and queue depth', responses: { 200: { description: 'sessions' } } } },
      '/api/v1/tenants/{tenant}/sessions/{clientId}': { parameters: [...tenant, idParam('clientId')], delete: { summary: 'Disconnect a client (5.0: 0x98)', responses: { 204: { description: 'disconnected' }, 404: error } } },
      '/api/v1/tenants/{tenant}/stats': { parameters: tenant, get: { summary: 'Tenant statistics ($SYS figures)', responses: { 200: { description: 'statistics' } } } },
      '/api/v1/tenants/{tenant}/stats/history': {
        parameters: [...tenant, { name: 'minutes', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1440 } }],
        get: { summary: 'Per-minute counts (connects, messages, bytes, limit hits, requests and rows) and per-token usage', responses: { 200: { description: 'history' }, 400: error } },
      },
      '/api/v1/tenants/{tenant}/events': {
        parameters: [
          ...tenant,
          ...['limit', 'before', 'clientId', 'tokenId', 'kind'].map((name) => ({ name, in: 'query', schema: { type: name === 'limit' ? 'integer' : 'string' } })),
        ],
        get: { summary: 'The event log, newest first (follow next as before)', responses: { 200: { description: 'events' }, 400: error } },
      },
      '/api/v1/tenants/{tenant}/publish': {
        parameters: tenant,
        post: {
          summary: "Publish over HTTP with any token of the tenant, obeying its ACL, maxMessageSize and publishRate, and the broker's maximum packet size",
          requestBody: { content: json('PublishInput') },
          responses: {
            200: { description: 'delivered count' },
            400: error,
            403: error,
            413: { ...error, description: "body, message or payload too large (MAX_PACKET_SIZE, the token's maxMessageSize)" },
            429: { ...error, description: "past the token's publishRate (per token, per second)", headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } } },
          },
        },
      },
      '/api/v1/tenants/{tenant}/retained': {
        parameters: tenant,
        get: {
          summary: 'One page of the retained messages matching ?filter= (default #), in topic order; follow next as ?after= until it is null',
          parameters: [
            query('filter', { type: 'string' }, 'MQTT topic filter, default #'),
            query('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'messages per page, default 100 (a page also ends past 4 MiB of payload)'),
            query('after', { type: 'string' }, 'the cursor: the previous page\'s next (topics after it)'),
          ],
          responses: { 200: { description: '{ messages, next }: next is the cursor of the following page, or null' }, 400: error },
        },
        delete: { summary: 'Delete the retained message of ?topic=', responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/limits': { parameters: tenant, put: { summary: 'Set the tenant limits (admin)', requestBody: { content: json('TenantLimits') }, responses: { 200: { description: 'limits' }, 400: error, 401: error, 403: error, 404: error } } },
      '/api/v1/stats': { get: { summary: 'Relay counters of the answering Worker isolate (admin)', responses: { 200: { description: 'counters' }, 401: error, 403: error } } },
    },
  };
}
