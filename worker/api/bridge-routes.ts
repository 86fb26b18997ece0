// A tenant's bridges to other MQTT brokers (durable-objects/bridge-do.ts runs them):
//
//   GET    /tenants/:tenant/bridges          → { bridges: [BridgeView] }
//   POST   /tenants/:tenant/bridges          { name, url, topics, … }  → 201 BridgeView
//   GET    /tenants/:tenant/bridges/:name    → BridgeView
//   PUT    /tenants/:tenant/bridges/:name    the whole configuration; a missing password keeps the stored one
//   DELETE /tenants/:tenant/bridges/:name    → 204 (its sessions end too)
//
// A BridgeView never carries the password, only `passwordSet`. Mounted under the tenant routes (routes.ts),
// which authenticate the caller and let only the admin or a master token in (a bridge has all of the
// tenant's topics).
import { Hono } from 'hono';
import { BRIDGE_NAME, DEFAULT_KEEPALIVE, DEFAULT_MAX_HOPS, MAX_TOPIC_MAPPINGS, remoteUrlProblem, topicMappingProblem, type BridgeInput } from '../../core/bridge/config.js';
import { bridgesStub } from '../../durable-objects/addresses.js';
import type { Env } from '../../durable-objects/env.js';
import { jsonBody } from './json-body.js';
import { validate, type Schema } from './schema.js';
import { jsonError, type ApiVariables } from './tenant-auth.js';
import { wellFormed } from './token-input.js';

const topicMappingSchema: Schema = {
  type: 'object',
  required: ['pattern', 'direction'],
  check: (mapping: { pattern: string; localPrefix?: string; remotePrefix?: string }) => topicMappingProblem(mapping),
  properties: {
    pattern: { type: 'string', minLength: 1, maxLength: 1024, check: wellFormed, description: 'topic filter below the prefixes (+ and # allowed)' },
    direction: { type: 'string', enum: ['in', 'out', 'both'], description: 'out: local → remote; in: remote → local' },
    qos: { type: 'integer', enum: [0, 1], description: 'subscription QoS on the side messages come from; default 1' },
    localPrefix: { type: 'string', maxLength: 256, check: wellFormed, description: 'prepended to the pattern here; default ""' },
    remotePrefix: { type: 'string', maxLength: 256, check: wellFormed, description: 'prepended to the pattern at the remote; default ""' },
  },
};

export const bridgeInputSchema: Schema = {
  type: 'object',
  required: ['name', 'url', 'topics'],
  properties: {
    name: { type: 'string', pattern: BRIDGE_NAME.source, description: '1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit' },
    url: {
      type: 'string',
      maxLength: 512,
      check: (url: string) => remoteUrlProblem(url),
      description: 'mqtt://host:1883, mqtts://host:8883, ws://host/mqtt or wss://host/mqtt (no credentials in it)',
    },
    protocolVersion: { type: 'integer', enum: [4, 5], description: '4 = MQTT 3.1.1, 5 = MQTT 5.0 (default)' },
    clientId: { type: 'string', minLength: 1, maxLength: 128, check: wellFormed, description: 'client id at the remote; default edge-<tenant>-<name>' },
    username: { type: 'string', maxLength: 256, check: wellFormed },
    password: { type: 'string', maxLength: 1024, description: 'write-only: never answered (passwordSet says whether one is stored); "" removes it; omitted in a PUT keeps it' },
    keepAlive: { type: 'integer', minimum: 5, maximum: 3600, description: `seconds; default ${DEFAULT_KEEPALIVE}` },
    cleanStart: { type: 'boolean', description: 'default false: persistent sessions on both sides, so QoS 1 messages wait out a reconnect' },
    topics: { type: 'array', minItems: 1, maxItems: MAX_TOPIC_MAPPINGS, items: topicMappingSchema },
    enabled: { type: 'boolean', description: 'default true' },
    maxHops: { type: 'integer', minimum: 1, maximum: 8, description: `bridges a message may have crossed and still be bridged; default ${DEFAULT_MAX_HOPS} (only messages published in this tenant)` },
  },
};

export const bridgeRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

const stub = (c: { env: Env; get(key: 'tenant'): string }) => bridgesStub(c.env, c.get('tenant'));

function checkName(name: string): void {
  if (!BRIDGE_NAME.test(name)) throw jsonError(400, 'name must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit');
}

/** The validated body; a PUT may leave out the name (the path has it). */
async function bridgeInput(request: Request, name?: string): Promise<BridgeInput> {
  let body = await jsonBody(request);
  if (name !== undefined && typeof body === 'object' && body !== null && !Array.isArray(body) && !('name' in body)) body = { ...body, name };
  const problem = validate(bridgeInputSchema, body);
  if (problem) throw jsonError(400, problem);
  return body as BridgeInput;
}

bridgeRoutes.get('/', async (c) => c.json({ bridges: await stub(c).list(c.get('tenant')) }));

bridgeRoutes.post('/', async (c) => {
  const input = await bridgeInput(c.req.raw);
  const created = await stub(c).create(c.get('tenant'), input);
  if (!created.ok) throw jsonError(created.status, created.error);
  return c.json(created.bridge, 201);
});

bridgeRoutes.get('/:name', async (c) => {
  checkName(c.req.param('name'));
  const bridge = await stub(c).get(c.get('tenant'), c.req.param('name'));
  if (!bridge) throw jsonError(404, `no bridge "${c.req.param('name')}" in this tenant`);
  return c.json(bridge);
});

bridgeRoutes.put('/:name', async (c) => {
  const name = c.req.param('name');
  checkName(name);
  const input = await bridgeInput(c.req.raw, name);
  if (input.name !== name) throw jsonError(400, `body.name must be "${name}" (a bridge is renamed by creating a new one)`);
  const updated = await stub(c).update(c.get('tenant'), name, input);
  if (!updated.ok) throw jsonError(updated.status, updated.error);
  return c.json(updated.bridge);
});

bridgeRoutes.delete('/:name', async (c) => {
  checkName(c.req.param('name'));
  if (!(await stub(c).remove(c.get('tenant'), c.req.param('name')))) throw jsonError(404, `no bridge "${c.req.param('name')}" in this tenant`);
  return c.body(null, 204);
});
