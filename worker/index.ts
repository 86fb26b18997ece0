// The Worker: hono routes for the MQTT WebSocket endpoint; everything else is the dashboard's assets.
import { Hono } from 'hono';
import { brokerConfig } from '../durable-objects/config.js';
import type { Env } from '../durable-objects/env.js';
import { MqttRelay } from './mqtt-relay.js';
import { api } from './api/routes.js';
import { securityHeaders } from './api/security-headers.js';

export { SessionDO } from '../durable-objects/session-do.js';
export { TopicShardDO } from '../durable-objects/topic-shard-do.js';
export { TenantDO } from '../durable-objects/tenant-do.js';
export { TokenDO } from '../durable-objects/token-do.js';
export { PresenceDO } from '../durable-objects/presence-do.js';
export { FanoutDO } from '../durable-objects/fanout-do.js';
export { CombinerDO } from '../durable-objects/combiner-do.js';
export { WildcardDO } from '../durable-objects/wildcard-do.js';
export { EventLogDO } from '../durable-objects/event-log-do.js';
export { BridgeDO } from '../durable-objects/bridge-do.js';
export { RuleDO } from '../durable-objects/rule-do.js';

/** WebSocket subprotocols MQTT clients offer [MQTT-6.0.0-3]; "mqttv3.1" is what older clients send. */
const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

const app = new Hono<{ Bindings: Env }>();

// The Worker's own responses; the dashboard's assets have dashboard/_headers.
for (const path of ['/mqtt', '/health', '/api/*']) app.use(path, securityHeaders);

app.get('/mqtt', (c) => {
  if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
    return c.json({ error: 'this endpoint speaks MQTT over WebSocket: send Upgrade: websocket' }, 426);
  }
  // A page on another site must not open connections with its visitors' browsers (anonymous mode above all):
  // browsers always send Origin; devices and servers send none and are not concerned. The dashboard's own
  // origin always passes.
  const origin = c.req.header('Origin');
  const { allowedOrigins } = brokerConfig(c.env);
  const ownOrigin = new URL(c.req.url).origin;
  if (origin !== undefined && origin !== ownOrigin && allowedOrigins !== null && !allowedOrigins.includes(origin)) {
    return c.json({ error: `origin ${origin} may not connect (ALLOWED_ORIGINS)` }, 403);
  }
  const offered = (c.req.header('Sec-WebSocket-Protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const protocol = offered.find((p) => MQTT_SUBPROTOCOLS.includes(p));
  if (offered.length > 0 && !protocol) {
    return c.json({ error: `unsupported WebSocket subprotocol; use one of: ${MQTT_SUBPROTOCOLS.join(', ')}` }, 400);
  }
  const pair = new WebSocketPair();
  const client = pair[0];
  const server = pair[1];
  server.accept();
  server.binaryType = 'arraybuffer';
  new MqttRelay(server, c.env, brokerConfig(c.env), c.req.header('CF-Connecting-IP'), (work) => c.executionCtx.waitUntil(work)).start();
  const headers: Record<string, string> = protocol ? { 'Sec-WebSocket-Protocol': protocol } : {};
  return new Response(null, { status: 101, webSocket: client, headers });
});

app.get('/health', (c) => c.json({ ok: true }));
app.route('/api/v1', api);

app.notFound(async (c) => {
  if (c.env.ASSETS) return c.env.ASSETS.fetch(c.req.raw);
  return c.json({ error: 'not found' }, 404);
});

export default app;
