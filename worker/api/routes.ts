// The admin REST API under /api/v1 (JSON). Statistics for now; tenants, tokens and ACLs plug in here.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Env } from '../env.js';
import { relayCounters } from '../mqtt-relay.js';
import { requireAdmin } from './admin-auth.js';

export const api = new Hono<{ Bindings: Env }>();

api.use('*', requireAdmin);

/** Relay counters of the answering Worker isolate (frames relayed, PINGREQs answered, connections). */
api.get('/stats', (c) => c.json({ relay: { ...relayCounters } }));

api.notFound((c) => c.json({ error: `no route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

api.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  console.error('admin API error', String(error));
  return c.json({ error: 'internal error' }, 500);
});
