// The admin REST API under /api/v1 (JSON): tenants (admin only), tokens (admin or the tenant's master
// token), statistics. Bad input gets a 4xx with a JSON error saying what is wrong.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { directoryStub, locationOf, REGISTRY_NAME, sessionName, sessionStub, tenantLocations, tenantStub, tokenStub } from '../../durable-objects/addresses.js';
import { describeLocation, type DataLocation, type Jurisdiction } from '../../core/tenancy/data-location.js';
import { knowTenantLocation } from '../tenant-location.js';
import type { Env } from '../../durable-objects/env.js';
import { relayCounters } from '../mqtt-relay.js';
import { jsonError, requireAdmin, requireTenantToken, type ApiVariables } from './tenant-auth.js';
import { aclIdentity, admitPublish, messageToRoute } from '../../core/session/admission.js';
import { ReasonCode } from '../../core/reason-codes.js';
import { isValidTopicFilter, isValidTopicName, parseSharedSubscription } from '../../core/topic/validate.js';
import { openApiDocument } from './openapi.js';
import { validate } from './schema.js';
import { publishBodySchema, tenantBodySchema, tenantLimitsSchema } from './schemas.js';
import { checkTokenInput } from './token-input.js';
import { aclRoutes } from './acl-routes.js';
import { eventsRoutes } from './events-routes.js';
import { bridgeRoutes } from './bridge-routes.js';
import { ruleRoutes } from './rule-routes.js';
import type { TenantLimits } from '../../durable-objects/tenant-do.js';
import { ShardRouter } from '../../durable-objects/shard-router.js';
import { brokerConfig } from '../../durable-objects/config.js';
import type { MiddlewareHandler } from 'hono';
import { TENANT_NAME } from '../../core/tenancy/token.js';
import { publishBodyLimit, publishPacketSize } from './http-publish.js';
import { jsonBody, readJsonBody } from './json-body.js';
import { parseSessionCursor, sessionsPage } from './sessions-page.js';
import { forgetCachedLimits, forgetCachedToken } from '../token-cache.js';
import { parsePageLimit, RETAINED_PAGE_BYTES, RETAINED_PAGE_MAX } from './retained-page.js';

export const api = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

/** Tenant names the API does not create: the anonymous clients' tenant ("_registry" fails TENANT_NAME). */
const RESERVED_TENANTS: Readonly<Record<string, string>> = { default: 'the tenant of anonymous clients' };

/** The OpenAPI document, generated from the schemas below (public: it holds no data). */
api.get('/openapi.json', (c) => c.json(openApiDocument()));

/** Relay counters of the answering Worker isolate (frames relayed, PINGREQs answered, connections). */
api.get('/stats', requireAdmin, (c) => {
  return c.json({ relay: { ...relayCounters } });
});

/**
 * Creates a tenant and answers with its first master token (shown this once). `jurisdiction` (one of the
 * platform's, absent = global) fixes where all its objects live, for good: its directory entry is claimed
 * first, so a name can never be provisioned in two places.
 */
api.post('/tenants', requireAdmin, async (c) => {
  const body = (await jsonBody(c.req.raw)) as { name: string; limits?: TenantLimits; jurisdiction?: Jurisdiction | null };
  const problem = validate(tenantBodySchema, body);
  if (problem) throw jsonError(400, problem);
  const reserved = RESERVED_TENANTS[body.name];
  if (reserved) throw jsonError(400, `tenant name "${body.name}" is reserved (${reserved})`);
  const location: DataLocation = body.jurisdiction ?? null;
  const claim = await directoryStub(c.env, body.name).claimLocation(body.name, location);
  if (!claim.ok) throw jsonError(409, `tenant "${body.name}" already exists (data location ${describeLocation(claim.jurisdiction)})`);
  tenantLocations.learn(body.name, location);
  const result = await tenantStub(c.env, body.name).provision(body.name, body.limits ?? {});
  if (!result.created) throw jsonError(409, `tenant "${body.name}" already exists`);
  await tenantStub(c.env, REGISTRY_NAME).registerTenant(body.name, location);
  return c.json({ tenant: body.name, jurisdiction: location, masterToken: result.masterToken }, 201);
});

/** Tenant objects asked at once when the tenant list gathers their limits and token counts. */
const TENANTS_AT_ONCE = 32;

/**
 * Lists the tenants created through the API (admin only), each with its data location, limits and token
 * count: one call to each tenant's object per listing, at most TENANTS_AT_ONCE at a time (an admin's page,
 * not a hot path). The registry says where each lives, so the listing needs no directory lookups.
 */
