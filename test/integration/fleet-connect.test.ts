// Issue 11, the connect path of a fleet: no object shared by the whole tenant answers a CONNECT, presence is
// spread over buckets, and limits and revocation stay exact (leases, reservations, the second sweep).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { presenceBucketOf } from '../../core/tenancy/presence.js';
import { startBroker, type RunningBroker } from './broker.js';
import { connectClient, end, waitUntil } from './clients.js';
import { api, newTenant, newToken, presenceReported, refusedCode, tenantSessions } from './tenants.js';

const ADMIN = 'fleet-admin-secret';
const BUCKETS = 8;
let broker: RunningBroker;

beforeAll(async () => {
  broker = await startBroker({ vars: { ADMIN_TOKEN: ADMIN, ALLOW_ANONYMOUS: 'false', PRESENCE_BUCKETS: String(BUCKETS) } });
});
afterAll(async () => {
  await broker?.stop();
});

interface Counted {
  invocationCounts(): Promise<{ rpc: number; fetch: number; alarm: number; webSocketMessage: number }>;
}

async function requestsOf(binding: string, name: string): Promise<number> {
  const namespace = await broker.miniflare.getDurableObjectNamespace(binding);
  const counts = await (namespace.get(namespace.idFromName(name)) as unknown as Counted).invocationCounts();
  return counts.rpc + counts.fetch + counts.alarm + counts.webSocketMessage / 20;
}

/** Client ids that fall into distinct presence buckets, `count` of them. */
function idsInDistinctBuckets(prefix: string, count: number): string[] {
  const ids: string[] = [];
  const used = new Set<number>();
  for (let i = 0; ids.length < count; i++) {
    const bucket = presenceBucketOf(`${prefix}${i}`, BUCKETS);
    if (used.has(bucket)) continue;
    used.add(bucket);
    ids.push(`${prefix}${i}`);
  }
  return ids;
}

