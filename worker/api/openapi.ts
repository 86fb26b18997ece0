// The OpenAPI 3.1 document of /api/v1, built from the same schemas that validate requests.
import { BROKER_VERSION } from '../../durable-objects/version.js';
import { toJsonSchema } from './schema.js';
import { tokenInputSchema } from './token-input.js';
import { aclTestBodySchema } from './acl-routes.js';
import { bridgeInputSchema } from './bridge-routes.js';
import { ruleInputSchema } from './rule-input.js';
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
        BridgeInput: toJsonSchema(bridgeInputSchema),
        RuleInput: toJsonSchema(ruleInputSchema),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/tenants': {
        get: { summary: 'List tenants (admin; a tenant token gets 403), each with its data location, limits and token count', responses: { 200: { description: '{ tenants: [{ name, createdAt, jurisdiction, limits, tokens }] }; jurisdiction is null for global' }, 401: error, 403: error } },
        post: { summary: 'Create a tenant (admin); answers its first master token once. "default" (anonymous clients) is reserved. An optional jurisdiction keeps all its objects there', requestBody: { content: json('TenantInput') }, responses: { 201: { description: '{ tenant, jurisdiction, masterToken }' }, 400: error, 401: error, 403: error, 409: error } },
      },
      '/api/v1/tenants/{tenant}': {
        parameters: tenant,
        get: { summary: 'One tenant (admin): { name, createdAt, jurisdiction (null = global), limits, tokens }', responses: { 200: { description: 'tenant' }, 400: error, 401: error, 403: error, 404: error } },
      },
      '/api/v1/tenants/{tenant}/tokens': {
        parameters: tenant,
        get: {
          summary: 'List tokens (never their secrets)',
          parameters: [query('q', { type: 'string', maxLength: 256 }, 'only tokens whose name (any case) or id contains it')],
          responses: { 200: { description: 'tokens' }, 400: error, 401: error, 403: error },
        },
        post: { summary: 'Create a token; the token string is answered once', requestBody: { content: json('TokenInput') }, responses: { 201: { description: 'created' }, 400: error } },
      },
      '/api/v1/tenants/{tenant}/tokens/{id}': {
        parameters: [...tenant, idParam('id')],
        get: { summary: 'Read a token, with lastUsed (ms, to the minute; null = not used since recorded)', responses: { 200: { description: 'token' }, 404: error } },
        patch: { summary: 'Change ACL, limits, expiry or enabled; live connections follow at once', requestBody: { content: json('TokenInput') }, responses: { 200: { description: 'token' }, 400: error, 404: error } },
        delete: { summary: 'Delete a token and close its connections', responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/tokens/last-used': {
        parameters: tenant,
        get: {
          summary: 'When tokens last authenticated a CONNECT or an API call (to the minute): { lastUsed: { id: ms | null } }',
          parameters: [{ name: 'ids', in: 'query', required: true, schema: { type: 'string' }, description: '1 to 100 token ids, comma-separated' }],
          responses: { 200: { description: 'last used per id' }, 400: error },
        },
      },
      '/api/v1/tenants/{tenant}/tokens/{id}/rotate': {
        parameters: [...tenant, idParam('id')],
        post: {
          summary: 'A new secret: answers { token, info } once; the old secret is refused from now on (live connections keep running)',
          responses: { 200: { description: 'the new token string' }, 404: error },
        },
      },
      '/api/v1/tenants/{tenant}/acl/test': {
        parameters: tenant,
        post: {
          summary: 'Test a token\'s ACL (master): { allowed, entry (index of the deciding entry or null), reason, clientIdAllowed (null without clientId) }',
          requestBody: { content: json('AclTestInput') },
          responses: { 200: { description: 'the decision' }, 400: error, 403: error, 404: error },
        },
      },
      '/api/v1/tenants/{tenant}/sessions': {
        parameters: tenant,
        get: {
          summary: 'Sessions, connected and offline, a page at a time: client id, token, protocol version, keepalive, expiry; with details=1 subscriptions and queue depth',
          parameters: [
            query('limit', { type: 'integer', minimum: 1, maximum: 500 }, 'sessions per page, default 100'),
            query('after', { type: 'string' }, "the cursor: the previous page's next"),
            query('q', { type: 'string', maxLength: 256 }, 'only client ids containing it (case-sensitive)'),
            query('details', { type: 'string', enum: ['1'] }, "1: add subscriptions, queue depth, inflight and counters (wakes the page's sessions)"),
          ],
          responses: { 200: { description: '{ sessions, next }: next is the cursor of the following page, or null' }, 400: error },
        },
      },
      '/api/v1/tenants/{tenant}/sessions/{clientId}': { parameters: [...tenant, idParam('clientId')], delete: { summary: 'Disconnect a client (5.0: 0x98)', responses: { 204: { description: 'disconnected' }, 404: error } } },
      '/api/v1/tenants/{tenant}/sessions/{clientId}/state': {
        parameters: [...tenant, idParam('clientId')],
        delete: {
          summary: 'End an offline session: subscriptions, queued messages and pending will dropped, its next CONNECT starts afresh',
          responses: { 204: { description: 'ended' }, 404: error, 409: { ...error, description: 'the client is connected: disconnect it first' } },
        },
      },
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
      '/api/v1/tenants/{tenant}/bridges': {
        parameters: tenant,
        get: { summary: 'Bridges to other brokers (master): configuration (never the password: passwordSet), state, last error, counters', responses: { 200: { description: '{ bridges }' }, 403: error } },
        post: { summary: 'Create a bridge (at most 10 per tenant); it connects at once', requestBody: { content: json('BridgeInput') }, responses: { 201: { description: 'the bridge' }, 400: error, 403: error, 409: error } },
      },
      '/api/v1/tenants/{tenant}/bridges/{name}': {
        parameters: [...tenant, idParam('name')],
        get: { summary: 'One bridge with its status', responses: { 200: { description: 'the bridge' }, 404: error } },
        put: { summary: 'Replace its configuration (an omitted password is kept); it reconnects at once', requestBody: { content: json('BridgeInput') }, responses: { 200: { description: 'the bridge' }, 400: error, 404: error } },
        delete: { summary: 'Delete a bridge and end its sessions', responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/rules': {
        parameters: tenant,
        get: { summary: 'Rules (master): settings (never the secret; secretSet), counters, last errors, link and retry status, the rule session\'s queue', responses: { 200: { description: '{ rules }' }, 403: error } },
        post: {
          summary: 'Create a rule (at most 20 per tenant); a webhook secret left out is generated and answered once as secret',
          requestBody: { content: json('RuleInput') },
          responses: { 201: { description: '{ rule, secret? }' }, 400: error, 403: error, 409: { ...error, description: 'the name exists, or the tenant has 20 rules' } },
        },
      },
      '/api/v1/tenants/{tenant}/rules/{name}': {
        parameters: [...tenant, idParam('name')],
        get: { summary: 'One rule with its counters and status', responses: { 200: { description: '{ rule }' }, 404: error } },
        put: { summary: 'Replace a rule\'s settings (counters kept; a secret left out is kept; a changed filter starts a clean session)', requestBody: { content: json('RuleInput') }, responses: { 200: { description: '{ rule, secret? }' }, 400: error, 404: error } },
        delete: { summary: 'Delete a rule and end its session (its queued messages go)', responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/rules/{name}/test': {
        parameters: [...tenant, idParam('name')],
        post: { summary: 'Send one sample message to the rule\'s destination now: { ok, status?, error?, durationMs }', responses: { 200: { description: 'the outcome' }, 404: error } },
      },
      '/api/v1/tenants/{tenant}/limits': { parameters: tenant, put: { summary: 'Set the tenant limits (admin)', requestBody: { content: json('TenantLimits') }, responses: { 200: { description: 'limits' }, 400: error, 401: error, 403: error, 404: error } } },
      '/api/v1/stats': { get: { summary: 'Relay counters of the answering Worker isolate (admin)', responses: { 200: { description: 'counters' }, 401: error, 403: error } } },
    },
  };
}