api.get('/tenants', requireAdmin, async (c) => {
  const names = await tenantStub(c.env, REGISTRY_NAME).listTenants();
  const tenants: Array<{ name: string; createdAt: number; jurisdiction: DataLocation; limits: TenantLimits; tokens: number }> = [];
  for (const tenant of names) tenantLocations.learn(tenant.name, tenant.jurisdiction);
  for (let i = 0; i < names.length; i += TENANTS_AT_ONCE) {
    const batch = names.slice(i, i + TENANTS_AT_ONCE);
    const summaries = await Promise.all(batch.map((tenant) => tenantStub(c.env, tenant.name).summary()));
    batch.forEach((tenant, j) => tenants.push({ ...tenant, limits: summaries[j]!.limits, tokens: summaries[j]!.tokens }));
  }
  return c.json({ tenants });
});

/** One tenant's data location, limits and token count (admin only); 404 when it does not exist. */
api.get('/tenants/:tenant', requireAdmin, async (c) => {
  const tenant = c.req.param('tenant');
  if (!TENANT_NAME.test(tenant)) throw jsonError(400, 'tenant must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit');
  if (!(await knowTenantLocation(c.env, tenant))) throw jsonError(404, `no tenant "${tenant}"`);
  const summary = await tenantStub(c.env, tenant).summary();
  if (!summary.exists) throw jsonError(404, `no tenant "${tenant}"`);
  return c.json({ name: tenant, createdAt: summary.createdAt, jurisdiction: locationOf(tenant), limits: summary.limits, tokens: summary.tokens });
});

/** Changes a tenant's limits (admin only). */
api.put('/tenants/:tenant/limits', requireAdmin, async (c) => {
  const tenant = c.req.param('tenant');
  if (!TENANT_NAME.test(tenant)) throw jsonError(400, 'tenant must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit');
  const body = await jsonBody(c.req.raw);
  const problem = validate(tenantLimitsSchema, body);
  if (problem) throw jsonError(400, problem);
  if (!(await knowTenantLocation(c.env, tenant))) throw jsonError(404, `no tenant "${tenant}"`);
  const stub = tenantStub(c.env, tenant);
  if (!(await stub.tenantExists())) throw jsonError(404, `no tenant "${tenant}"`);
  const updated = await stub.updateLimits(body as TenantLimits);
  forgetCachedLimits(tenant);
  return c.json(updated);
});

const tenantRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
// Every tenant route needs a valid token of that tenant (or the admin secret); all but publish need a
// master token.
tenantRoutes.use('*', requireTenantToken);
const masterOnly: MiddlewareHandler<{ Bindings: Env; Variables: ApiVariables }> = async (c, next) => {
  if (c.get('caller') === 'token') throw jsonError(403, 'only a master token may use the admin API');
  await next();
};
for (const path of ['/tokens', '/tokens/*', '/sessions', '/sessions/*', '/stats', '/stats/*', '/events', '/retained', '/retained/*', '/bridges', '/bridges/*', '/rules', '/rules/*']) {
  tenantRoutes.use(path, masterOnly);
}

/**
 * HTTP publish with any token of the tenant, obeying its ACL, message size and publish rate. Body: { topic,
 * payload, encoding?: "utf8" | "base64", qos?: 0 | 1, retain?: boolean }. Answers once the message reached
 * its shard and, for QoS 1, every subscriber stored it. Too large (the body, the packet, the token's
 * maxMessageSize): 413. Past the token's publishRate: 429 with Retry-After (the admin has no rate).
 */