describe('the connect path of a fleet', () => {
  it('60 clients of one shared token connect with about one read per second of the tenant and token objects, not one per CONNECT', async () => {
    const master = await newTenant(broker, ADMIN, 'storm');
    const device = await newToken(broker, 'storm', master, { name: 'shared', acl: [{ filter: 'devices/#', rights: ['pub', 'sub'] }] });
    const tenantBefore = await requestsOf('TENANT', 'storm');
    const started = Date.now();
    const clients = await Promise.all(Array.from({ length: 60 }, (_, i) => connectClient(broker.mqttUrl, { clientId: `dev-${i}`, username: device.token, reconnectPeriod: 0 })));
    const tenantAfter = await requestsOf('TENANT', 'storm');
    // The isolate's cached copies (token, tenant limits) live TOKEN_CACHE_TTL_MS (1 s); concurrent misses share a read.
    const reads = Math.ceil((Date.now() - started) / 1000) + 1;
    const tokenObject = await requestsOf('TOKEN', `storm\u0000token\u0000${device.id}`);
    await Promise.all(clients.map((client) => end(client, true)));
    expect(tenantAfter - tenantBefore).toBeLessThanOrEqual(reads);
    // Plus one: the isolate tells the token's object it was used ("last used"), at most once a minute.
    expect(tokenObject).toBeLessThanOrEqual(reads + 1);
    await waitUntil(async () => (await tenantSessions(broker, 'storm', BUCKETS)).length === 0, { what: 'the clean sessions to end' });
  });

  it('the sessions API pages through the presence buckets without waking sessions; ?details=1 adds theirs', async () => {
    const master = await newTenant(broker, ADMIN, 'paged');
    const clients: MqttClient[] = [];
    for (let i = 0; i < 7; i++) clients.push(await connectClient(broker.mqttUrl, { clientId: `p-${i}`, username: master }));
    for (let i = 0; i < 7; i++) await presenceReported(broker, 'paged', `p-${i}`);
    const seen: string[] = [];
    let after = '';
    for (let pages = 0; pages < 10; pages++) {
      const page = await api(broker, 'GET', `/tenants/paged/sessions?limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`, master);
      expect(page.status).toBe(200);
      expect(page.json.sessions.length).toBeLessThanOrEqual(3);
      for (const session of page.json.sessions) expect(session).not.toHaveProperty('subscriptions');
      seen.push(...page.json.sessions.map((s: { clientId: string }) => s.clientId));
      if (page.json.next === null) break;
      after = page.json.next;
    }
    expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `p-${i}`).sort());
    const detailed = await api(broker, 'GET', '/tenants/paged/sessions?details=1&limit=500', master);
    expect(detailed.json.sessions.every((s: { connected: boolean; subscriptions: unknown[] }) => s.connected && Array.isArray(s.subscriptions))).toBe(true);
    expect((await api(broker, 'GET', '/tenants/paged/sessions?limit=0', master)).json).toEqual({ error: 'limit must be an integer from 1 to 500' });
    expect((await api(broker, 'GET', '/tenants/paged/sessions?after=nonsense', master)).json).toEqual({ error: 'after must be the "next" of a previous page' });
    await Promise.all(clients.map((client) => end(client, true)));
  });

  it('[M2] maxSessions stays exact across buckets: slots one bucket leased and freed are reclaimed for another', async () => {
    const master = await newTenant(broker, ADMIN, 'leases', { maxSessions: 2 });
    const [a, b, c] = idsInDistinctBuckets('lease-', 3) as [string, string, string];
    const first = await connectClient(broker.mqttUrl, { clientId: a, username: master, protocolVersion: 5 });
    const second = await connectClient(broker.mqttUrl, { clientId: b, username: master, protocolVersion: 5 });
    await presenceReported(broker, 'leases', a);
    await presenceReported(broker, 'leases', b);
    expect(await refusedCode(broker.mqttUrl, { clientId: c, username: master, protocolVersion: 5 })).toBe(0x97);
    // a's clean session ends: its bucket keeps the slot as spare, and c's bucket gets it back through the tenant.
    await end(first);
    await waitUntil(async () => !(await tenantSessions(broker, 'leases', BUCKETS)).some((s) => s.clientId === a), { what: `${a}'s session to end` });
    const third = await connectClient(broker.mqttUrl, { clientId: c, username: master, protocolVersion: 5 });
    await presenceReported(broker, 'leases', c);
    expect(await refusedCode(broker.mqttUrl, { clientId: a, username: master, protocolVersion: 5 })).toBe(0x97);
    await Promise.all([end(second, true), end(third, true)]);
  });

  it('[DESIGN §3] a client admitted from a Worker\'s cached token after the token was disabled is cut by the second sweep', async () => {
    const master = await newTenant(broker, ADMIN, 'sweep');
    const device = await newToken(broker, 'sweep', master, { name: 'device', acl: [{ filter: '#', rights: ['pub', 'sub'] }] });
    const warm = await connectClient(broker.mqttUrl, { clientId: 'warm', username: device.token, reconnectPeriod: 0 });
    // Disabled behind the Worker's back (as another isolate's API call would): this isolate still caches it.
    const namespace = await broker.miniflare.getDurableObjectNamespace('TENANT');
    const tenant = namespace.get(namespace.idFromName('sweep')) as unknown as { updateToken(id: string, input: { enabled: boolean }): Promise<unknown> };
    await tenant.updateToken(device.id, { enabled: false });
    const late = await connectClient(broker.mqttUrl, { clientId: 'late', username: device.token, reconnectPeriod: 0 }).catch(() => undefined);
    const closed = [warm, late].filter((client): client is MqttClient => client !== undefined);
    await waitUntil(async () => closed.every((client) => !client.connected), { what: 'both connections of the disabled token to close', timeoutMs: 8000 });
    expect(await refusedCode(broker.mqttUrl, { clientId: 'later', username: device.token })).toBe(5);
    await Promise.all(closed.map((client) => end(client, true)));
  });
});
