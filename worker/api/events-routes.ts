// The operator's view of a tenant over time: GET /tenants/:tenant/events (the event log, newest first, a page
// at a time, narrowed by client id, token or kind) and GET /tenants/:tenant/stats/history (per-minute counts
// for up to a day, and each token's usage over the window). Mounted under the tenant routes (routes.ts),
// master token or admin only.
//
//   GET /events?limit=50&clientId=d42&kind=connect,disconnect
//   → { "events": [{ "at": 1764460800123, "kind": "disconnect", "clientId": "d42", "tokenId": "k3x9…",
//        "message": "closed by the server: 0x8d Keep alive timeout", "reasonCode": 141, "id": "…" }],
//       "next": "1764460800123.3.17" }          ← ?before=next continues; null on the last page
import { Hono } from 'hono';
import { EVENT_KINDS, mergePages, parseCursor, shardBound, shardsToRead, type EventFilter, type EventKind } from '../../core/tenancy/event-log.js';
import { logStub } from '../../durable-objects/addresses.js';
import { brokerConfig } from '../../durable-objects/config.js';
import type { Env } from '../../durable-objects/env.js';
import { EVENT_PAGE_MAX } from '../../durable-objects/event-log-do.js';
import { tenantHistory } from '../../durable-objects/stats/tenant-history.js';
import { HISTORY_MINUTES } from '../../core/tenancy/event-log.js';
import { jsonError, type ApiVariables } from './tenant-auth.js';

export const eventsRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

eventsRoutes.get('/events', async (c) => {
  const limitText = c.req.query('limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > EVENT_PAGE_MAX) throw jsonError(400, `limit must be an integer from 1 to ${EVENT_PAGE_MAX}`);
  const before = c.req.query('before');
  const cursor = before === undefined || before === '' ? { at: Number.MAX_SAFE_INTEGER, shard: 0, seq: 0 } : parseCursor(before);
  if (!cursor) throw jsonError(400, 'before must be the "next" of a previous page');
  const filter: EventFilter = {};
  const clientId = c.req.query('clientId');
  const tokenId = c.req.query('tokenId');
  if (clientId) filter.clientId = clientId;
  if (tokenId) filter.tokenId = tokenId;
  const kind = c.req.query('kind');
  if (kind) {
    const kinds = kind.split(',').map((k) => k.trim()).filter(Boolean);
    const unknown = kinds.find((k) => !EVENT_KINDS.includes(k as EventKind));
    if (unknown !== undefined) throw jsonError(400, `kind must be a comma-separated list of ${EVENT_KINDS.join(', ')} (not "${unknown}")`);
    filter.kinds = kinds as EventKind[];
  }
  const tenant = c.get('tenant');
  const shards = brokerConfig(c.env).logShards;
  // A first page starts after every shard's newest event: the first bound admits everything.
  const first = before === undefined || before === '';
  const pages = await Promise.all(
    shardsToRead(filter, shards).map((shard) => {
      const bound = first ? { beforeAt: Number.MAX_SAFE_INTEGER, beforeSeq: Number.MAX_SAFE_INTEGER } : shardBound(cursor, shard);
      return logStub(c.env, tenant, shard).page(shard, { ...bound, limit, ...filter });
    }),
  );
  const { events, next } = mergePages(pages, limit);
  return c.json({ events: events.map(({ shard, seq, ...event }) => ({ ...event, id: `${event.at}.${shard}.${seq}` })), next });
});

eventsRoutes.get('/stats/history', async (c) => {
  const minutesText = c.req.query('minutes');
  const minutes = minutesText === undefined ? 60 : Number(minutesText);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > HISTORY_MINUTES) throw jsonError(400, `minutes must be an integer from 1 to ${HISTORY_MINUTES}`);
  const { points, tokens } = await tenantHistory(c.env, c.get('tenant'), minutes);
  return c.json({
    minutes: points.map(({ minute, counts }) => ({ at: minute * 60_000, ...counts })),
    tokens: Object.entries(tokens)
      .sort(([a, usageA], [b, usageB]) => (usageB.messages_in ?? 0) - (usageA.messages_in ?? 0) || a.localeCompare(b))
      .map(([tokenId, counts]) => ({ tokenId, ...counts })),
  });
});