tenantRoutes.post('/publish', async (c) => {
  // The deployment's packet limit, already below what a Durable Object row holds (config.ts).
  const packetLimit = brokerConfig(c.env).maximumPacketSize;
  const bodyLimit = publishBodyLimit(packetLimit);
  const declared = c.req.header('Content-Length');
  if (declared !== undefined && Number(declared) > bodyLimit) throw jsonError(413, `the request body is larger than this broker's limit of ${bodyLimit} bytes`);
  const info = c.get('token');
  // Every publish request counts, as every PUBLISH packet does over MQTT, before its body is read.
  const rate = info?.limits.publishRate;
  if (info && rate !== undefined) {
    const allowance = await tenantStub(c.env, c.get('tenant')).takePublishAllowance(info.id, rate);
    if (!allowance.ok) {
      const seconds = Math.max(1, Math.ceil(allowance.retryAfterMs / 1000));
      throw jsonError(429, `this token may publish ${rate} messages per second`, { 'Retry-After': String(seconds) });
    }
  }
  const body = await readJsonBody(c.req.raw, bodyLimit);
  const problem = validate(publishBodySchema, body);
  if (problem) throw jsonError(400, problem);
  const { topic, payload = '', encoding = 'utf8', qos = 0, retain = false } = body as {
    topic: string;
    payload?: string;
    encoding?: 'utf8' | 'base64';
    qos?: 0 | 1;
    retain?: boolean;
  };
  let bytes: Uint8Array;
  try {
    bytes = encoding === 'base64' ? Uint8Array.from(atob(payload), (ch) => ch.charCodeAt(0)) : new TextEncoder().encode(payload);
  } catch {
    throw jsonError(400, 'payload is not valid base64');
  }
  // The same admission as an MQTT PUBLISH from this token ($ topics, ACL, size); the admin has no ACL.
  const token = info ? { id: info.id, acl: info.acl, limits: info.limits } : null;
  const admission = admitPublish({ topic, payload: bytes }, token, aclIdentity('', token));
  if (!admission.ok) throw jsonError(httpStatusOf(admission.reasonCode), admission.reason);
  // The deployment's packet limit, as an MQTT client's PUBLISH of the same message meets it (the admin too).
  if (publishPacketSize(topic, bytes.length, qos) > packetLimit) {
    throw jsonError(413, `the message is larger than this broker's maximum packet size of ${packetLimit} bytes`);
  }
  const tenant = c.get('tenant');
  const { shardCount } = brokerConfig(c.env);
  // The tenant's retained limit binds the admin too.
  const message = messageToRoute({ topic, payload: bytes, qos, retain }, `${tenant}\u0000http`, c.get('maxRetained'), Date.now(), shardCount, info?.id);
  let delivered: number;
  try {
    delivered = await new ShardRouter(c.env, tenant, shardCount).publishCounted(message);
  } catch (error) {
    // Not stored at every subscriber [DESIGN §3]: like a PUBLISH without PUBACK, the caller sends it again.
    console.warn('HTTP publish not delivered', { tenant, topic, error: String(error) });
    throw jsonError(503, 'the message was not stored at every subscriber; send it again');
  }
  return c.json({ delivered });
});

/** The HTTP answer to a refused publish. */
function httpStatusOf(reasonCode: number): 400 | 403 | 413 {
  if (reasonCode === ReasonCode.NotAuthorized) return 403;
  if (reasonCode === ReasonCode.QuotaExceeded) return 413;
  return 400;
}

/** Longest search string the list routes accept. */
const SEARCH_MAX = 256;

/** `?q=`: a search string, '' when absent; undefined when too long. */
function searchQuery(value: string | undefined): string | undefined {
  const q = (value ?? '').trim();
  return q.length <= SEARCH_MAX ? q : undefined;
}

/** The tokens, never their secrets; `?q=` keeps those whose name or id contains it (any case). */
tenantRoutes.get('/tokens', async (c) => {
  const q = searchQuery(c.req.query('q'));
  if (q === undefined) throw jsonError(400, `q must be at most ${SEARCH_MAX} characters`);
  const tokens = await tenantStub(c.env, c.get('tenant')).listTokens();
  const needle = q.toLowerCase();
  return c.json({ tokens: needle === '' ? tokens : tokens.filter((t) => t.name.toLowerCase().includes(needle) || t.id.includes(needle)) });
});

/** Tokens whose "last used" one call reads: the page a console shows, not the whole list. */
const LAST_USED_MAX_IDS = 100;
/** A token id as core/tenancy/token.ts shapes them. */
const TOKEN_ID = /^[a-z0-9]{12}$/;

/**
 * When each of `?ids=` (comma-separated, at most 100) last authenticated a CONNECT or an API call, to the
 * minute: { lastUsed: { id: ms | null } }. It lives in each token's own object, so this wakes those objects
 * and no others; the token list itself wakes none.
 */
tenantRoutes.get('/tokens/last-used', async (c) => {
  const ids = [...new Set((c.req.query('ids') ?? '').split(',').filter((id) => id !== ''))];
  if (ids.length === 0 || ids.length > LAST_USED_MAX_IDS || !ids.every((id) => TOKEN_ID.test(id))) {
    throw jsonError(400, `ids must be 1 to ${LAST_USED_MAX_IDS} token ids, comma-separated`);
  }
  const tenant = c.get('tenant');
  const used = await Promise.all(ids.map((id) => tokenStub(c.env, tenant, id).lastUsed()));
  return c.json({ lastUsed: Object.fromEntries(ids.map((id, i) => [id, used[i] ?? null])) });
});

