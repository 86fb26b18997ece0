// "Test this ACL": POST /tenants/:tenant/acl/test answers what a token's ACL decides for one action and why,
// with the same evaluator the broker uses (core/acl), so an operator can check deny rules and their order.
//
//   { "tokenId": "k3x9…", "clientId": "d42", "action": "receive", "topic": "test/nosubscribe" }
//   → { "allowed": false, "entry": 0, "reason": "denied by deny sub \"test/nosubscribe\"", "clientIdAllowed": true }
//
// Mounted under the tenant routes (routes.ts), which authenticate the caller and admit only the admin or a
// master token: the answer shows another token's ACL.
import { Hono } from 'hono';
import { explainAcl, type AclAction } from '../../core/acl/acl.js';
import { clientIdAllowed } from '../../core/acl/client-id.js';
import { aclIdentity } from '../../core/session/admission.js';
import { isValidTopicFilter, isValidTopicName } from '../../core/topic/validate.js';
import { tenantStub } from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';
import { validate, type Schema } from './schema.js';
import { jsonBody } from './json-body.js';
import { jsonError, type ApiVariables } from './tenant-auth.js';
import { wellFormed } from './token-input.js';

export const aclTestBodySchema: Schema = {
  type: 'object',
  required: ['tokenId', 'action', 'topic'],
  properties: {
    tokenId: { type: 'string', minLength: 1, maxLength: 64, check: wellFormed, description: 'the token whose ACL is tested' },
    clientId: {
      type: 'string',
      maxLength: 65535,
      check: wellFormed,
      description: 'fills %c and is checked against the token\'s clientIds; absent = no client id (as an HTTP publish: %c entries do not apply)',
    },
    action: { type: 'string', enum: ['publish', 'subscribe', 'receive'], description: 'receive: may a message on the topic be delivered to this client' },
    topic: { type: 'string', minLength: 1, description: 'a topic name (publish, receive) or a topic filter, shared ones too (subscribe)' },
  },
};

interface AclTestBody {
  tokenId: string;
  clientId?: string;
  action: AclAction;
  topic: string;
}

export const aclRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

/** Answers { allowed, entry (index of the deciding entry, or null), reason, clientIdAllowed (null without a clientId) }. */
aclRoutes.post('/test', async (c) => {
  const body = await jsonBody(c.req.raw);
  const problem = validate(aclTestBodySchema, body);
  if (problem) throw jsonError(400, problem);
  const { tokenId, clientId, action, topic } = body as AclTestBody;
  if (action === 'subscribe' ? !isValidTopicFilter(topic) : !isValidTopicName(topic)) {
    throw jsonError(400, `body.topic must be a valid MQTT ${action === 'subscribe' ? 'topic filter' : 'topic name (no wildcards)'}`);
  }
  const token = await tenantStub(c.env, c.get('tenant')).getToken(tokenId);
  if (!token) throw jsonError(404, `no token "${tokenId}" in this tenant`);
  // The identity a CONNECT with this token and client id gets: %u is the token id.
  const identity = aclIdentity(clientId ?? '', { id: token.id, acl: token.acl, limits: token.limits });
  const decision = explainAcl(token.acl, identity, action, topic);
  return c.json({
    allowed: decision.allowed,
    entry: decision.entry ?? null,
    reason: decision.reason,
    clientIdAllowed: clientId === undefined ? null : clientIdAllowed(token.clientIds, clientId, token.id),
  });
});