tenantRoutes.post('/tokens', async (c) => {
  const checked = checkTokenInput(await jsonBody(c.req.raw));
  if (!checked.ok) throw jsonError(400, checked.error);
  const created = await tenantStub(c.env, c.get('tenant')).createToken(c.get('tenant'), checked.value);
  if (!created.ok) throw jsonError(403, created.error);
  return c.json({ token: created.token, info: created.info }, 201);
});

tenantRoutes.get('/tokens/:id', async (c) => {
  const token = await tenantStub(c.env, c.get('tenant')).getToken(c.req.param('id'));
  if (!token) throw jsonError(404, `no token "${c.req.param('id')}" in this tenant`);
  return c.json({ ...token, lastUsed: await tokenStub(c.env, c.get('tenant'), token.id).lastUsed() });
});

/**
 * A new secret for the token, answered once as the whole token string; the old one is refused from now on
 * (this isolate forgets its cached copy; others' copies live at most TOKEN_CACHE_TTL_MS). Live connections
 * keep running (tenant-do.ts rotateSecret).
 */
tenantRoutes.post('/tokens/:id/rotate', async (c) => {
  const tenant = c.get('tenant');
  const rotated = await tenantStub(c.env, tenant).rotateSecret(tenant, c.req.param('id'));
  forgetCachedToken(tenant, c.req.param('id'));
  if (!rotated) throw jsonError(404, `no token "${c.req.param('id')}" in this tenant`);
  return c.json(rotated);
});

tenantRoutes.patch('/tokens/:id', async (c) => {
  const checked = checkTokenInput(await jsonBody(c.req.raw));
  if (!checked.ok) throw jsonError(400, checked.error);
  const token = await tenantStub(c.env, c.get('tenant')).updateToken(c.req.param('id'), checked.value);
  forgetCachedToken(c.get('tenant'), c.req.param('id'));
  if (!token) throw jsonError(404, `no token "${c.req.param('id')}" in this tenant`);
  return c.json(token);
});

tenantRoutes.delete('/tokens/:id', async (c) => {
  const deleted = await tenantStub(c.env, c.get('tenant')).deleteToken(c.req.param('id'));
  forgetCachedToken(c.get('tenant'), c.req.param('id'));
  if (!deleted) throw jsonError(404, `no token "${c.req.param('id')}" in this tenant`);
  return c.body(null, 204);
});

tenantRoutes.get('/stats', async (c) => c.json(await tenantStub(c.env, c.get('tenant')).statistics()));

/**
 * Sessions, connected and offline, a page at a time from the presence buckets (`?limit=`, default 100, at
 * most 500; `?after=` the previous page's `next`; `?q=` only client ids containing it, case-sensitive).
 * Each entry carries its protocol version, keepalive, expiry interval and (offline) expiry as reported.
 * `?details=1` adds each listed session's subscriptions, queue depth, inflight count and counters, waking
 * those sessions (and only those).
 */
tenantRoutes.get('/sessions', async (c) => {
  const tenant = c.get('tenant');
  const limit = c.req.query('limit') === undefined ? 100 : Number(c.req.query('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw jsonError(400, 'limit must be an integer from 1 to 500');
  const { presenceBuckets } = brokerConfig(c.env);
  const after = c.req.query('after');
  const from = after === undefined || after === '' ? { bucket: 0, after: '' } : parseSessionCursor(after, presenceBuckets);
  if (!from) throw jsonError(400, 'after must be the "next" of a previous page');
  const q = searchQuery(c.req.query('q'));
  if (q === undefined) throw jsonError(400, `q must be at most ${SEARCH_MAX} characters`);
  const page = await sessionsPage(c.env, tenant, presenceBuckets, from, limit, q);
  if (c.req.query('details') !== '1') return c.json(page);
  const sessions = await Promise.all(
    page.sessions.map(async (entry) => {
      const details = await sessionStub(c.env, sessionName(tenant, entry.clientId)).describe();
      return {
        ...entry,
        connected: details?.connected ?? false,
        // The session's own record is newer than its last report (and fills in reports from before them).
        ...(details ? { protocolVersion: details.protocolVersion, sessionExpiryInterval: details.sessionExpiryInterval, expiresAt: details.expiresAt } : {}),
        subscriptions: details?.subscriptions ?? [],
        queued: details?.queued ?? 0,
        inflight: details?.inflight ?? 0,
        // Limits this session hit and messages it dropped (queue_dropped, acl_dropped, limit_subscriptions, …).
        counters: details?.counters ?? {},
      };
    }),
  );
  return c.json({ sessions, next: page.next });
});

/** Disconnects a session's client (5.0: DISCONNECT 0x98 Administrative action). */
tenantRoutes.delete('/sessions/:clientId', async (c) => {
  const kicked = await sessionStub(c.env, sessionName(c.get('tenant'), c.req.param('clientId'))).kick();
  if (!kicked) throw jsonError(404, `client "${c.req.param('clientId')}" is not connected`);
  return c.body(null, 204);
});

/**
 * Ends an offline session: its subscriptions leave the shards, its queued messages and pending will are
 * dropped, and it leaves the sessions list (core/session/discard.ts); the client's next CONNECT starts
 * afresh (session present 0). A connected session: 409, kick it first (DELETE /sessions/{clientId}).
 */
tenantRoutes.delete('/sessions/:clientId/state', async (c) => {
  const tenant = c.get('tenant');
  const clientId = c.req.param('clientId');
  const outcome = await sessionStub(c.env, sessionName(tenant, clientId)).discardState(tenant, clientId);
  if (outcome === 'connected') throw jsonError(409, `client "${clientId}" is connected: disconnect it first (DELETE /sessions/{clientId})`);
  if (outcome === 'none') throw jsonError(404, `no session "${clientId}" in this tenant`);
  return c.body(null, 204);
});

/**
 * One page of the retained messages matching `filter` (default `#`) in topic order, merged from the shards
 * that can hold them: `?limit=` (default 100, at most 1000) messages after the topic `?after=`, ending early
 * past 4 MiB of payload. `next` is the `after` of the following page, null on the last one.
 */
tenantRoutes.get('/retained', async (c) => {
  const filter = c.req.query('filter') ?? '#';
  if (!isValidTopicFilter(filter) || parseSharedSubscription(filter)) throw jsonError(400, 'filter must be a valid MQTT topic filter (not a shared one)');
  const limit = parsePageLimit(c.req.query('limit'));
  if (limit === undefined) throw jsonError(400, `limit must be an integer from 1 to ${RETAINED_PAGE_MAX}`);
  const after = c.req.query('after') ?? '';
  const tenant = c.get('tenant');
  const { messages, next } = await new ShardRouter(c.env, tenant, brokerConfig(c.env).shardCount).listRetained(filter, { after, limit, maxBytes: RETAINED_PAGE_BYTES });
  return c.json({
    messages: messages.map((message) => ({ topic: message.topic, qos: message.qos, bytes: message.payload.length, ...payloadForJson(message.payload) })),
    next,
  });
});

/** Deletes the retained message of `?topic=` (as an empty retained publish would). */
tenantRoutes.delete('/retained', async (c) => {
  const topic = c.req.query('topic') ?? '';
  if (!isValidTopicName(topic)) throw jsonError(400, 'topic must be a valid MQTT topic name');
  const deleted = await new ShardRouter(c.env, c.get('tenant'), brokerConfig(c.env).shardCount).deleteRetained(topic);
  if (!deleted) throw jsonError(404, `no retained message on "${topic}"`);
  return c.body(null, 204);
});

/** The event log and per-minute statistics (events-routes.ts). */
tenantRoutes.route('/', eventsRoutes);

/** Bridges to other brokers (bridge-routes.ts), master only. */
tenantRoutes.route('/bridges', bridgeRoutes);
/** Rules: messages out to webhooks and Queues (rule-routes.ts), master only. */
tenantRoutes.route('/rules', ruleRoutes);

/** "Test this ACL" (acl-routes.ts): master only, as it shows any token's ACL. */
tenantRoutes.use('/acl/*', masterOnly).route('/acl', aclRoutes);

api.route('/tenants/:tenant', tenantRoutes);

/** UTF-8 text when the payload is text, base64 otherwise. */
function payloadForJson(payload: Uint8Array): { payload: string; encoding: 'utf8' | 'base64' } {
  try {
    return { payload: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(payload), encoding: 'utf8' };
  } catch {
    let binary = '';
    for (const byte of payload) binary += String.fromCharCode(byte);
    return { payload: btoa(binary), encoding: 'base64' };
  }
}

api.notFound((c) => c.json({ error: `no route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

api.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  console.error('admin API error', String(error));
  return c.json({ error: 'internal error' }, 500);
});
